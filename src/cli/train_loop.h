/* The training loop behind `tril train` (src/cli/cmd_train.c sets it up):
 * steps, evaluation, progress, the CSV log, checkpoints, the final model;
 * on one rank or on the ranks of an MPI job (src/cli/train_dist.h). */
#ifndef TRIL_CLI_TRAIN_LOOP_H
#define TRIL_CLI_TRAIN_LOOP_H

#include <stdio.h>

#include "cli/train_dist.h"
#include "tril/checkpoint.h"
#include "tril/train.h"

typedef struct {
    const train_dist *dist;    /* this rank and how many there are */
    dist_exchange *exchange;   /* the gradient exchange over the shards */
    tril_gpt2 *model;          /* owned arena, updated in place; the same on every rank */
    const char *tok_dir;       /* where the GPT-2 tokenizer files are (NULL for bytes) */
    tril_dataset data;
    tril_trainer *trainer;     /* for batch x seq */
    tril_adamw opt;            /* the moments of [lo, hi), or of the whole arena (replicate) */
    tril_adamw_config opt_cfg;
    tril_train_state state;    /* args (accum: micro-batches per step of the whole job), step,
                                  rng, log */
    int64_t accum_local;       /* this rank's micro-batches per step: args.accum / ranks */
    int replicate;             /* every rank keeps and updates the whole optimizer */
    int64_t lo, hi;            /* this rank's shard of the arena (all of it for one rank) */
    float *grads;              /* [arena] one micro-batch's gradient; NULL when a step is one
                                  micro-batch (it is computed straight into total) */
    float *total;              /* the step's summed gradient: [hi - lo], or [arena] with the
                                  shard at lo when replicate */
    const char *out_dir;       /* rank 0 alone writes here */
    const char *log_path;
} train_run;

/* Runs steps state.step .. args.steps - 1 and saves the final model into
 * out_dir. Rank 0 prints progress on stderr and the summary on stdout.
 * Returns a CLI exit code (the same on every rank; a failure only one rank
 * sees ends the job: dist_fail). */
int train_loop(train_run *r);

#endif

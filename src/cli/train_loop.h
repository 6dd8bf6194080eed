/* The training loop behind `tril train` (src/cli/cmd_train.c sets it up):
 * steps, evaluation, progress, the CSV log, checkpoints, the final model. */
#ifndef TRIL_CLI_TRAIN_LOOP_H
#define TRIL_CLI_TRAIN_LOOP_H

#include <stdio.h>

#include "tril/checkpoint.h"
#include "tril/train.h"

typedef struct {
    tril_gpt2 *model;          /* owned arena, updated in place */
    const char *tok_dir;       /* where the GPT-2 tokenizer files are (NULL for bytes) */
    tril_dataset data;
    tril_trainer *trainer;     /* for batch x seq */
    tril_adamw opt;
    tril_adamw_config opt_cfg;
    tril_train_state state;    /* args, step, rng, log */
    float *grads;              /* [arena_numel] */
    const char *out_dir;
    const char *log_path;
} train_run;

/* Runs steps state.step .. args.steps - 1 and saves the final model into
 * out_dir. Prints progress on stderr and the summary on stdout. Returns a
 * CLI exit code. */
int train_loop(train_run *r);

#endif

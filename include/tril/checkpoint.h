/* tril/checkpoint.h - saving trained models and whole training runs.
 *
 * A model folder is what tril generate / eval / info load: config.json
 * (Hugging Face GPT-2 keys plus "tril_tokenizer": "gpt2" or "bytes"),
 * model.safetensors (F32, Hugging Face names in table order, no prefix) and,
 * for a GPT-2 tokenizer, copies of its files (vocab.json + merges.txt, or
 * tokenizer.json).
 *
 * A checkpoint folder is a model folder plus
 *   optimizer.safetensors  "m" and "v": the AdamW moments, flat F32 [arena
 *                          length]; __metadata__ "step", "n", "beta1",
 *                          "beta2", "eps", "weight_decay", "format"
 *   trainer_state.json     step, total steps, every argument of the run,
 *                          the data-order RNG state (4 x u64 as decimal
 *                          strings) and the loss log so far
 * so a run resumed from it continues bit-identically.
 *
 * Crash safety: every file is written to a temporary name, fsynced and
 * renamed. A checkpoint is built whole in DIR.tmp-<pid> (files and folder
 * fsynced) and only then renamed to DIR; an existing DIR is swapped out
 * atomically (renameat2 RENAME_EXCHANGE) or, where the file system cannot,
 * renamed aside to DIR.old-<pid> first and removed after. A crash therefore
 * leaves every checkpoint-N folder complete; at worst a stray DIR.tmp-<pid>
 * (or, in the fallback's short window, DIR.old-<pid>) remains, which
 * loading ignores and which may be deleted. tril_model_save writes into an
 * existing folder (the run's output folder, which also holds logs and
 * checkpoints) file by file, each atomically: the folder stays loadable. */
#ifndef TRIL_CHECKPOINT_H
#define TRIL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "tril/error.h"
#include "tril/gpt2.h"
#include "tril/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRIL_TRAIN_PATH_MAX 4096

/* Everything a training run was started with. */
typedef struct {
    char data_path[TRIL_TRAIN_PATH_MAX]; /* the text file */
    char init_dir[TRIL_TRAIN_PATH_MAX];  /* --init folder, "" from scratch */
    char tokenizer[16];                  /* "gpt2" or "bytes" */
    int64_t steps;                       /* total optimizer steps */
    int64_t batch, seq, accum;           /* B, T, micro-batches per step */
    int64_t warmup, eval_every, eval_batches, save_every;
    double lr, min_lr, weight_decay, clip, val_fraction;
    uint64_t seed;
    int causal;                /* 0: trained with the mask off */
    int64_t data_tokens;       /* tokens in the data file (0: unknown) */
    tril_gpt2_config model;    /* the model's shape */
} tril_train_args;

/* One line of the loss log (the CSV's columns). */
typedef struct {
    int64_t step;          /* optimizer steps done */
    double train_loss;
    double val_loss;       /* NaN when not evaluated at this step */
    double lr;
    double tokens_per_s;
} tril_train_log_row;

typedef struct {
    tril_train_log_row *rows;
    size_t count, cap;
} tril_train_log;

tril_status tril_train_log_append(tril_train_log *log, const tril_train_log_row *row);
void tril_train_log_free(tril_train_log *log);

/* The resumable state of a run besides the weights and the moments. */
typedef struct {
    tril_train_args args;
    int64_t step;        /* optimizer steps done */
    tril_rng rng;        /* the training-data stream after `step` steps */
    tril_train_log log;  /* rows for steps 1..step */
} tril_train_state;

/* Writes config.json, model.safetensors and the tokenizer's files into `dir`
 * (created if missing), each file atomically. tokenizer is "gpt2" or
 * "bytes"; tokenizer_dir is where the GPT-2 tokenizer files come from
 * (ignored for bytes). Refuses a model with a non-finite weight
 * (TRIL_ERR_RANGE). */
tril_status tril_model_save(const char *dir, const tril_gpt2 *model, const char *tokenizer,
                            const char *tokenizer_dir);

/* Writes a whole checkpoint folder crash-safely (see above). opt must cover
 * the whole arena (lo = 0). */
tril_status tril_checkpoint_save(const char *dir, const tril_gpt2 *model, const tril_adamw *opt,
                                 const tril_adamw_config *opt_cfg, const tril_train_state *state,
                                 const char *tokenizer_dir);

/* Restores a checkpoint: the model with an owned arena (*model, free with
 * tril_gpt2_free), the moments and step (*opt, created here; free with
 * tril_adamw_free) and the state (free its log with tril_train_log_free).
 * Errors: missing files (IO), moments or saved shapes that disagree with
 * the model, a malformed trainer_state.json (FORMAT, saying what). */
tril_status tril_checkpoint_load(const char *dir, tril_gpt2 **model, tril_adamw *opt,
                                 tril_train_state *state);
/* The same for rank `rank` of `world` in a distributed run: *opt holds the
 * moments of its shard only (tril_shard_range over the arena; only that
 * slice of optimizer.safetensors is read), so no rank needs the whole
 * optimizer. Rank 0 of 1 is tril_checkpoint_load. A checkpoint does not
 * depend on the number of ranks that wrote it: tril_checkpoint_save takes
 * the whole optimizer (a distributed run gathers the shards first). */
tril_status tril_checkpoint_load_shard(const char *dir, int rank, int world, tril_gpt2 **model,
                                       tril_adamw *opt, tril_train_state *state);

/* Tidies a run's output folder after a crash: for entries NAME.tmp-<pid>
 * and NAME.old-<pid> left by a process that no longer runs, a NAME.old-<pid>
 * folder whose NAME is missing (a crash inside the fallback swap) is
 * renamed back to NAME; every other such leftover is removed. Best effort;
 * returns the number of entries recovered or removed. */
int tril_checkpoint_cleanup(const char *out_dir);

/* The output folder of a run (src/train/run_dir.c).
 *
 * One run per folder: a run holds an exclusive flock(2) on DIR/.tril-train.lock
 * (which holds its pid, for the message a second run gets) from before its
 * first write to after its last. The kernel drops the lock when the process
 * ends however it ends, so a run killed with SIGKILL leaves no stale lock:
 * only a file that the next run locks again. */
typedef struct {
    int held;                           /* 1 while the lock is held */
    int fd;                             /* the lock file, open while held */
    char dir[TRIL_TRAIN_PATH_MAX];
    char path[TRIL_TRAIN_PATH_MAX + 32];
} tril_run_lock;

/* Takes DIR's lock without waiting (DIR must exist). When another process
 * holds it: TRIL_ERR_IO, "output folder DIR is in use by another tril train
 * (pid N)". */
tril_status tril_run_dir_lock(const char *dir, tril_run_lock *lock);
/* Releases the lock and removes its file; no-op when not held. */
void tril_run_dir_unlock(tril_run_lock *lock);
/* tril_checkpoint_cleanup for a folder whose lock this process holds: then
 * no other run writes there, so a leftover of a file tril writes
 * (checkpoint-N, config.json, model.safetensors, the tokenizer's files,
 * model.safetensors.tmp) is stale even when its pid has been reused by a
 * live process. 0 when the lock is not held. */
int tril_run_dir_cleanup(const tril_run_lock *lock);
/* The files of an earlier run in `dir`: config.json, model.safetensors,
 * log.csv, trainer_state.json, optimizer.safetensors and checkpoint-<N>.
 * Returns how many; `what` (may be NULL) gets their names, comma separated
 * ("..." when they do not fit). 0 for a missing folder. */
int tril_run_dir_earlier_run(const char *dir, char *what, size_t size);
/* Removes an earlier run's files from `dir` (for --overwrite): the files
 * above and the tokenizer's (vocab.json, merges.txt, tokenizer.json; kept
 * when keep_tokenizer, i.e. when they are the new run's source), and from
 * each checkpoint-<N> folder the files a checkpoint holds, then the folder.
 * Only plain files with those names are removed, never anything else: a
 * checkpoint folder that also holds other files stays and is named in
 * `kept`. `removed` gets the names removed. TRIL_ERR_IO when a removal
 * fails. */
tril_status tril_run_dir_clear(const char *dir, int keep_tokenizer, char *removed, size_t size,
                               char *kept, size_t kept_size);

/* trainer_state.json alone: encode to a malloc'd JSON string, or decode. */
tril_status tril_train_state_to_json(const tril_train_state *state, char **json);
tril_status tril_train_state_from_json(const char *json, const char *path,
                                       tril_train_state *state);

#ifdef __cplusplus
}
#endif
#endif

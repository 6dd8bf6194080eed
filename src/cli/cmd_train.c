/* tril train: train a GPT-2-family model on a text file, from scratch, from
 * a model folder (fine-tuning) or from a checkpoint (resume), in one process
 * or data-parallel on the ranks of an MPI job. This file reads the options
 * and sets the run up (rank 0 first, then the others); src/cli/train_loop.c
 * runs it. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/train_loop.h"
#include "tril/cpu.h"

#define CMD "train"

enum { O_LAYERS, O_HEADS, O_EMBD, O_CONTEXT, O_TOKENIZER, O_INIT, O_RESUME, O_DATA, O_OUT,
       O_STEPS, O_BATCH, O_SEQ, O_ACCUM, O_LR, O_MIN_LR, O_WARMUP, O_WD, O_CLIP, O_EVAL_EVERY,
       O_EVAL_BATCHES, O_SAVE_EVERY, O_VAL, O_MAX_FILE, O_SEED, O_NO_CAUSAL, O_LOG, O_THREADS,
       O_OVERWRITE, O_REPLICATE, O_COUNT };

typedef struct {
    int64_t layers, heads, embd, context, steps, batch, seq, accum, warmup, eval_every,
        eval_batches, save_every, seed;
    double lr, min_lr, wd, clip, val;
    const char *init, *resume, *data, *out, *log;
    int tokenizer; /* index into tokenizers */
    int no_causal, overwrite, threads, replicate;
    size_t max_file;
    int given[O_COUNT]; /* how often each option was given */
} opts;

static const char *const tokenizers[] = {"gpt2", "bytes", NULL};

#define F(field) CLI_FIELD(opts, field)
#define INT(lo, hi) CLI_ARG_INT, 0, .imin = (lo), .imax = (hi)
/* >= 0 and finite, unless said otherwise */
#define NUM(flags) CLI_ARG_DOUBLE, (flags), .dmin = 0, .dmax = DBL_MAX
static const cli_opt options[O_COUNT] = {
    [O_LAYERS] = {"--layers", "L", INT(1, 4096), F(layers), .section = "model (one of):",
                  .help = "layers of a new model, randomly initialised from\n"
                          "--seed (default 4)"},
    [O_HEADS] = {"--heads", "H", INT(1, 4096), F(heads), .help = "its heads (default 4)"},
    [O_EMBD] = {"--embd", "C", INT(1, 1 << 20), F(embd), .help = "its width (default 128)"},
    [O_CONTEXT] = {"--context", "N", INT(2, 1 << 24), F(context),
                   .help = "its context, in tokens (default 256)"},
    [O_TOKENIZER] = {"--tokenizer", NULL, CLI_ARG_CHOICE, 0, F(tokenizer), .choices = tokenizers,
                     .help = "its tokenizer (default bytes)"},
    [O_INIT] = {"--init", "DIR", CLI_ARG_PATH, 0, F(init),
                .help = "start from a model folder (fine-tuning; its tokenizer)"},
    [O_RESUME] = {"--resume", "CKPT", CLI_ARG_PATH, 0, F(resume),
                  .help = "continue a run from DIR/checkpoint-N: weights, optimizer,\n"
                          "data order and schedule restored, so the result equals\n"
                          "the uninterrupted run bit for bit. Only --steps, --out,\n"
                          "--log, --data (the same text moved), --eval-every,\n"
                          "--eval-batches, --save-every, --threads and\n"
                          "--max-file-mb may change; under MPI, the number of\n"
                          "processes N too, with N x --accum the run's micro-\n"
                          "batches per step."},
    [O_DATA] = {"--data", "FILE", CLI_ARG_PATH, 0, F(data), .section = "options:",
                .help = "the text to train on (required unless --resume)"},
    [O_OUT] = {"--out", "DIR", CLI_ARG_PATH, CLI_REQUIRED, F(out),
               .help = "the output folder: the model, log.csv, checkpoints"},
    [O_STEPS] = {"--steps", "N", INT(1, INT32_MAX), F(steps), .help = "optimizer steps (default 1000)"},
    [O_BATCH] = {"--batch", "B", INT(1, 1 << 20), F(batch),
                 .help = "sequences per micro-batch (default 8)"},
    [O_SEQ] = {"--seq", "T", INT(1, 1 << 24), F(seq),
               .help = "tokens per sequence, <= context (default min(context, 128))"},
    [O_ACCUM] = {"--accum", "K", INT(1, 1 << 20), F(accum),
                 .help = "micro-batches per step (default 1); under MPI per process:\n"
                         "N processes take N x K per step"},
    [O_LR] = {"--lr", "X", NUM(CLI_MIN_OPEN), F(lr), .help = "peak learning rate (default 1e-3)"},
    [O_MIN_LR] = {"--min-lr", "X", NUM(0), F(min_lr), .help = "final learning rate (default lr / 10)"},
    [O_WARMUP] = {"--warmup", "N", INT(0, INT32_MAX), F(warmup),
                  .help = "linear warm-up steps, at most --steps (default\n"
                          "min(100, steps / 10))"},
    [O_WD] = {"--weight-decay", "X", NUM(0), F(wd),
              .help = "AdamW decoupled weight decay on matrices (default 0.1)"},
    [O_CLIP] = {"--clip", "X", NUM(0), F(clip),
                .help = "clip the global gradient norm to X, 0 = off (default 1.0)"},
    [O_EVAL_EVERY] = {"--eval-every", "N", INT(0, INT32_MAX), F(eval_every),
                      .help = "validation loss every N steps, 0 = only at the end\n"
                              "(default 100)"},
    [O_EVAL_BATCHES] = {"--eval-batches", "N", INT(1, 1 << 20), F(eval_batches),
                        .help = "validation batches per evaluation (default 8)"},
    [O_SAVE_EVERY] = {"--save-every", "N", INT(0, INT32_MAX), F(save_every),
                      .help = "write DIR/checkpoint-<step> every N steps, 0 = never\n"
                              "(default 0)"},
    [O_VAL] = {"--val-fraction", "F", CLI_ARG_DOUBLE, CLI_MIN_OPEN, F(val), .dmin = 0, .dmax = 0.5,
               .help = "share of the tokens held out, in (0, 0.5] (default 0.1)"},
    [O_MAX_FILE] = {"--max-file-mb", "N", CLI_ARG_CUSTOM, 0, F(max_file), .custom = &cli_max_file_arg,
                    .help = "refuse a --data file larger than N MB (default " CLI_STR(CLI_MAX_FILE_MB) "); it\n"
                            "must be a regular file"},
    [O_SEED] = {"--seed", "S", INT(0, INT64_MAX), F(seed),
                .help = "initialisation and data-order seed (default 1337)"},
    [O_NO_CAUSAL] = {"--no-causal-mask", NULL, CLI_ARG_FLAG, 0, F(no_causal),
                     .help = "train with the mask off: every position sees the whole\n"
                             "sequence (the model learns to cheat; see tril leakcheck)"},
    [O_LOG] = {"--log", "FILE.csv", CLI_ARG_PATH, 0, F(log),
               .help = "loss log (default DIR/log.csv): step,train_loss,val_loss,\n"
                       "lr,tokens_per_s"},
    [O_THREADS] = {"--threads", "N", CLI_ARG_CUSTOM, 0, F(threads), .custom = &cli_threads_arg,
                   .help = "OpenMP threads (default: all cores)"},
    [O_OVERWRITE] = {"--overwrite", NULL, CLI_ARG_FLAG, 0, F(overwrite),
                     .help = "replace an earlier run in DIR: its model, log.csv and\n"
                             "checkpoint-N folders are removed before training (other\n"
                             "files are kept). Without it a new run refuses a DIR that\n"
                             "holds one; --resume continues a run in place."},
    [O_REPLICATE] = {"--replicate-optimizer", NULL, CLI_ARG_FLAG, 0, F(replicate),
                     .help = "under MPI: every process keeps the whole AdamW state and\n"
                             "updates every weight (as PyTorch DDP does) instead of\n"
                             "its 1/N shard (ZeRO-1, the default): the same bits,\n"
                             "8 bytes per parameter more on each process"},
};
#undef NUM
#undef INT
#undef F

const cli_spec cmd_train_spec = {
    CMD,
    "usage: tril train --data FILE --out DIR [model] [options]\n"
    "       tril train --resume CKPT --out DIR [options]   (--data: the run's)\n\n"
    "Trains a GPT-2-family model on a text file with AdamW, a warm-up + cosine\n"
    "learning rate and gradient clipping. The last --val-fraction of the file's\n"
    "tokens is held out for validation. The final model goes to DIR (a folder\n"
    "tril generate / eval / info load), the loss log to DIR/log.csv.\n",
    "One run per DIR at a time: a run locks DIR (DIR/.tril-train.lock) and a second\n"
    "one into the same DIR stops at once, naming the first's pid. Leftover\n"
    "*.tmp-PID / *.old-PID entries of interrupted runs are tidied when DIR is next\n"
    "used.\n\n"
    "The tokens of FILE are cached next to it as FILE.<tokenizer>.tokens.\n"
    "Prints progress on stderr, then peak memory, the time of a step split\n"
    "into compute, gradient exchange and optimizer, and one line\n"
    "  final step=N train_loss=X val_loss=Y tokens_per_s=Z\n\n"
    "Under MPI (mpirun -np N tril train ..., or srun) the N processes train one\n"
    "model data-parallel: the result is byte for byte that of one process with\n"
    "--accum N x K. Rank 0 alone prints and writes; every process must be given\n"
    "the same options (--threads may differ). See docs/DISTRIBUTED.md.\n",
    CLI_OPTS(options),
};

static int usage_error(const char *msg, const char *detail)
{
    train_errorf("%s%s (see 'tril train --help')", msg, detail ? detail : "");
    return CLI_USAGE;
}

/* With --resume, a flag that changes the run must agree with the checkpoint. */
static int conflicts(const opts *o, const tril_train_args *a)
{
    const struct { int k; double mine, saved; } checks[] = {
        {O_BATCH, (double)o->batch, (double)a->batch}, {O_SEQ, (double)o->seq, (double)a->seq},
        {O_WARMUP, (double)o->warmup, (double)a->warmup},
        {O_LAYERS, (double)o->layers, (double)a->model.n_layer},
        {O_HEADS, (double)o->heads, (double)a->model.n_head},
        {O_EMBD, (double)o->embd, (double)a->model.n_embd},
        {O_CONTEXT, (double)o->context, (double)a->model.n_positions},
        {O_LR, o->lr, a->lr}, {O_MIN_LR, o->min_lr, a->min_lr},
        {O_WD, o->wd, a->weight_decay}, {O_CLIP, o->clip, a->clip},
        {O_VAL, o->val, a->val_fraction},
    };
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        if (!o->given[checks[i].k] || checks[i].mine == checks[i].saved) continue;
        train_errorf("%s %.10g disagrees with the checkpoint (%.10g); a resumed run keeps its "
                     "shapes and settings",
                     options[checks[i].k].name, checks[i].mine, checks[i].saved);
        return CLI_USAGE;
    }
    if (o->given[O_SEED] && (uint64_t)o->seed != a->seed) {
        train_errorf("--seed %lld disagrees with the checkpoint (%llu)", (long long)o->seed,
                     (unsigned long long)a->seed);
        return CLI_USAGE;
    }
    if (o->given[O_TOKENIZER] && strcmp(tokenizers[o->tokenizer], a->tokenizer) != 0) {
        train_errorf("--tokenizer %s disagrees with the checkpoint (%s)", tokenizers[o->tokenizer],
                     a->tokenizer);
        return CLI_USAGE;
    }
    if (o->given[O_NO_CAUSAL] && a->causal) {
        train_errorf("--no-causal-mask disagrees with the checkpoint (trained with the causal "
                     "mask)");
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* mkdir -p, then a probe file: the output folder must be writable before an
 * hour of training, not after. */
static int prepare_out(const char *dir)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s", dir) >= sizeof path - 32)
        return usage_error("--out path too long", NULL);
    for (char *p = path + 1;; p++) {
        char c = *p;
        if (c != '/' && c != '\0') continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            train_errorf("cannot create the output folder '%s': %s", path, strerror(errno));
            return CLI_FAIL;
        }
        *p = c;
        if (!c) break;
    }
    snprintf(path, sizeof path, "%s/.tril-write-test-%ld", dir, (long)getpid());
    FILE *f = fopen(path, "w");
    if (!f || fclose(f) != 0) {
        train_errorf("the output folder '%s' is not writable: %s", dir, strerror(errno));
        return CLI_FAIL;
    }
    unlink(path);
    return CLI_OK;
}

/* One run per output folder: lock it (a second run stops here, before any
 * work), tidy what interrupted runs left, and refuse a new run into a
 * folder that holds another run's files unless --overwrite. */
static int claim_out(const opts *o, tril_run_lock *lock)
{
    const char *dir = o->out;
    if (tril_run_dir_lock(dir, lock) != TRIL_OK) return train_lib_error("cannot use --out");
    int tidied = tril_run_dir_cleanup(lock);
    if (tidied > 0)
        fprintf(stderr, "tidied %d leftover(s) of an interrupted run in '%s'\n", tidied, dir);
    char what[512];
    if (!o->given[O_RESUME] && !o->given[O_OVERWRITE] &&
        tril_run_dir_earlier_run(dir, what, sizeof what) > 0) {
        train_errorf("the output folder '%s' holds an earlier run (%s): give --overwrite to "
                     "replace it, --resume %s/checkpoint-N to continue it, or another --out",
                     dir, what, dir);
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* --overwrite, once the new run is set up: the earlier run's files go (its
 * later checkpoints would otherwise sit beside the new run's). The
 * tokenizer's files stay when they are the new run's source (--init DIR). */
static int clear_out(const char *dir, const char *tok_dir)
{
    struct stat a, b;
    const int keep = tok_dir && stat(tok_dir, &a) == 0 && stat(dir, &b) == 0 &&
                     a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    char removed[512], kept[256];
    if (tril_run_dir_clear(dir, keep, removed, sizeof removed, kept, sizeof kept) != TRIL_OK)
        return train_lib_error("--overwrite cannot remove the earlier run");
    if (removed[0]) fprintf(stderr, "--overwrite: removed %s from '%s'\n", removed, dir);
    if (kept[0])
        fprintf(stderr, "--overwrite: kept %s (they hold files tril did not write)\n", kept);
    return CLI_OK;
}

/* Applies defaults and builds the model for a new run (scratch or --init). */
static int new_run(const opts *o, train_run *r, tril_tokenizer **tok, char *tok_dir, size_t size)
{
    tril_train_args *a = &r->state.args;
    const char *tname = o->given[O_TOKENIZER] ? tokenizers[o->tokenizer] : "bytes";
    if (o->given[O_INIT]) {
        tril_gpt2_load_opts lo = {.copy_to_arena = 1, .weight_dtype = TRIL_F32};
        if (tril_gpt2_load(o->init, &lo, &r->model) != TRIL_OK)
            return train_lib_error("cannot load the --init model");
        int rc = cli_load_tokenizer(CMD, o->init, tril_gpt2_get_config(r->model)->vocab_size, tok);
        if (rc != CLI_OK) return rc;
        tname = tril_tokenizer_get_kind(*tok) == TRIL_TOKENIZER_GPT2 ? "gpt2" : "bytes";
        snprintf(tok_dir, size, "%s", o->init);
        snprintf(a->init_dir, sizeof a->init_dir, "%s", o->init);
    } else {
        tril_gpt2_config c = {.n_layer = o->given[O_LAYERS] ? o->layers : 4,
                              .n_head = o->given[O_HEADS] ? o->heads : 4,
                              .n_embd = o->given[O_EMBD] ? o->embd : 128,
                              .n_positions = o->given[O_CONTEXT] ? o->context : 256,
                              .vocab_size = strcmp(tname, "gpt2") == 0 ? 50257 : 256,
                              .layer_norm_epsilon = 1e-5f};
        if (tril_gpt2_config_validate(&c) != TRIL_OK) {
            train_errorf("bad model shape: %s", tril_last_error());
            return CLI_USAGE;
        }
        tril_status st;
        if (strcmp(tname, "gpt2") == 0) {
            char v[PATH_MAX + 16], m[PATH_MAX + 16];
            if (cli_gpt2_tokenizer_dir(tok_dir, size) != TRIL_OK)
                return train_lib_error("no GPT-2 tokenizer");
            snprintf(v, sizeof v, "%s/vocab.json", tok_dir);
            snprintf(m, sizeof m, "%s/merges.txt", tok_dir);
            st = tril_tokenizer_load_gpt2(v, m, tok);
        } else {
            st = tril_tokenizer_create_bytes(tok);
        }
        if (st != TRIL_OK) return train_lib_error("cannot load the tokenizer");
        if (tril_gpt2_create(&c, &r->model) != TRIL_OK) return train_lib_error("cannot create the model");
    }
    snprintf(a->tokenizer, sizeof a->tokenizer, "%s", tname);
    a->model = *tril_gpt2_get_config(r->model);
    a->steps = o->given[O_STEPS] ? o->steps : 1000;
    a->batch = o->given[O_BATCH] ? o->batch : 8;
    a->seq = o->given[O_SEQ] ? o->seq : (a->model.n_positions < 128 ? a->model.n_positions : 128);
    /* the micro-batches of a step of the whole job */
    a->accum = (o->given[O_ACCUM] ? o->accum : 1) * r->dist->size;
    a->warmup = o->given[O_WARMUP] ? o->warmup : (a->steps / 10 < 100 ? a->steps / 10 : 100);
    a->lr = o->given[O_LR] ? o->lr : 1e-3;
    a->min_lr = o->given[O_MIN_LR] ? o->min_lr : a->lr / 10;
    a->weight_decay = o->given[O_WD] ? o->wd : 0.1;
    a->clip = o->given[O_CLIP] ? o->clip : 1.0;
    a->val_fraction = o->given[O_VAL] ? o->val : 0.1;
    a->seed = o->given[O_SEED] ? (uint64_t)o->seed : 1337;
    a->causal = !o->given[O_NO_CAUSAL];
    if (!o->given[O_INIT] && tril_gpt2_init_random(r->model, a->seed) != TRIL_OK)
        return train_lib_error("cannot initialise the model");
    tril_rng_seed(&r->state.rng, a->seed);
    return CLI_OK;
}

/* The micro-batches of a resumed run's step, a->accum, shared by the ranks:
 * any number of ranks N with N x --accum equal to it. */
static int resume_accum(const opts *o, const tril_train_args *a, int ranks)
{
    const long long M = (long long)a->accum, N = ranks, K = (long long)o->accum;
    if (o->given[O_ACCUM] && K * N != M) {
        if (N == 1)
            train_errorf("--accum %lld disagrees with the checkpoint (%lld); a resumed run keeps "
                         "its micro-batches per step", K, M);
        else if (M % N == 0)
            train_errorf("--accum %lld on %lld processes makes %lld micro-batches per step, but "
                         "the checkpoint's run takes %lld: give --accum %lld", K, N, K * N, M, M / N);
        else
            train_errorf("--accum %lld on %lld processes makes %lld micro-batches per step, but "
                         "the checkpoint's run takes %lld, which %lld processes cannot share: run "
                         "on a number of processes that divides %lld", K, N, K * N, M, N, M);
        return CLI_USAGE;
    }
    if (M % N != 0) {
        train_errorf("the checkpoint's run takes %lld micro-batches per step, which %lld processes "
                     "cannot share: run on a number of processes that divides %lld", M, N, M);
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int resume_run(const opts *o, train_run *r, tril_tokenizer **tok, char *tok_dir, size_t size)
{
    /* each rank reads the moments of its own shard (all of them when replicated) */
    const int sharded = r->dist->size > 1 && !o->replicate;
    if (tril_checkpoint_load_shard(o->resume, sharded ? r->dist->rank : 0, sharded ? r->dist->size : 1,
                                   &r->model, &r->opt, &r->state) != TRIL_OK)
        return train_lib_error("cannot resume");
    tril_train_args *a = &r->state.args;
    int rc = conflicts(o, a);
    if (rc == CLI_OK) rc = resume_accum(o, a, r->dist->size);
    if (rc != CLI_OK) return rc;
    if (o->given[O_STEPS]) {
        if (o->steps < r->state.step) {
            train_errorf("--steps %lld is before the checkpoint's step %lld", (long long)o->steps,
                         (long long)r->state.step);
            return CLI_USAGE;
        }
        a->steps = o->steps;
    }
    if (a->warmup > a->steps) {
        train_errorf("--steps %lld is shorter than the run's warm-up (%lld steps): the peak "
                     "learning rate would never be reached", (long long)a->steps, (long long)a->warmup);
        return CLI_USAGE;
    }
    if (o->given[O_EVAL_EVERY]) a->eval_every = o->eval_every;
    if (o->given[O_EVAL_BATCHES]) a->eval_batches = o->eval_batches;
    if (o->given[O_SAVE_EVERY]) a->save_every = o->save_every;
    if (o->given[O_DATA]) snprintf(a->data_path, sizeof a->data_path, "%s", o->data);
    snprintf(tok_dir, size, "%s", o->resume); /* a checkpoint holds its tokenizer's files */
    if (strcmp(a->tokenizer, "gpt2") == 0) {
        if (tril_tokenizer_load_dir(tok_dir, tok) != TRIL_OK)
            return train_lib_error("cannot load the checkpoint's tokenizer");
    } else if (tril_tokenizer_create_bytes(tok) != TRIL_OK) {
        return train_lib_error("cannot create the tokenizer");
    }
    if (r->dist->rank == 0)
        fprintf(stderr, "resuming %s at step %lld of %lld\n", o->resume, (long long)r->state.step,
                (long long)a->steps);
    return CLI_OK;
}

/* ---- the ranks' start-up ------------------------------------------------- */

/* The options every rank must share, one "name\tvalue\n" per given option
 * (--threads aside: the machines of a job may differ in cores). NULL out
 * of memory. */
static char *settings_text(const opts *o)
{
    size_t len = 0, cap = 1024;
    char *text = malloc(cap), value[TRIL_TRAIN_PATH_MAX + 64];
    if (!text) return NULL;
    text[0] = '\0';
    for (int k = 0; k < O_COUNT; k++) {
        if (k == O_THREADS || !o->given[k]) continue;
        cli_option_value(&options[k], o, value, sizeof value);
        const size_t need = strlen(options[k].name) + strlen(value) + 3;
        if (len + need > cap) {
            char *grown = realloc(text, cap = 2 * (len + need));
            if (!grown) {
                free(text);
                return NULL;
            }
            text = grown;
        }
        len += (size_t)snprintf(text + len, cap - len, "%s\t%s\n", options[k].name, value);
    }
    return text;
}

/* The value of option `name` in a settings text ("" for a flag's 1), or
 * NULL when it was not given; copied into buf. */
static const char *setting(const char *text, const char *name, char *buf, size_t size)
{
    const size_t n = strlen(name);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        if (strncmp(line, name, n) == 0 && line[n] == '\t') {
            snprintf(buf, size, "%.*s", (int)(end - line - n - 1), line + n + 1);
            return buf;
        }
        line = *end ? end + 1 : end;
    }
    return NULL;
}

/* Every rank parses its own command line, rank 0 first: a bad one is
 * reported once, by rank 0, unless rank 0's is fine and another's is not
 * (then the processes were started with different options). */
static int parse_options(const train_dist *d, int argc, char **argv, opts *o)
{
    int rc = d->rank == 0 ? cli_parse(&cmd_train_spec, argc, argv, o, o->given) : CLI_OK;
    if ((rc = dist_bcast_int(d, rc)) != CLI_OK) return rc;
    if (d->rank != 0 && (rc = cli_parse(&cmd_train_spec, argc, argv, o, o->given)) != CLI_OK)
        train_errorf("its options do not parse but rank 0's do: every process must be given the "
                     "same options");
    return dist_agree(d, rc);
}

/* Rank 0 sends its settings and the others compare theirs: a job whose
 * processes were given different options stops before any work, naming
 * the first that differs. */
static int same_settings(const train_dist *d, const opts *o)
{
    if (d->size == 1) return CLI_OK;
    char *mine = settings_text(o), *root = d->rank == 0 ? mine : NULL;
    if (!mine) train_errorf("out of memory");
    int rc = dist_agree(d, mine ? CLI_OK : CLI_FAIL);
    if (rc == CLI_OK && dist_bcast_text(d, &root) != 0) rc = CLI_FAIL;
    for (int k = 0; rc == CLI_OK && d->rank != 0 && k < O_COUNT; k++) {
        char a[TRIL_TRAIN_PATH_MAX + 64], b[TRIL_TRAIN_PATH_MAX + 64];
        const char *here = setting(mine, options[k].name, a, sizeof a);
        const char *there = setting(root, options[k].name, b, sizeof b);
        if (k == O_THREADS || (!here && !there) || (here && there && strcmp(here, there) == 0))
            continue;
        if (options[k].type == CLI_ARG_FLAG)
            train_errorf("%s is given %s: every process must be given the same options",
                         options[k].name, here ? "here but not on rank 0" : "on rank 0 but not here");
        else
            train_errorf("%s is %s here but %s on rank 0: every process must be given the same "
                         "options", options[k].name, here ? here : "not given",
                         there ? there : "not given");
        rc = CLI_USAGE;
    }
    if (d->rank != 0) free(root);
    free(mine);
    return dist_agree(d, rc);
}

/* Usage errors that need no file: rank 0 checks them before it touches the
 * output folder. */
static int check_options(const opts *o)
{
    if (!o->given[O_DATA] && !o->given[O_RESUME]) return usage_error("--data is required", NULL);
    if (o->given[O_INIT] && o->given[O_RESUME])
        return usage_error("--init and --resume exclude each other", NULL);
    if (o->given[O_OVERWRITE] && o->given[O_RESUME])
        return usage_error("--overwrite and --resume exclude each other (a resumed run continues "
                           "in its folder)", NULL);
    const int shape_flags = o->given[O_LAYERS] || o->given[O_HEADS] || o->given[O_EMBD] ||
                            o->given[O_CONTEXT] || o->given[O_TOKENIZER];
    if (o->given[O_INIT] && shape_flags)
        return usage_error("--init takes the model's shape and tokenizer from its folder: drop "
                           "--layers/--heads/--embd/--context/--tokenizer", NULL);
    if (!o->given[O_RESUME] && o->given[O_WARMUP] &&
        o->warmup > (o->given[O_STEPS] ? o->steps : 1000)) {
        train_errorf("--warmup %lld is longer than the run (%lld steps): the peak learning rate "
                     "would never be reached",
                     (long long)o->warmup, (long long)(o->given[O_STEPS] ? o->steps : 1000));
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* The model, optimizer state, data and trainer of this rank. Rank 0 runs
 * it first (and writes the data's token cache); the others after, reading
 * that cache. */
static int setup_run(const opts *o, train_run *r, tril_tokenizer **tok, char *tok_dir,
                     size_t size)
{
    const int root = r->dist->rank == 0;
    int rc = o->given[O_RESUME] ? resume_run(o, r, tok, tok_dir, size)
                                : new_run(o, r, tok, tok_dir, size);
    if (rc != CLI_OK) return rc;
    tril_train_args *a = &r->state.args;
    if (!o->given[O_RESUME]) {
        snprintf(a->data_path, sizeof a->data_path, "%s", o->data);
        a->eval_every = o->given[O_EVAL_EVERY] ? o->eval_every : 100;
        a->eval_batches = o->given[O_EVAL_BATCHES] ? o->eval_batches : 8;
        a->save_every = o->given[O_SAVE_EVERY] ? o->save_every : 0;
    }
    r->opt_cfg.weight_decay = (float)a->weight_decay;
    r->tok_dir = strcmp(a->tokenizer, "gpt2") == 0 ? tok_dir : NULL;
    if (a->seq > a->model.n_positions) {
        train_errorf("--seq %lld is longer than the model's context (%lld)", (long long)a->seq,
                     (long long)a->model.n_positions);
        return CLI_USAGE;
    }
    const uint64_t max_bytes = o->max_file;
    const tril_status dst = tril_dataset_load_capped(a->data_path, *tok, a->tokenizer,
                                                     a->val_fraction, a->seq + 1, max_bytes, &r->data);
    if (dst != TRIL_OK)
        return dst == TRIL_ERR_RANGE ? cli_input_error(CMD, dst)
                                     : train_lib_error("cannot use the training data");
    if (root && o->given[O_RESUME] && a->data_tokens && a->data_tokens != r->data.n)
        train_errorf("warning: the data has %lld tokens but the checkpoint's run had %lld: the "
                     "data order will not match the original run",
                     (long long)r->data.n, (long long)a->data_tokens);
    a->data_tokens = r->data.n;
    if (r->data.vocab > a->model.vocab_size) {
        train_errorf("the tokenizer has %lld ids but the model only %lld", (long long)r->data.vocab,
                     (long long)a->model.vocab_size);
        return CLI_FAIL;
    }
    if (tril_trainer_create(r->model, a->batch, a->seq, a->causal, &r->trainer) != TRIL_OK)
        return train_lib_error("cannot set up training");
    return CLI_OK;
}

/* Rank 0's part: the options, the output folder (made, locked, tidied), its
 * run, the announcement, and --overwrite's clearing once all is set. */
static int setup_root(const opts *o, train_run *r, tril_run_lock *lock, tril_tokenizer **tok,
                      char *tok_dir, size_t size)
{
    int rc = check_options(o);
    if (rc == CLI_OK) rc = prepare_out(o->out);
    if (rc == CLI_OK) rc = claim_out(o, lock);
    if (rc == CLI_OK) rc = setup_run(o, r, tok, tok_dir, size);
    if (rc != CLI_OK) return rc;
    const tril_train_args *a = &r->state.args;
    char ranks[64] = "";
    if (r->dist->size > 1)
        snprintf(ranks, sizeof ranks, " on %d processes (%lld each)", r->dist->size,
                 (long long)(a->accum / r->dist->size));
    fprintf(stderr, "model: %lld layers, %lld heads, %lld embd, context %lld, vocab %lld "
                    "(%.2fM parameters)%s\ndata: %lld tokens (%lld train, %lld validation); "
                    "batch %lld x %lld x %lld accum%s, %lld steps\n",
            (long long)a->model.n_layer, (long long)a->model.n_head, (long long)a->model.n_embd,
            (long long)a->model.n_positions, (long long)a->model.vocab_size,
            (double)tril_gpt2_num_params(&a->model) / 1e6, a->causal ? "" : ", NO causal mask",
            (long long)r->data.n, (long long)r->data.n_train, (long long)(r->data.n - r->data.n_train),
            (long long)a->batch, (long long)a->seq, (long long)a->accum, ranks, (long long)a->steps);
    if (o->given[O_OVERWRITE]) rc = clear_out(r->out_dir, r->tok_dir);
    return rc;
}

/* Once every rank has its run: the shards, the optimizer of a new run, the
 * gradient buffers, and proof that every rank starts from rank 0's weights
 * and data (a machine with another copy of --init, the checkpoint or the
 * text would train something else). */
static int setup_shards(train_run *r, int resumed)
{
    const train_dist *d = r->dist;
    const tril_train_args *a = &r->state.args;
    const int64_t n = tril_gpt2_num_params(&a->model);
    int rc = dist_exchange_create(d, n, &r->exchange, &r->lo, &r->hi);
    if ((rc = dist_agree(d, rc)) != CLI_OK) return rc;
    r->accum_local = a->accum / d->size;
    const int whole = d->size == 1 || r->replicate; /* the optimizer covers the whole arena */
    if (!resumed && (whole ? tril_adamw_create(n, &r->opt)
                           : tril_adamw_create_shard(r->lo, r->hi - r->lo, &r->opt)) != TRIL_OK)
        rc = train_lib_error("cannot create the optimizer");
    /* a resumed rank read the moments of the same shard (tril_shard_range) */
    if (rc == CLI_OK && (whole ? r->opt.lo != 0 || r->opt.n != n
                               : r->opt.lo != r->lo || r->opt.n != r->hi - r->lo)) {
        train_errorf("its optimizer state covers [%lld, %lld) of the weights, not its shard",
                     (long long)r->opt.lo, (long long)(r->opt.lo + r->opt.n));
        rc = CLI_FAIL;
    }
    const int64_t total = whole ? n : (r->hi > r->lo ? r->hi - r->lo : 1);
    r->total = malloc((size_t)total * sizeof *r->total);
    r->grads = a->accum > 1 ? malloc((size_t)n * sizeof *r->grads) : NULL;
    if (rc == CLI_OK && (!r->total || (a->accum > 1 && !r->grads))) {
        train_errorf("out of memory for the gradients");
        rc = CLI_FAIL;
    }
    if ((rc = dist_agree(d, rc)) != CLI_OK) return rc;
    float *params = NULL;
    int64_t n_arena = 0;
    if (tril_gpt2_get_arena(r->model, &params, &n_arena) != TRIL_OK)
        return dist_fail(d, train_lib_error("cannot train this model"));
    if (!dist_same_as_root(d, params, (size_t)n_arena * sizeof *params)) {
        train_errorf("its starting weights differ from rank 0's: every process must read the same "
                     "--init folder or checkpoint");
        rc = CLI_FAIL;
    }
    if (!dist_same_as_root(d, r->data.tokens, (size_t)r->data.n * sizeof *r->data.tokens)) {
        train_errorf("its tokens of '%s' differ from rank 0's: every process must read the same "
                     "text", a->data_path);
        rc = CLI_FAIL;
    }
    return dist_agree(d, rc);
}

static void free_run(train_run *r)
{
    free(r->grads);
    free(r->total);
    dist_exchange_free(r->exchange);
    tril_trainer_free(r->trainer);
    tril_dataset_free(&r->data);
    tril_adamw_free(&r->opt);
    tril_train_log_free(&r->state.log);
    tril_gpt2_free(r->model);
}

/* One rank's whole job: options, start-up (rank 0 first: it writes the
 * token cache the others read), training. */
static int train_job(const train_dist *d, int argc, char **argv)
{
    opts o = {.max_file = (size_t)CLI_MAX_FILE_MB << 20};
    int rc = parse_options(d, argc, argv, &o);
    if (rc == CLI_OK) rc = same_settings(d, &o);
    if (rc != CLI_OK) return rc;
    train_run r;
    memset(&r, 0, sizeof r);
    r.dist = d;
    r.opt_cfg = tril_adamw_config_default();
    r.out_dir = o.out;
    r.replicate = o.replicate;
    tril_run_lock lock;
    memset(&lock, 0, sizeof lock);
    tril_tokenizer *tok = NULL;
    char tok_dir[PATH_MAX] = "", log_path[PATH_MAX];
    snprintf(log_path, sizeof log_path, "%s/log.csv", r.out_dir);
    r.log_path = o.given[O_LOG] ? o.log : log_path;
    if (d->rank == 0) rc = setup_root(&o, &r, &lock, &tok, tok_dir, sizeof tok_dir);
    if ((rc = dist_bcast_int(d, rc)) == CLI_OK && d->rank != 0)
        rc = setup_run(&o, &r, &tok, tok_dir, sizeof tok_dir);
    if ((rc = dist_agree(d, rc)) == CLI_OK) rc = setup_shards(&r, o.given[O_RESUME]);
    if (rc == CLI_OK) rc = train_loop(&r);
    free_run(&r);
    tril_tokenizer_free(tok);
    tril_run_dir_unlock(&lock); /* after the last write into the folder */
    return rc;
}

int cmd_train(int argc, char **argv)
{
    train_dist d;
    int rc = dist_start(&d);
    if (rc == CLI_OK) rc = train_job(&d, argc, argv);
    dist_finish(&d);
    return rc;
}

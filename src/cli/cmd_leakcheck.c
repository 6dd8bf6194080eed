/* tril leakcheck: measures whether a model's predictions can see the
 * future. For random sequences and a random position i, the tokens after i
 * are replaced by random different ones and the full-sequence logits are
 * computed again; a causal model's logits at positions 0..i must not move
 * at all. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tril/train.h"

#define CMD "leakcheck"

typedef struct {
    const char *model;
    int64_t trials, seq, seed;
    int threads, no_causal_mask;
} leakcheck_opts;

#define F(field) CLI_FIELD(leakcheck_opts, field)
static const cli_opt options[] = {
    {"--model", "DIR", CLI_ARG_PATH, 0, F(model),
     .help = "model folder (default: the bundled model)"},
    {"--trials", "N", CLI_ARG_INT, 0, F(trials), .imin = 1, .imax = 1000000,
     .help = "random sequences (default 20)"},
    {"--seq", "T", CLI_ARG_INT, 0, F(seq), .imin = 2, .imax = 1 << 24,
     .help = "sequence length, 2..context (default min(context, 64))"},
    {"--seed", "S", CLI_ARG_INT, 0, F(seed), .imin = 0, .imax = INT64_MAX,
     .help = "random seed (default 1)"},
    {"--threads", "N", CLI_ARG_CUSTOM, 0, F(threads), .custom = &cli_threads_arg,
     .help = "compute threads (default: $TRIL_NUM_THREADS, else all cores)"},
    {"--no-causal-mask", NULL, CLI_ARG_FLAG, 0, F(no_causal_mask),
     .help = "run the model with the mask off, to see what a leak\n"
             "looks like (the value is then far from 0)"},
};
#undef F

const cli_spec cmd_leakcheck_spec = {
    CMD,
    "usage: tril leakcheck [--model DIR] [--trials N] [--seq T] [--seed S]\n"
    "                      [--no-causal-mask]\n\n"
    "Checks that the model cannot see the future. Each trial draws a random\n"
    "sequence of T tokens and a position i, replaces every token after i with a\n"
    "different random one, and runs the full sequence through the model again\n"
    "(the training forward, no KV cache). Prints one line:\n"
    "  max_abs_change=<largest |change| of any logit at positions <= i>\n"
    "which is exactly 0 for a causal model. On stderr: how far the logits after\n"
    "i moved (the change itself is visible).\n",
    NULL,
    CLI_OPTS(options),
};

static double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double m = 0.0;
    for (int64_t k = 0; k < n; k++) {
        double d = fabs((double)a[k] - (double)b[k]);
        if (d > m || d != d) m = d; /* NaN propagates */
    }
    return m;
}

int cmd_leakcheck(int argc, char **argv)
{
    leakcheck_opts o = {.trials = 20, .seed = 1};
    int rc = cli_parse(&cmd_leakcheck_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    const int64_t trials = o.trials, seed = o.seed;
    int64_t seq = o.seq;
    const int causal = !o.no_causal_mask;
    char dir[4096];
    if (cli_model_dir(o.model, dir, sizeof dir) != TRIL_OK) return cli_lib_error(CMD, "no model");
    tril_gpt2 *model = NULL;
    tril_gpt2_load_opts lo = {.copy_to_arena = 1, .weight_dtype = TRIL_F32};
    if (tril_gpt2_load(dir, &lo, &model) != TRIL_OK) return cli_lib_error(CMD, "cannot load the model");
    const tril_gpt2_config *cfg = tril_gpt2_get_config(model);
    const int64_t P = cfg->n_positions, V = cfg->vocab_size;
    if (seq == 0) seq = P < 64 ? P : 64;
    tril_trainer *t = NULL;
    int32_t *x = malloc((size_t)seq * sizeof *x), *y = malloc((size_t)seq * sizeof *y);
    float *lx = malloc((size_t)(seq * V) * sizeof *lx), *ly = malloc((size_t)(seq * V) * sizeof *ly);
    if (seq > P) {
        fprintf(stderr, "tril leakcheck: --seq %lld is longer than the model's context (%lld)\n",
                (long long)seq, (long long)P);
        rc = CLI_USAGE;
        goto done;
    }
    if (!x || !y || !lx || !ly) {
        fprintf(stderr, "tril leakcheck: out of memory\n");
        rc = CLI_FAIL;
        goto done;
    }
    if (tril_trainer_create(model, 1, seq, causal, &t) != TRIL_OK) {
        rc = cli_lib_error(CMD, "cannot set up the model");
        goto done;
    }
    tril_rng rng;
    tril_rng_seed(&rng, (uint64_t)seed);
    double past = 0.0, future = 0.0;
    for (int64_t trial = 0; trial < trials; trial++) {
        const int64_t i = (int64_t)tril_rng_below(&rng, (uint64_t)(seq - 1)); /* >= 1 token after */
        for (int64_t j = 0; j < seq; j++) {
            x[j] = (int32_t)tril_rng_below(&rng, (uint64_t)V);
            /* a different token after i: x + 1 + [0, V-2], wrapped */
            y[j] = j <= i ? x[j] : (int32_t)((x[j] + 1 + (int64_t)tril_rng_below(&rng, (uint64_t)(V - 1))) % V);
        }
        if (tril_trainer_logits(t, x, 1, seq, lx) != TRIL_OK ||
            tril_trainer_logits(t, y, 1, seq, ly) != TRIL_OK) {
            rc = cli_lib_error(CMD, "forward failed");
            goto done;
        }
        double p = max_abs_diff(lx, ly, (i + 1) * V), f = max_abs_diff(lx + (i + 1) * V, ly + (i + 1) * V, (seq - i - 1) * V);
        if (p > past || p != p) past = p;
        if (f > future) future = f;
    }
    fprintf(stderr, "%lld trials, seq %lld, %s: logits at positions <= i moved by at most %g, "
                    "after i by up to %g\n",
            (long long)trials, (long long)seq, causal ? "causal mask" : "NO causal mask", past,
            future);
    printf("max_abs_change=%.9g\n", past);
done:
    tril_trainer_free(t);
    free(x);
    free(y);
    free(lx);
    free(ly);
    tril_gpt2_free(model);
    return rc;
}

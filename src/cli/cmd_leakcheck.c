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

void cmd_leakcheck_help(void)
{
    printf("usage: tril leakcheck [--model DIR] [--trials N] [--seq T] [--seed S]\n"
           "                      [--no-causal-mask]\n\n"
           "Checks that the model cannot see the future. Each trial draws a random\n"
           "sequence of T tokens and a position i, replaces every token after i with a\n"
           "different random one, and runs the full sequence through the model again\n"
           "(the training forward, no KV cache). Prints one line:\n"
           "  max_abs_change=<largest |change| of any logit at positions <= i>\n"
           "which is exactly 0 for a causal model. On stderr: how far the logits after\n"
           "i moved (the change itself is visible).\n\n"
           "  --model DIR        model folder (default: the bundled model)\n"
           "  --trials N         random sequences (default 20)\n"
           "  --seq T            sequence length, 2..context (default min(context, 64))\n"
           "  --seed S           random seed (default 1)\n"
           "  --threads N        compute threads (default: $TRIL_NUM_THREADS, else all cores)\n"
           "  --no-causal-mask   run the model with the mask off, to see what a leak\n"
           "                     looks like (the value is then far from 0)\n");
}

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
    const char *model_dir = NULL, *val;
    int64_t trials = 20, seq = 0, seed = 1;
    int causal = 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--no-causal-mask")) {
            causal = 0;
            continue;
        }
        if (strcmp(arg, "--model") && strcmp(arg, "--trials") && strcmp(arg, "--seq") &&
            strcmp(arg, "--seed") && strcmp(arg, "--threads"))
            return cli_unknown(CMD, arg);
        if (!(val = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        if (!strcmp(arg, "--model")) model_dir = val;
        else if (!strcmp(arg, "--threads")) { if (cli_parse_threads(CMD, val)) return CLI_USAGE; }
        else if (!strcmp(arg, "--trials")) {
            if (cli_parse_i64(CMD, arg, val, 1, 1000000, &trials)) return CLI_USAGE;
        } else if (!strcmp(arg, "--seq")) {
            if (cli_parse_i64(CMD, arg, val, 2, 1 << 24, &seq)) return CLI_USAGE;
        } else if (cli_parse_i64(CMD, arg, val, 0, INT64_MAX, &seed)) {
            return CLI_USAGE;
        }
    }
    char dir[4096];
    if (cli_model_dir(model_dir, dir, sizeof dir) != TRIL_OK) return cli_lib_error(CMD, "no model");
    tril_gpt2 *model = NULL;
    tril_gpt2_load_opts lo = {1, TRIL_F32};
    if (tril_gpt2_load(dir, &lo, &model) != TRIL_OK) return cli_lib_error(CMD, "cannot load the model");
    const tril_gpt2_config *cfg = tril_gpt2_get_config(model);
    const int64_t P = cfg->n_positions, V = cfg->vocab_size;
    if (seq == 0) seq = P < 64 ? P : 64;
    int rc = CLI_OK;
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

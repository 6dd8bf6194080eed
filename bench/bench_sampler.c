/* The cost of drawing one token from GPT-2's 50257 logits: the plain walk
 * (every weight, a full sort: the oracle) and the draw tril_sampler_next
 * runs, side by side on the same logits and uniforms, for the settings
 * people use (tril generate's default is temperature 1, top-k 40), on flat
 * logits (a random-weight model: every token has weight) and peaked ones.
 * Also checks the two agree on every draw it times.
 *
 *   bench_sampler [--vocab N] [--repeats N] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/sampler_internal.h"
#include "tril/rng.h"
#include "tril/timing.h"

typedef int32_t (*draw_fn)(const tril_sampler_config *, const float *, int64_t, int32_t, double,
                           tril_sample_scratch *);

/* Median microseconds per draw over `repeats` draws (the ids are checked
 * against the plain walk beforehand, in main). */
static double time_draws(draw_fn f, const tril_sampler_config *c, const float *logits, int64_t V,
                         int32_t best, tril_sample_scratch *cand, int repeats, double *times)
{
    tril_rng rng;
    tril_rng_seed(&rng, 3);
    for (int r = 0; r < repeats; r++) {
        const double u = tril_rng_uniform(&rng), t0 = tril_now();
        volatile int32_t id = f(c, logits, V, best, u, cand);
        (void)id;
        times[r] = (tril_now() - t0) * 1e6;
    }
    return tril_median(times, repeats);
}

int main(int argc, char **argv)
{
    int64_t V = 50257;
    int repeats = 30;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--vocab")) V = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_sampler: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (V < 2 || V > 10000000 || repeats < 1 || repeats > 100000) {
        fprintf(stderr, "usage: bench_sampler [--vocab N (2..1e7)] [--repeats N]\n");
        return 2;
    }
    float *logits = malloc((size_t)V * sizeof *logits);
    tril_sample_scratch scratch = {malloc((size_t)V * sizeof(tril_candidate)),
                                   malloc((size_t)V * sizeof(float)),
                                   malloc((size_t)(V / TRIL_SAMPLE_BLOCK + 1) * sizeof(double))};
    tril_sample_scratch *cand = &scratch;
    double *times = malloc((size_t)repeats * sizeof *times);
    if (!logits || !scratch.cand || !scratch.w || !scratch.block_sums || !times) {
        fprintf(stderr, "bench_sampler: out of memory\n");
        return 1;
    }
    const struct {
        const char *name;
        tril_sampler_config c;
    } settings[] = {
        {"T1_topk40", {1.0f, 40, 1.0f, 0}},          {"T0.8_topk40_topp0.95", {0.8f, 40, 0.95f, 0}},
        {"T1_topp0.9", {1.0f, 0, 0.9f, 0}},          {"T1_plain", {1.0f, 0, 1.0f, 0}},
        {"T1_topk1000", {1.0f, 1000, 1.0f, 0}},
    };
    const char *shapes[] = {"flat", "peaked"};
    int rc = 0;
    for (int shape = 0; shape < 2; shape++) {
        tril_rng rng;
        tril_rng_seed(&rng, 11);
        int32_t best = 0;
        for (int64_t i = 0; i < V; i++) {
            /* flat: a random-weight GPT-2's spread; peaked: a few tokens
             * far ahead, most trailing by 10-30 nats */
            const double g = tril_rng_normal(&rng);
            logits[i] = (float)(shape == 0 ? 0.5 * g : 4.0 * g - (tril_rng_below(&rng, 100) ? 10.0 : 0.0));
            if (logits[i] > logits[best]) best = (int32_t)i;
        }
        for (size_t k = 0; k < sizeof settings / sizeof settings[0]; k++) {
            const tril_sampler_config *c = &settings[k].c;
            /* agreement first, on the uniforms that are timed */
            tril_rng u;
            tril_rng_seed(&u, 3);
            for (int r = 0; r < repeats; r++) {
                const double x = tril_rng_uniform(&u);
                if (tril_sample_fast(c, logits, V, best, x, cand) !=
                    tril_sample_reference(c, logits, V, best, x, cand)) {
                    fprintf(stderr, "bench_sampler: %s on %s logits: the draws differ\n",
                            settings[k].name, shapes[shape]);
                    rc = 1;
                }
            }
            const double ref = time_draws(tril_sample_reference, c, logits, V, best, cand, repeats, times);
            const double fast = time_draws(tril_sample_fast, c, logits, V, best, cand, repeats, times);
            printf("bench=sampler vocab=%lld logits=%s setting=%s plain_walk_us=%.1f tril_us=%.1f "
                   "speedup=%.1f\n",
                   (long long)V, shapes[shape], settings[k].name, ref, fast, ref / fast);
        }
    }
    free(logits);
    free(scratch.cand);
    free(scratch.w);
    free(scratch.block_sums);
    free(times);
    return rc;
}

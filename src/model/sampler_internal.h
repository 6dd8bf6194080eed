/* model/sampler_internal.h - the sampler's draw, in two forms: the plain
 * walk (every weight, a full sort: the oracle) and the one tril_sampler_next
 * runs (a k-best heap for top-k, a heap popped only as far as the nucleus
 * for top-p). Both give the same id for the same logits and uniform. */
#ifndef TRIL_MODEL_SAMPLER_INTERNAL_H
#define TRIL_MODEL_SAMPLER_INTERNAL_H

#include <stdint.h>

#include "tril/generate.h"

typedef struct {
    float w;     /* unnormalised probability exp((logit - max) / T), in (0, 1] */
    float logit; /* the sort key: w is monotone in it, and it still orders tokens whose w round equal */
    int32_t id;
} tril_candidate;

/* The weights' sums run in blocks of this many tokens (each block summed in
 * order, then the blocks in order), so that they can be summed side by side;
 * the draw finds its block first, then its token. */
#define TRIL_SAMPLE_BLOCK 64

/* w[n] = exp((logits - mx) / T) as every draw computes it (inv_t = 1 / T):
 * the run-time ISA's kernel (softmax_kernels.c). */
void tril_sample_weights(float *w, const float *logits, int64_t n, double mx, double inv_t);

/* The sum of w [V] as every draw takes it: each block of TRIL_SAMPLE_BLOCK
 * in order, then the blocks in order (block_scratch: V / TRIL_SAMPLE_BLOCK
 * + 1 doubles, overwritten). */
double tril_sample_weight_sum(const float *w, int64_t V, double *block_scratch);

/* What a draw may overwrite: cand and w [V], block_sums [V / TRIL_SAMPLE_BLOCK + 1]. */
typedef struct {
    tril_candidate *cand;
    float *w;
    double *block_sums;
} tril_sample_scratch;

/* The id drawn by uniform u in [0, 1) from logits [V] whose arg-max is best
 * (its logit finite, no NaN or +inf anywhere), for a temperature > 0 and
 * top-k != 1 (greedy is the caller's). */
int32_t tril_sample_reference(const tril_sampler_config *cfg, const float *logits, int64_t V,
                              int32_t best, double u, tril_sample_scratch *scratch);
int32_t tril_sample_fast(const tril_sampler_config *cfg, const float *logits, int64_t V,
                         int32_t best, double u, tril_sample_scratch *scratch);

#endif

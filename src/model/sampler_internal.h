/* model/sampler_internal.h - the sampler's draw, in two forms: the plain
 * walk (every weight, a full sort: the oracle) and the one tril_sampler_next
 * runs (a k-best heap for top-k, a heap popped only as far as the nucleus
 * for top-p). Both give the same id for the same logits and uniform. */
#ifndef TRIL_MODEL_SAMPLER_INTERNAL_H
#define TRIL_MODEL_SAMPLER_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "tril/generate.h"

typedef struct {
    float w;     /* unnormalised probability exp((logit - max) / T), in (0, 1] */
    float logit; /* the sort key: w is monotone in it, and it still orders tokens whose w round equal */
    int32_t id;
} tril_candidate;

/* exp(q) for q <= 0; below -104 expf is 0 anyway, and the clamp keeps the
 * double -> float conversion in range whatever logit / temperature did. */
static inline float tril_sample_weight(double q) { return q < -104.0 ? 0.0f : expf((float)q); }

/* The id drawn by uniform u in [0, 1) from logits [V] whose arg-max is best
 * (its logit finite, no NaN or +inf anywhere), for a temperature > 0 and
 * top-k != 1 (greedy is the caller's). cand: scratch of V candidates. */
int32_t tril_sample_reference(const tril_sampler_config *cfg, const float *logits, int64_t V,
                              int32_t best, double u, tril_candidate *cand);
int32_t tril_sample_fast(const tril_sampler_config *cfg, const float *logits, int64_t V,
                         int32_t best, double u, tril_candidate *cand);

#endif

/* The sampler's draw as the plain walk: every token's weight, the
 * candidates sorted whole, then the top-k and top-p cuts and the draw. The
 * oracle tril_sample_fast is tested against, id for id. */
#include <stdlib.h>

#include "model/sampler_internal.h"

/* Descending by logit (so by probability), ties by id: results never depend
 * on qsort. Logits here are never NaN. */
static int by_logit_desc(const void *a, const void *b)
{
    const tril_candidate *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int32_t tril_sample_reference(const tril_sampler_config *cfg, const float *logits, int64_t V,
                              int32_t best, double u, tril_candidate *cand)
{
    const double T = cfg->temperature, mx = logits[best];
    const int64_t top_k = cfg->top_k;
    const double top_p = cfg->top_p;
    /* Weights relative to the arg-max (its weight is exactly 1), in double
     * so that neither logit - max nor the division by T overflows. */
    double sum = 0.0;
    for (int64_t i = 0; i < V; i++) {
        const float w = tril_sample_weight(((double)logits[i] - mx) / T);
        cand[i] = (tril_candidate){w, logits[i], (int32_t)i};
        sum += w;
    }
    /* Candidates: tokens of positive weight, and for top-p alone only those
     * that could make the cut, which keeps the sort short: a token after the
     * first one is kept only if (V - 1) p >= 1 - top_p (everything from it
     * on has p' <= p and, with it, mass >= 1 - top_p). Halved against
     * rounding; the arg-max is always a candidate. */
    const int filtering = top_k > 0 || top_p < 1.0;
    const double floor_w = (top_k == 0 && top_p < 1.0 && V > 1)
                               ? 0.5 * (1.0 - top_p) / (double)(V - 1) * sum
                               : 0.0;
    int64_t n = 0;
    for (int64_t i = 0; i < V; i++) /* compacted in place: n <= i */
        if (cand[i].w > 0.0f && (i == best || cand[i].w >= floor_w)) cand[n++] = cand[i];
    if (filtering && n > 1) {
        qsort(cand, (size_t)n, sizeof *cand, by_logit_desc);
        /* top-p is measured against the whole distribution, or against
         * what top-k left */
        double mass = sum;
        if (top_k > 0 && top_k < n) {
            n = top_k;
            mass = 0.0;
            for (int64_t i = 0; i < n; i++) mass += cand[i].w;
        }
        if (top_p < 1.0) {
            double kept = 0.0;
            for (int64_t i = 0; i < n; i++) {
                kept += cand[i].w;
                if (kept >= top_p * mass) {
                    n = i + 1;
                    break;
                }
            }
        }
    }
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) total += cand[i].w;
    const double r = u * total;
    if (n < 1 || !(total > 0.0)) return best; /* cannot happen: the arg-max has weight 1 */
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) {
        acc += cand[i].w;
        if (r < acc) return cand[i].id;
    }
    return cand[n - 1].id; /* r rounded up to total: every candidate has w > 0 */
}

/* The sampler's draw as the plain walk: every token's weight, the
 * candidates sorted whole, then the top-k and top-p cuts and the draw. The
 * oracle tril_sample_fast is tested against, id for id (both take their
 * weights from tril_sample_weights, which is tested against exp itself). */
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

static double block_sum(const float *w, int64_t V, int64_t b0)
{
    double s = 0.0;
    for (int64_t j = b0; j < V && j < b0 + TRIL_SAMPLE_BLOCK; j++) s += w[j];
    return s;
}

int32_t tril_sample_reference(const tril_sampler_config *cfg, const float *logits, int64_t V,
                              int32_t best, double u, tril_sample_scratch *scratch)
{
    tril_candidate *cand = scratch->cand;
    float *w = scratch->w;
    const int64_t top_k = cfg->top_k;
    const double top_p = cfg->top_p;
    /* Weights relative to the arg-max (its weight is exactly 1) */
    tril_sample_weights(w, logits, V, logits[best], 1.0 / (double)cfg->temperature);
    double sum = 0.0;
    for (int64_t b0 = 0; b0 < V; b0 += TRIL_SAMPLE_BLOCK) sum += block_sum(w, V, b0);
    if (top_k == 0 && top_p == 1.0) { /* no filter: by id, the block first */
        const double r = u * sum;
        double before = 0.0;
        for (int64_t b0 = 0; b0 < V; b0 += TRIL_SAMPLE_BLOCK) {
            const double in_block = block_sum(w, V, b0), rb = r - before;
            if (rb < in_block) {
                double acc = 0.0;
                for (int64_t j = b0; j < V && j < b0 + TRIL_SAMPLE_BLOCK; j++) {
                    acc += w[j];
                    if (w[j] > 0.0f && rb < acc) return (int32_t)j;
                }
            }
            before += in_block;
        }
        int64_t last = best; /* r rounded up to the sum: the last token of any weight */
        for (int64_t i = 0; i < V; i++)
            if (w[i] > 0.0f) last = i;
        return (int32_t)last;
    }
    for (int64_t i = 0; i < V; i++) cand[i] = (tril_candidate){w[i], logits[i], (int32_t)i};
    /* Candidates: tokens of positive weight, and for top-p alone only those
     * that could make the cut, which keeps the sort short: a token after the
     * first one is kept only if (V - 1) p >= 1 - top_p (everything from it
     * on has p' <= p and, with it, mass >= 1 - top_p). Halved against
     * rounding; the arg-max is always a candidate. */
    const double floor_w = (top_k == 0 && V > 1) ? 0.5 * (1.0 - top_p) / (double)(V - 1) * sum : 0.0;
    int64_t n = 0;
    for (int64_t i = 0; i < V; i++) /* compacted in place: n <= i */
        if (cand[i].w > 0.0f && (i == best || cand[i].w >= floor_w)) cand[n++] = cand[i];
    if (n > 1) {
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

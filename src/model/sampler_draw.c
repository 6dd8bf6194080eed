/* The sampler's draw as tril_sampler_next runs it: the same cuts and the
 * same arithmetic, in the same order, as the plain walk
 * (sampler_reference.c), without sorting the whole vocabulary.
 *
 * Why: the plain walk sorted every token of positive weight, which is all
 * of them for any temperature that does not underflow: on GPT-2's 50257
 * logits about 10 ms a token with top-k 40, as long as a bf16 decoding step
 * of GPT-2 124M. Here top-k keeps its k best in a heap while it scans the
 * logits (most fail one comparison with the heap's worst) and computes the
 * weights of those k alone; top-p alone builds a heap of the candidates in
 * linear time and pops them best-first only until the nucleus is full. */
#include <math.h>
#include <string.h>

#include "core/isa.h"
#include "model/kernels.h"
#include "model/sampler_internal.h"

/* The candidates' order: larger logit first, then lower id (a strict total
 * order, so the k best and their order are unique). */
static inline int ahead(const tril_candidate *a, const tril_candidate *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* Heaps over h [n] whose root is the worst (keep_best: a k-best set) or the
 * best (pop_best: the nucleus). Sift h[i] down into place. */
static void sift_worst_root(tril_candidate *h, int64_t n, int64_t i)
{
    const tril_candidate x = h[i];
    for (int64_t c; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && ahead(&h[c], &h[c + 1])) c++; /* the worse child */
        if (!ahead(&x, &h[c])) break;
        h[i] = h[c];
    }
    h[i] = x;
}

static void sift_best_root(tril_candidate *h, int64_t n, int64_t i)
{
    const tril_candidate x = h[i];
    for (int64_t c; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && ahead(&h[c + 1], &h[c])) c++; /* the better child */
        if (!ahead(&h[c], &x)) break;
        h[i] = h[c];
    }
    h[i] = x;
}

/* The k best tokens of finite logit into cand [0, k'), best first (k' < k
 * only if fewer are finite); *rest_max: the largest logit left out (-inf
 * if none). */
static int64_t k_best(const float *logits, int64_t V, int64_t k, tril_candidate *cand,
                      float *rest_max)
{
    int64_t h = 0;
    float rest = -INFINITY;
    for (int64_t i = 0; i < V; i++) {
        const float x = logits[i];
        if (h < k) {
            if (x == -INFINITY) continue;
            int64_t j = h++; /* sift up: the root is the worst */
            const tril_candidate c = {0.0f, x, (int32_t)i};
            while (j > 0 && ahead(&cand[(j - 1) / 2], &c)) {
                cand[j] = cand[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            cand[j] = c;
            continue;
        }
        /* a later id with an equal logit is behind the root */
        if (x <= cand[0].logit) {
            rest = x > rest ? x : rest;
            continue;
        }
        rest = cand[0].logit > rest ? cand[0].logit : rest;
        cand[0] = (tril_candidate){0.0f, x, (int32_t)i};
        sift_worst_root(cand, h, 0);
    }
    for (int64_t m = h; m > 1; m--) { /* the worst to the back, one by one */
        const tril_candidate t = cand[0];
        cand[0] = cand[m - 1];
        cand[m - 1] = t;
        sift_worst_root(cand, m - 1, 0);
    }
    *rest_max = rest;
    return h;
}

/* Pops cand [n] best-first until the weights popped reach `need` (or all
 * are popped); leaves them at cand [0, count) best first; returns count. */
static int64_t nucleus(tril_candidate *cand, int64_t n, double need)
{
    for (int64_t i = n / 2; i-- > 0;) sift_best_root(cand, n, i);
    double kept = 0.0;
    int64_t m = n;
    while (m > 0) { /* the popped collect at the back, best last */
        const tril_candidate top = cand[0];
        cand[0] = cand[--m];
        sift_best_root(cand, m, 0);
        cand[m] = top;
        kept += top.w;
        if (kept >= need) break;
    }
    for (int64_t i = m, j = n - 1; i < j; i++, j--) {
        const tril_candidate t = cand[i];
        cand[i] = cand[j];
        cand[j] = t;
    }
    memmove(cand, cand + m, (size_t)(n - m) * sizeof *cand);
    return n - m;
}

void tril_sample_weights(float *w, const float *logits, int64_t n, double mx, double inv_t)
{
    TRIL_ISA_TABLE(tril_model_kernels)->sample_weights(w, logits, n, mx, inv_t);
}

/* Each block's sum, in order within the block as the plain walk takes it,
 * eight blocks side by side (a chain of 50257 dependent double additions
 * took ~0.2 ms). Returns the blocks' count. */
static int64_t block_sums(const float *w, int64_t V, double *sums)
{
    enum { SIDE = 8, B = TRIL_SAMPLE_BLOCK };
    const int64_t blocks = (V + B - 1) / B, whole = V / B;
    int64_t b = 0;
    for (; b + SIDE <= whole; b += SIDE) {
        double s[SIDE] = {0.0};
        for (int64_t j = 0; j < B; j++)
            for (int c = 0; c < SIDE; c++) s[c] += w[(b + c) * B + j];
        for (int c = 0; c < SIDE; c++) sums[b + c] = s[c];
    }
    for (; b < blocks; b++) {
        double s = 0.0;
        for (int64_t j = b * B; j < V && j < (b + 1) * B; j++) s += w[j];
        sums[b] = s;
    }
    return blocks;
}

static double sum_of(const double *x, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}

double tril_sample_weight_sum(const float *w, int64_t V, double *block_scratch)
{
    return sum_of(block_scratch, block_sums(w, V, block_scratch));
}

/* No filter: the token where u * sum falls, its block found first. */
static int32_t draw_by_id(const float *w, int64_t V, const double *sums, int64_t blocks,
                          double sum, double u, int32_t best)
{
    const double r = u * sum;
    double before = 0.0;
    for (int64_t b = 0; b < blocks; b++) {
        const double rb = r - before;
        if (rb < sums[b]) {
            double acc = 0.0;
            for (int64_t j = b * TRIL_SAMPLE_BLOCK; j < V && j < (b + 1) * TRIL_SAMPLE_BLOCK; j++) {
                acc += w[j];
                if (w[j] > 0.0f && rb < acc) return (int32_t)j;
            }
        }
        before += sums[b];
    }
    for (int64_t i = V; i-- > 0;) /* r rounded up to the sum: the last token of any weight */
        if (w[i] > 0.0f) return (int32_t)i;
    return best;
}

int32_t tril_sample_fast(const tril_sampler_config *cfg, const float *logits, int64_t V,
                         int32_t best, double u, tril_sample_scratch *scratch)
{
    tril_candidate *cand = scratch->cand;
    float *w = scratch->w;
    const double mx = logits[best], inv_t = 1.0 / (double)cfg->temperature;
    const int64_t top_k = cfg->top_k;
    const double top_p = cfg->top_p;
    int64_t n = 0;
    if (top_k > 0) {
        float rest_max, rest_w;
        const int64_t h = k_best(logits, V, top_k < V ? top_k : V, cand, &rest_max);
        for (int64_t i = 0; i < h; i++) w[i] = cand[i].logit;
        tril_sample_weights(w, w, h, mx, inv_t); /* lane by lane: the values the whole row gets */
        tril_sample_weights(&rest_w, &rest_max, 1, mx, inv_t);
        for (int64_t i = 0; i < h; i++) /* positive weights, order kept */
            if ((cand[i].w = w[i]) > 0.0f) cand[n++] = cand[i];
        if (top_p < 1.0 && n > 1) {
            double mass = 0.0;
            if (rest_w > 0.0f) { /* more than k of positive weight: against what top-k kept */
                for (int64_t i = 0; i < n; i++) mass += cand[i].w;
            } else { /* no cut: against the whole distribution */
                tril_sample_weights(w, logits, V, mx, inv_t);
                mass = tril_sample_weight_sum(w, V, scratch->block_sums);
            }
            double kept = 0.0;
            for (int64_t i = 0; i < n; i++) {
                kept += cand[i].w;
                if (kept >= top_p * mass) {
                    n = i + 1;
                    break;
                }
            }
        }
    } else {
        tril_sample_weights(w, logits, V, mx, inv_t);
        const int64_t blocks = block_sums(w, V, scratch->block_sums);
        const double sum = sum_of(scratch->block_sums, blocks);
        if (top_p == 1.0) return draw_by_id(w, V, scratch->block_sums, blocks, sum, u, best);
        /* top-p's floor: see sampler_reference.c */
        const double floor_w = V > 1 ? 0.5 * (1.0 - top_p) / (double)(V - 1) * sum : 0.0;
        for (int64_t i = 0; i < V; i++)
            if (w[i] > 0.0f && (i == best || w[i] >= floor_w))
                cand[n++] = (tril_candidate){w[i], logits[i], (int32_t)i};
        if (n > 1) n = nucleus(cand, n, top_p * sum);
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

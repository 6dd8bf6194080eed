/* Token sampling: greedy, temperature, top-k, top-p, from a seeded RNG.
 *
 * Every input either gives an id whose logit is finite and which passes the
 * filters, or an error: a NaN or +inf logit is TRIL_ERR_RANGE (the model's
 * numbers cannot be trusted, and no order or softmax over them means
 * anything); -inf is a legal logit (probability 0), but all -inf is
 * TRIL_ERR_RANGE. The arg-max always survives the filters with weight 1, so
 * the candidate set is never empty; should rounding ever leave it so, the
 * arg-max is the answer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/simd.h"
#include "model/sampler_internal.h"
#include "tril/generate.h"
#include "tril/rng.h"

struct tril_sampler {
    tril_sampler_config cfg;
    int64_t vocab;
    tril_rng rng;
    tril_candidate *cand; /* [vocab] candidates */
    float *w;             /* [vocab] weights */
    double *block_sums;   /* [vocab / TRIL_SAMPLE_BLOCK + 1] */
};

tril_sampler_config tril_sampler_config_default(void)
{
    tril_sampler_config c = {1.0f, 0, 1.0f, 0};
    return c;
}

tril_status tril_sampler_config_validate(const tril_sampler_config *c)
{
    if (!c) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "sampler: NULL config");
    if (!isfinite(c->temperature) || c->temperature < 0.0f)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "temperature must be finite and >= 0, got %g",
                         (double)c->temperature);
    if (c->top_k < 0) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "top-k must be >= 0");
    if (!(c->top_p > 0.0f && c->top_p <= 1.0f))
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "top-p must be in (0, 1], got %g", (double)c->top_p);
    return TRIL_OK;
}

tril_status tril_sampler_create(const tril_sampler_config *cfg, int64_t vocab, tril_sampler **out)
{
    if (!out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "sampler: NULL output");
    *out = NULL;
    tril_status st = tril_sampler_config_validate(cfg);
    if (st != TRIL_OK) return st;
    /* ids are int32_t */
    if (vocab < 1 || vocab > INT32_MAX)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "sampler: vocab must be in [1, %d], got %lld",
                         INT32_MAX, (long long)vocab);
    tril_sampler *s = calloc(1, sizeof *s);
    if (!s) return TRIL_FAIL(TRIL_ERR_NOMEM, "sampler: out of memory");
    s->cfg = *cfg;
    s->vocab = vocab;
    s->cand = malloc((size_t)vocab * sizeof *s->cand);
    s->w = malloc((size_t)vocab * sizeof *s->w);
    s->block_sums = malloc((size_t)(vocab / TRIL_SAMPLE_BLOCK + 1) * sizeof *s->block_sums);
    if (!s->cand || !s->w || !s->block_sums) {
        tril_sampler_free(s);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "sampler: out of memory");
    }
    tril_rng_seed(&s->rng, cfg->seed);
    *out = s;
    return TRIL_OK;
}

void tril_sampler_free(tril_sampler *s)
{
    if (!s) return;
    free(s->cand);
    free(s->w);
    free(s->block_sums);
    free(s);
}

/* Rejects NaN, +inf (the first of either, by index) and all -inf;
 * otherwise *best is the arg-max (ties to the lowest id), whose logit is
 * finite. The scalar walk. */
static tril_status check_and_argmax_scalar(const float *logits, int64_t n, int32_t *best)
{
    int64_t b = -1;
    for (int64_t i = 0; i < n; i++) {
        const float x = logits[i];
        if (isnan(x))
            return TRIL_FAIL(TRIL_ERR_RANGE,
                             "sampler: the logit of token %lld is NaN (the model's output cannot be trusted)",
                             (long long)i);
        if (x == INFINITY)
            return TRIL_FAIL(TRIL_ERR_RANGE,
                             "sampler: the logit of token %lld is +inf (the model's output cannot be trusted)",
                             (long long)i);
        if (x != -INFINITY && (b < 0 || x > logits[b])) b = i;
    }
    if (b < 0)
        return TRIL_FAIL(TRIL_ERR_RANGE, "sampler: all %lld logits are -inf: no token is possible",
                         (long long)n);
    *best = (int32_t)b;
    return TRIL_OK;
}

/* What check_and_argmax_scalar gives, in one branch-free vector pass: each
 * lane keeps its largest logit and where it first saw it, and notes any
 * NaN or +inf; the first index of the largest is then the smallest of the
 * lanes' that hold it. The scalar walk runs only to name a bad logit.
 * Greedy decoding calls this for every token of every sequence: on GPT-2's
 * 50257 logits the scalar walk took about 100 us, over a millisecond of
 * each 16-stream step. */
static tril_status check_and_argmax(const float *logits, int64_t n, int32_t *best)
{
    vf mx = vbcast(-INFINITY);
    vi at = (vi)vbcast(0.0f) - 1, bad = (vi)vbcast(0.0f), idx;
    for (int k = 0; k < TRIL_VL; k++) idx[k] = k;
    int64_t i = 0;
    for (; i + TRIL_VL <= n; i += TRIL_VL, idx += TRIL_VL) {
        const vf x = vload(logits + i);
        const vi larger = x > mx; /* strictly: a lane keeps its first */
        bad |= (x != x) | (x == INFINITY);
        mx = vsel(larger, x, mx);
        at = (larger & idx) | (~larger & at);
    }
    float m = -INFINITY;
    int64_t b = -1;
    int any_bad = 0;
    for (int k = 0; k < TRIL_VL; k++) {
        any_bad |= bad[k] != 0;
        if (at[k] >= 0 && (mx[k] > m || (mx[k] == m && at[k] < b))) m = mx[k], b = at[k];
    }
    for (; i < n; i++) { /* the tail comes after every lane's index */
        any_bad |= isnan(logits[i]) || logits[i] == INFINITY;
        if (logits[i] > m) m = logits[i], b = i;
    }
    if (any_bad || b < 0) return check_and_argmax_scalar(logits, n, best);
    *best = (int32_t)b;
    return TRIL_OK;
}

tril_status tril_sampler_next(tril_sampler *s, const float *logits, int32_t *id)
{
    if (!s || !logits || !id) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "sampler: NULL argument");
    const int64_t V = s->vocab;
    int32_t best = 0; /* set by check_and_argmax; initialised for the compiler */
    tril_status st = check_and_argmax(logits, V, &best);
    if (st != TRIL_OK) return st;
    if (s->cfg.temperature == 0.0f || s->cfg.top_k == 1) { /* top-k 1 is greedy whatever the temperature */
        *id = best;
        return TRIL_OK;
    }
    const double u = tril_rng_uniform(&s->rng);
    tril_sample_scratch scratch = {s->cand, s->w, s->block_sums};
    *id = tril_sample_fast(&s->cfg, logits, s->vocab, best, u, &scratch);
    return TRIL_OK;
}

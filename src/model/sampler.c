/* Token sampling: greedy, temperature, top-k, top-p, from a seeded RNG. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tril/generate.h"
#include "tril/rng.h"

typedef struct {
    float p;
    int32_t id;
} tril_candidate;

struct tril_sampler {
    tril_sampler_config cfg;
    int64_t vocab;
    tril_rng rng;
    tril_candidate *cand; // [vocab] candidate (probability, id) pairs
    float *prob;          // [vocab] softmax
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
    tril_status st = tril_sampler_config_validate(cfg);
    if (st != TRIL_OK) return st;
    if (vocab < 1) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "sampler: vocab must be >= 1");
    tril_sampler *s = calloc(1, sizeof *s);
    if (!s) return TRIL_FAIL(TRIL_ERR_NOMEM, "sampler: out of memory");
    s->cfg = *cfg;
    s->vocab = vocab;
    s->cand = malloc((size_t)vocab * sizeof *s->cand);
    s->prob = malloc((size_t)vocab * sizeof *s->prob);
    if (!s->cand || !s->prob) {
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
    free(s->prob);
    free(s);
}

static int32_t argmax(const float *logits, int64_t n)
{
    int32_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = (int32_t)i;
    return best;
}

/* Descending by probability, ties by id, so results never depend on qsort. */
static int by_prob_desc(const void *a, const void *b)
{
    const tril_candidate *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int32_t tril_sampler_next(tril_sampler *s, const float *logits)
{
    const int64_t V = s->vocab;
    if (s->cfg.temperature == 0.0f) return argmax(logits, V);
    float mx = logits[argmax(logits, V)];
    double sum = 0.0;
    for (int64_t i = 0; i < V; i++) {
        s->prob[i] = expf((logits[i] - mx) / s->cfg.temperature);
        sum += s->prob[i];
    }
    for (int64_t i = 0; i < V; i++) s->prob[i] = (float)(s->prob[i] / sum);
    /* Candidates: everything, or for top-p only tokens that could make the
     * cut (p >= (1 - top_p) / (V - 1)), which keeps the sort short. */
    int64_t n = 0;
    const int filtering = s->cfg.top_k > 0 || s->cfg.top_p < 1.0f;
    const float floor_p = (s->cfg.top_k == 0 && V > 1) ? (1.0f - s->cfg.top_p) / (float)(V - 1) : 0.0f;
    for (int64_t i = 0; i < V; i++)
        if (!filtering || s->prob[i] >= floor_p) s->cand[n++] = (tril_candidate){s->prob[i], (int32_t)i};
    if (filtering) {
        qsort(s->cand, (size_t)n, sizeof *s->cand, by_prob_desc);
        if (s->cfg.top_k > 0 && s->cfg.top_k < n) n = s->cfg.top_k;
        if (s->cfg.top_p < 1.0f) {
            double kept = 0.0, mass = 0.0;
            for (int64_t i = 0; i < n; i++) mass += s->cand[i].p;
            for (int64_t i = 0; i < n; i++) {
                kept += s->cand[i].p;
                if (kept >= s->cfg.top_p * mass) {
                    n = i + 1;
                    break;
                }
            }
        }
    }
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) total += s->cand[i].p;
    double r = tril_rng_uniform(&s->rng) * total, acc = 0.0;
    for (int64_t i = 0; i < n; i++) {
        acc += s->cand[i].p;
        if (r < acc) return s->cand[i].id;
    }
    return s->cand[n - 1].id;
}

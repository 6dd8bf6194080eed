/* libFuzzer target: the token sampler on arbitrary logits and settings.
 *
 * The input is decoded into a temperature, top-k, top-p, seed and a row of
 * logits (NaN, +-inf, subnormals and the float limits included, either as raw
 * bit patterns or picked from a table of awkward values). Aborts unless:
 * an invalid configuration is refused at create; a NaN or +inf logit, or all
 * -inf, is TRIL_ERR_RANGE naming the first bad token, with the id untouched;
 * otherwise the id is in [0, V), its logit is finite with positive
 * probability, it is the arg-max (lowest id) under greedy or top-k 1, its
 * rank by logit is below top-k, the mass strictly ahead of it is below
 * top-p of the (top-k) mass, and the same seed gives the same ids; and the
 * draw tril_sampler_next runs (heaps, blocked sums) gives the plain walk's
 * id (sampler_reference.c) for a uniform taken from the input. The row and
 * the draws' scratch are exact-size heap copies, so ASan catches any read
 * past either end. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/sampler_internal.h"
#include "tril/generate.h"

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "fuzz_sampler: check failed: %s\n", #cond); \
            abort();                                                      \
        }                                                                 \
    } while (0)

#define MAX_VOCAB 4096 /* longer rows find nothing new and slow each run */
#define MAX_DRAWS 4

typedef struct {
    const uint8_t *p;
    size_t left;
} reader;

static uint64_t take(reader *r, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v = v << 8 | (r->left ? *r->p : 0);
        if (r->left) r->p++, r->left--;
    }
    return v;
}

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static const float awkward[16] = {
    0.0f, -0.0f, 1.0f, -1.0f, 3.0f, 1e-45f, -1e-45f, 1e-38f,
    3.4e38f, -3.4e38f, 1e30f, -1e30f, INFINITY, -INFINITY, NAN, 2.5f,
};
static const float temps[8] = {0.0f, 1e-45f, 1e-38f, 1e-3f, 0.7f, 1.0f, 1e38f, 3.4028235e38f};
static const float top_ps[8] = {1.0f, 1e-30f, 1e-7f, 0.1f, 0.5f, 0.9f, 0.99999994f, 1.0f};

/* Arg-max over non-NaN logits, ties to the lowest id; -1 when all are -inf. */
static int64_t argmax(const float *l, int64_t n)
{
    int64_t b = -1;
    for (int64_t i = 0; i < n; i++)
        if (l[i] != -INFINITY && (b < 0 || l[i] > l[b])) b = i;
    return b;
}

/* The sampler's order: larger logit first, then lower id. */
static const float *order_logits;
static int by_order(const void *a, const void *b)
{
    const int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    const float *l = order_logits;
    if (l[i] != l[j]) return l[i] > l[j] ? -1 : 1;
    return (i > j) - (i < j);
}

static void check_id(const tril_sampler_config *c, const float *l, int64_t V, int32_t id)
{
    CHECK(id >= 0 && id < V);
    CHECK(isfinite(l[id]));
    const int64_t best = argmax(l, V);
    if (c->temperature == 0.0f || c->top_k == 1) {
        CHECK(id == best);
        return;
    }
    int64_t *order = malloc((size_t)V * sizeof *order);
    CHECK(order != NULL);
    for (int64_t i = 0; i < V; i++) order[i] = i;
    order_logits = l;
    qsort(order, (size_t)V, sizeof *order, by_order);
    CHECK(order[0] == best);
    int64_t rank = 0;
    while (order[rank] != id) rank++;
    if (c->top_k > 0) CHECK(rank < c->top_k);
    /* probabilities in double: the chosen one is positive, and the mass
     * strictly ahead of it is below top_p of the mass top-k kept (with a
     * relative tolerance for the sampler's float weights) */
    const double T = c->temperature, mx = l[best];
    CHECK(exp(((double)l[id] - mx) / T) > 0.0);
    const int64_t kept = c->top_k > 0 && c->top_k < V ? c->top_k : V;
    double ahead_mass = 0.0, mass = 0.0;
    for (int64_t r = 0; r < kept; r++) {
        const double w = exp(((double)l[order[r]] - mx) / T);
        mass += w;
        if (r < rank) ahead_mass += w;
    }
    CHECK(ahead_mass <= (double)c->top_p * mass * (1.0 + 1e-4));
    free(order);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    const unsigned mode = (unsigned)take(&r, 1);
    tril_sampler_config c = tril_sampler_config_default();
    const uint32_t tbits = (uint32_t)take(&r, 4), pbits = (uint32_t)take(&r, 4);
    const uint64_t kraw = take(&r, 8);
    c.seed = take(&r, 8);
    const int draws = 1 + (int)(take(&r, 1) % MAX_DRAWS);
    const double u = (double)(take(&r, 8) >> 11) * 0x1p-53; /* [0, 1), as tril_rng_uniform */
    /* raw bits (mostly refused, NaN/negative/inf) or an awkward valid value */
    c.temperature = (mode & 1) ? bits_to_float(tbits) : temps[tbits % 8];
    c.top_p = (mode & 2) ? bits_to_float(pbits) : top_ps[pbits % 8];
    int64_t V;
    float *logits;
    if (mode & 4) { /* raw float bits */
        V = (int64_t)(r.left / 4);
        if (V > MAX_VOCAB) V = MAX_VOCAB;
        if (V < 1) V = 1;
        logits = malloc((size_t)V * sizeof *logits);
        if (!logits) return 0;
        for (int64_t i = 0; i < V; i++) logits[i] = bits_to_float((uint32_t)take(&r, 4));
    } else { /* one byte each: an awkward value, or a small integer */
        V = (int64_t)r.left;
        if (V > MAX_VOCAB) V = MAX_VOCAB;
        if (V < 1) V = 1;
        logits = malloc((size_t)V * sizeof *logits);
        if (!logits) return 0;
        for (int64_t i = 0; i < V; i++) {
            const uint8_t b = (uint8_t)take(&r, 1);
            logits[i] = b < 32 ? awkward[b % 16] : (float)((int)b - 144) / 8.0f;
        }
    }
    /* top-k: off, 1, around V, huge, negative (refused), or anything */
    switch ((mode >> 3) & 7) {
    case 0: c.top_k = 0; break;
    case 1: c.top_k = 1; break;
    case 2: c.top_k = V - 1 + (int64_t)(kraw % 3); break;
    case 3: c.top_k = INT64_MAX; break;
    case 4: c.top_k = -(int64_t)(kraw % 4) - 1; break;
    default: c.top_k = (int64_t)(kraw % (uint64_t)(V + 2)); break;
    }

    const int valid = isfinite(c.temperature) && c.temperature >= 0.0f && c.top_k >= 0 &&
                      c.top_p > 0.0f && c.top_p <= 1.0f;
    tril_sampler *s = (tril_sampler *)&r, *twin = NULL; /* a stale pointer must be cleared */
    tril_status st = tril_sampler_create(&c, V, &s);
    if (!valid) {
        CHECK(st == TRIL_ERR_INVALID_ARG && s == NULL && tril_last_error()[0] != '\0');
        free(logits);
        return 0;
    }
    CHECK(st == TRIL_OK && s != NULL);
    CHECK(tril_sampler_create(&c, V, &twin) == TRIL_OK);

    /* the first NaN or +inf, if any */
    int64_t bad = -1;
    for (int64_t i = 0; i < V && bad < 0; i++)
        if (isnan(logits[i]) || logits[i] == INFINITY) bad = i;
    for (int d = 0; d < draws; d++) {
        int32_t id = -12345, id2 = -12345;
        tril_clear_error();
        st = tril_sampler_next(s, logits, &id);
        CHECK(tril_sampler_next(twin, logits, &id2) == st);
        if (bad >= 0 || argmax(logits, V) < 0) {
            CHECK(st == TRIL_ERR_RANGE && id == -12345);
            char want[48];
            if (bad >= 0) snprintf(want, sizeof want, "token %lld is ", (long long)bad);
            else snprintf(want, sizeof want, "-inf");
            CHECK(strstr(tril_last_error(), want) != NULL);
            continue;
        }
        CHECK(st == TRIL_OK);
        CHECK(id == id2); /* same seed, same ids */
        check_id(&c, logits, V, id);
    }
    const int64_t best = argmax(logits, V);
    if (bad < 0 && best >= 0 && c.temperature > 0.0f && c.top_k != 1) {
        tril_sample_scratch a = {malloc((size_t)V * sizeof(tril_candidate)), malloc((size_t)V * sizeof(float)),
                                 malloc((size_t)(V / TRIL_SAMPLE_BLOCK + 1) * sizeof(double))};
        tril_sample_scratch b = {malloc((size_t)V * sizeof(tril_candidate)), malloc((size_t)V * sizeof(float)),
                                 malloc((size_t)(V / TRIL_SAMPLE_BLOCK + 1) * sizeof(double))};
        CHECK(a.cand && a.w && a.block_sums && b.cand && b.w && b.block_sums);
        const int32_t fast = tril_sample_fast(&c, logits, V, (int32_t)best, u, &a);
        CHECK(fast == tril_sample_reference(&c, logits, V, (int32_t)best, u, &b));
        check_id(&c, logits, V, fast);
        free(a.cand), free(a.w), free(a.block_sums), free(b.cand), free(b.w), free(b.block_sums);
    }
    tril_sampler_free(twin);
    tril_sampler_free(s);
    free(logits);
    return 0;
}

/* The masking numerics table: every cell is a live run of a kernel.
 *
 * Each scenario is a small problem built so that the attention output *is*
 * the probability matrix: with D = Tk, K = sqrt(D) * I and V = I, row i of
 * Q holds the scores s_ij directly, and out[i][j] = p_ij. So the library's
 * fused kernel (which never materialises P) can be measured exactly like the
 * textbook one. D = 16 keeps sqrt(D) = 4 a power of two: scores are exact. */
#include "tril/mask_numerics.h"
#include "tril/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KEYS 16 /* Tk, and D */

static const char *const scenario_names[TRIL_SCENARIO_COUNT] = {
    "normal", "fully_masked_row", "scores_below_-1e4", "q_longer_than_k"};

const char *tril_scenario_name(tril_scenario scenario)
{
    return (unsigned)scenario < TRIL_SCENARIO_COUNT ? scenario_names[scenario] : NULL;
}

const char *tril_numerics_method_name(tril_numerics_method method)
{
    switch (method) {
    case TRIL_METHOD_TEXTBOOK: return "textbook";
    case TRIL_METHOD_TRIL: return "tril";
    }
    return NULL;
}

typedef struct {
    int64_t q_len, kv_len, key_start; /* left padding: keys < key_start are pads */
    float scores[20 * KEYS];          /* [Tq, Tk], Tq <= 20 */
} scenario_problem;

static int visible(const scenario_problem *p, int64_t i, int64_t j)
{
    return j >= p->key_start && tril_causal_visible(i, j, p->q_len, p->kv_len);
}

static void build_scenario(tril_scenario scenario, uint64_t seed, scenario_problem *p)
{
    tril_rng rng;
    tril_rng_seed(&rng, seed * 0x2545f4914f6cdd1dull + (uint64_t)scenario);
    p->q_len = scenario == TRIL_SCENARIO_Q_LONGER_THAN_K ? 20 : KEYS;
    p->kv_len = KEYS;
    p->key_start = scenario == TRIL_SCENARIO_FULLY_MASKED_ROW ? 4 : 0;
    for (int64_t i = 0; i < p->q_len; i++) {
        for (int64_t j = 0; j < p->kv_len; j++) {
            double s = 2.0 * tril_rng_normal(&rng);
            /* Real scores below -1e4 on the visible keys, ordinary ones on
             * the future: a fill of -1e4 then ranks the future higher. */
            if (scenario == TRIL_SCENARIO_SCORES_BELOW_1E4 && visible(p, i, j))
                s = -15000.0 - 15000.0 * tril_rng_uniform(&rng);
            p->scores[i * KEYS + j] = (float)s;
        }
    }
}

tril_status tril_textbook_softmax(const float *scores, const uint8_t *vis, int64_t q_len,
                                  int64_t kv_len, float fill, tril_dtype dtype, float *probs)
{
    if (!scores || !vis || !probs || q_len <= 0 || kv_len <= 0)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "textbook softmax: bad arguments");
    const float fill_d = tril_round_to_dtype(fill, dtype);
    for (int64_t i = 0; i < q_len; i++) {
        const float *s = scores + i * kv_len;
        float *p = probs + i * kv_len;
        float mx = -INFINITY;
        for (int64_t j = 0; j < kv_len; j++) {
            float x = tril_round_to_dtype(s[j], dtype);
            if (!vis[i * kv_len + j]) x = tril_round_to_dtype(x + fill_d, dtype);
            p[j] = x;
            mx = fmaxf(mx, x);
        }
        /* No special case: if every x is -inf, x - mx is NaN, as in picoGPT. */
        float sum = 0.0f;
        for (int64_t j = 0; j < kv_len; j++) {
            p[j] = expf(p[j] - mx);
            sum += p[j];
        }
        for (int64_t j = 0; j < kv_len; j++) p[j] = tril_round_to_dtype(p[j] / sum, dtype);
    }
    return TRIL_OK;
}

/* Probabilities from the library's own kernel via the identity trick. */
static tril_status tril_probs(const scenario_problem *p, tril_dtype dtype, float *probs)
{
    const size_t es = tril_dtype_size(dtype);
    const int64_t tq = p->q_len, tk = p->kv_len;
    void *q = calloc((size_t)(tq * KEYS), es);  // [Tq, 1, D]
    void *k = calloc((size_t)(tk * KEYS), es);  // [Tk, 1, D]
    void *v = calloc((size_t)(tk * KEYS), es);  // [Tk, 1, D]
    void *out = calloc((size_t)(tq * KEYS), es); // [Tq, 1, D]
    tril_status st = TRIL_OK;
    if (!q || !k || !v || !out) {
        st = TRIL_FAIL(TRIL_ERR_NOMEM, "numerics: allocation failed");
        goto done;
    }
    for (int64_t i = 0; i < tq; i++)
        for (int64_t d = 0; d < KEYS; d++) tril_store_f32(q, dtype, (size_t)(i * KEYS + d), p->scores[i * KEYS + d]);
    for (int64_t j = 0; j < tk; j++) {
        tril_store_f32(k, dtype, (size_t)(j * KEYS + j), 4.0f); /* sqrt(D) */
        tril_store_f32(v, dtype, (size_t)(j * KEYS + j), 1.0f);
    }
    int64_t key_start = p->key_start, key_end = tk;
    tril_attention_args a = tril_attention_args_init();
    a.batch = 1;
    a.heads = 1;
    a.head_dim = KEYS;
    a.q_len = tq;
    a.kv_len = tk;
    a.dtype = dtype;
    a.q = q;
    a.k = k;
    a.v = v;
    a.out = out;
    a.key_start = &key_start;
    a.key_end = &key_end;
    st = tril_attention_forward(&a, TRIL_ATTN_AUTO);
    if (st == TRIL_OK)
        for (int64_t n = 0; n < tq * KEYS; n++) probs[n] = tril_load_f32(out, dtype, (size_t)n);
done:
    free(q);
    free(k);
    free(v);
    free(out);
    return st;
}

tril_status tril_mask_numerics_run(tril_numerics_cell *cell, uint64_t seed)
{
    if (!cell) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "numerics: cell must not be NULL");
    if ((unsigned)cell->scenario >= TRIL_SCENARIO_COUNT || (unsigned)cell->dtype > TRIL_BF16 ||
        (unsigned)cell->fill >= TRIL_FILL_COUNT || !tril_numerics_method_name(cell->method))
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "numerics: unknown method, fill, dtype or scenario");
    scenario_problem p;
    build_scenario(cell->scenario, seed, &p);
    /* The stored precision decides what scores exist at all. */
    for (int64_t n = 0; n < p.q_len * KEYS; n++)
        p.scores[n] = tril_round_to_dtype(p.scores[n], cell->dtype);
    float probs[20 * KEYS];
    uint8_t vis[20 * KEYS];
    for (int64_t i = 0; i < p.q_len; i++)
        for (int64_t j = 0; j < p.kv_len; j++) vis[i * KEYS + j] = (uint8_t)visible(&p, i, j);
    tril_status st;
    if (cell->method == TRIL_METHOD_TEXTBOOK)
        st = tril_textbook_softmax(p.scores, vis, p.q_len, p.kv_len,
                                   tril_fill_value(cell->fill, cell->dtype), cell->dtype, probs);
    else
        st = tril_probs(&p, cell->dtype, probs);
    if (st != TRIL_OK) return st;
    cell->rows = p.q_len;
    cell->nan_rows = 0;
    cell->future_prob = 0.0;
    int64_t finite_rows = 0;
    for (int64_t i = 0; i < p.q_len; i++) {
        int has_nan = 0;
        double worst = 0.0;
        for (int64_t j = 0; j < p.kv_len; j++) {
            float x = probs[i * KEYS + j];
            if (isnan(x)) has_nan = 1;
            else if (!vis[i * KEYS + j] && x > worst) worst = x;
        }
        if (has_nan) {
            cell->nan_rows++;
        } else {
            finite_rows++;
            if (worst > cell->future_prob) cell->future_prob = worst;
        }
    }
    if (finite_rows == 0) cell->future_prob = NAN; /* nothing left to measure */
    return TRIL_OK;
}

size_t tril_mask_numerics_table_size(void)
{
    return (size_t)(TRIL_FILL_COUNT + 1) * 3 * TRIL_SCENARIO_COUNT;
}

tril_status tril_mask_numerics_table(tril_numerics_cell *cells, size_t capacity, uint64_t seed)
{
    if (!cells || capacity < tril_mask_numerics_table_size())
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "numerics: need room for %zu cells",
                         tril_mask_numerics_table_size());
    size_t n = 0;
    for (int f = 0; f <= TRIL_FILL_COUNT; f++) {
        for (int dt = TRIL_F32; dt <= TRIL_BF16; dt++) {
            for (int sc = 0; sc < TRIL_SCENARIO_COUNT; sc++) {
                tril_numerics_cell *c = &cells[n++];
                memset(c, 0, sizeof *c);
                c->method = f == TRIL_FILL_COUNT ? TRIL_METHOD_TRIL : TRIL_METHOD_TEXTBOOK;
                c->fill = f == TRIL_FILL_COUNT ? TRIL_FILL_NEG_INF : (tril_fill)f;
                c->dtype = (tril_dtype)dt;
                c->scenario = (tril_scenario)sc;
                tril_status st = tril_mask_numerics_run(c, seed);
                if (st != TRIL_OK) return st;
            }
        }
    }
    return TRIL_OK;
}

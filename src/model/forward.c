/* GPT-2 forward pass with a KV cache.
 *
 * Prefill and decoding are the same call: new tokens at positions
 * pos..pos+n-1 attend to the cache (keys 0..pos+n-1) through the causal core,
 * whose structural mask hides the future inside the new block; a single new
 * token has no future at all. Nothing is ever recomputed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/big_alloc.h"
#include "core/parallel.h"
#include "model/gpt2_internal.h"
#include "model/lowp.h"
#include "tril/attention.h"
#include "tril/cpu.h"
#include "tril/ops.h"

struct tril_gpt2_state {
    int64_t max_tokens; /* cache capacity */
    int64_t max_batch;  /* tokens per forward call */
    int64_t pos;        /* tokens in the cache */
    tril_dtype kv_dtype;/* of the cache: the model's when the state was made */
    void *k_cache;      // [L, max_tokens, C] in kv_dtype
    void *v_cache;      // [L, max_tokens, C]
    float *x;           // [max_batch, C] residual stream
    float *ln;          // [max_batch, C]
    float *qkv;         // [max_batch, 3C]
    float *att;         // [max_batch, C]
    float *proj;        // [max_batch, C]
    float *fc;          // [max_batch, I] (I: the MLP width)
    int64_t wide;       /* W = max(3C, I): the widest layer output */
    float *partials;    // [TRIL_MATVEC_BLOCKS - 1, W] fp32 decoding: block sums
    float *wbuf;        // [W, C] bf16 / int8 model, batches > 1: one widened matrix
};

/* on a cache line: the kernels load rows as vectors */
static float *alloc_floats(int64_t n) { return n > 0 ? tril_line_alloc((size_t)n, sizeof(float), 0) : NULL; }

tril_status tril_gpt2_state_create(const tril_gpt2 *model, int64_t max_tokens,
                                   int64_t max_batch_tokens, tril_gpt2_state **out)
{
    if (!model || !out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "state: NULL argument");
    tril_status isa_ok = tril_cpu_check_isa_env(); /* the kernels this state will run */
    if (isa_ok != TRIL_OK) return isa_ok;
    const tril_gpt2_config *c = &model->cfg;
    if (max_tokens < 1 || max_tokens > c->n_positions)
        return TRIL_FAIL(TRIL_ERR_RANGE, "state: max_tokens %lld outside [1, %lld]",
                         (long long)max_tokens, (long long)c->n_positions);
    if (max_batch_tokens < 1 || max_batch_tokens > max_tokens)
        return TRIL_FAIL(TRIL_ERR_RANGE, "state: max_batch_tokens %lld outside [1, %lld]",
                         (long long)max_batch_tokens, (long long)max_tokens);
    tril_gpt2_state *s = calloc(1, sizeof *s);
    if (!s) return TRIL_FAIL(TRIL_ERR_NOMEM, "state: out of memory");
    const int64_t C = c->n_embd, B = max_batch_tokens, I = tril_gpt2_mlp_width(c);
    s->wide = I > 3 * C ? I : 3 * C;
    s->max_tokens = max_tokens;
    s->max_batch = B;
    s->kv_dtype = model->kv_dtype;
    const size_t kv_es = tril_dtype_size(s->kv_dtype);
    s->k_cache = tril_big_alloc_array((size_t)(c->n_layer * max_tokens * C), kv_es, 0);
    s->v_cache = tril_big_alloc_array((size_t)(c->n_layer * max_tokens * C), kv_es, 0);
    s->x = alloc_floats(B * C);
    s->ln = alloc_floats(B * C);
    s->qkv = alloc_floats(B * 3 * C);
    s->att = alloc_floats(B * C);
    s->proj = alloc_floats(B * C);
    s->fc = alloc_floats(B * I);
    int scratch_ok = (s->partials = alloc_floats(TRIL_MATVEC_PARTIALS(s->wide))) != NULL;
    if (lowp_widens(model) && B > 1)
        scratch_ok &= (s->wbuf = alloc_floats(s->wide * C)) != NULL;
    if (!s->k_cache || !s->v_cache || !s->x || !s->ln || !s->qkv || !s->att || !s->proj || !s->fc ||
        !scratch_ok) {
        tril_gpt2_state_free(s);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "state: cannot allocate the KV cache (%lld tokens)",
                         (long long)max_tokens);
    }
    *out = s;
    return TRIL_OK;
}

void tril_gpt2_state_free(tril_gpt2_state *s)
{
    if (!s) return;
    free(s->k_cache);
    free(s->v_cache);
    free(s->x);
    free(s->ln);
    free(s->qkv);
    free(s->att);
    free(s->proj);
    free(s->fc);
    free(s->partials);
    free(s->wbuf);
    free(s);
}

void tril_gpt2_state_reset(tril_gpt2_state *s) { s->pos = 0; }

int64_t tril_gpt2_state_position(const tril_gpt2_state *s) { return s->pos; }

static tril_status check_input(const tril_gpt2 *m, const tril_gpt2_state *s, const int32_t *ids,
                               int64_t n)
{
    if (!m || !s || !ids) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "forward: NULL argument");
    if (n < 1 || n > s->max_batch)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "forward: %lld tokens, this state takes 1..%lld",
                         (long long)n, (long long)s->max_batch);
    if (s->pos + n > s->max_tokens)
        return TRIL_FAIL(TRIL_ERR_RANGE, "context full: %lld + %lld tokens > %lld",
                         (long long)s->pos, (long long)n, (long long)s->max_tokens);
    for (int64_t t = 0; t < n; t++)
        if (ids[t] < 0 || ids[t] >= m->cfg.vocab_size)
            return TRIL_FAIL(TRIL_ERR_RANGE, "token id %d at position %lld is outside [0, %lld)",
                             ids[t], (long long)t, (long long)m->cfg.vocab_size);
    return TRIL_OK;
}

int tril_gpt2_products_threaded(const tril_gpt2 *m)
{
    const double C = (double)m->cfg.n_embd;
    return tril_threads_for_streamed(3.0 * C * C * (double)tril_dtype_size(m->weight_dtype)) > 1;
}

/* Self-attention of layer l for n new tokens: their q, k, v are in s->qkv;
 * k and v join the cache, and q attends to the whole cache. */
static tril_status attend(const tril_gpt2 *m, tril_gpt2_state *s, int64_t l, int64_t n)
{
    const int64_t C = m->cfg.n_embd;
    const size_t es = tril_dtype_size(s->kv_dtype);
    char *kc = (char *)s->k_cache + (size_t)(l * s->max_tokens * C) * es;
    char *vc = (char *)s->v_cache + (size_t)(l * s->max_tokens * C) * es;
    for (int64_t t = 0; t < n; t++) {
        const size_t at = (size_t)((s->pos + t) * C) * es;
        tril_convert_from_f32(kc + at, s->kv_dtype, s->qkv + t * 3 * C + C, (size_t)C);
        tril_convert_from_f32(vc + at, s->kv_dtype, s->qkv + t * 3 * C + 2 * C, (size_t)C);
    }
    tril_attention_args a = tril_attention_args_init();
    a.batch = 1;
    a.heads = m->cfg.n_head;
    a.head_dim = C / m->cfg.n_head;
    a.q_len = n;
    a.kv_len = s->pos + n;
    a.q = s->qkv;
    a.q_row_stride = 3 * C;
    a.k = kc;
    a.v = vc;
    a.kv_dtype = s->kv_dtype;
    a.out = s->att;
    a.scale = tril_gpt2_attn_scale(&m->cfg, l); /* scale_attn_weights, ..._inverse_layer_idx */
    a.threads_awake = tril_gpt2_products_threaded(m);
    return tril_attention_forward(&a, TRIL_ATTN_AUTO);
}

/* y[n, out] = x[n, in] w + b: the bf16 / int8 model's transposed copy if
 * it has one, our GEMV for one fp32 row (decoding), BLAS otherwise. */
static tril_status layer_matmul(const tril_gpt2 *m, const tril_gpt2_state *s, float *y,
                                const float *x, const float *w, tril_lowp wt, const float *b,
                                int64_t n, int64_t in, int64_t out)
{
    if (wt.data) return lowp_matmul(m->weight_dtype, wt, y, x, b, n, in, out, s->wbuf);
    if (n > 1) return tril_matmul(y, x, w, b, n, in, out);
    tril_matvec(y, x, w, b, in, out, s->partials);
    return TRIL_OK;
}

static void embed(const tril_gpt2 *m, tril_gpt2_state *s, const int32_t *ids, int64_t n, int64_t pos)
{
    if (m->wte_lowp.data)
        lowp_embed(m->weight_dtype, m->wte_lowp, s->x, ids, n, pos, m->wpe, m->cfg.n_embd, m->cfg.vocab_size);
    else tril_embed(s->x, ids, n, pos, m->wte, m->wpe, m->cfg.n_embd);
}

/* Runs the blocks [0, layers) over the n new tokens in s->x. */
static tril_status run_blocks(const tril_gpt2 *m, tril_gpt2_state *s, int64_t n, int64_t layers)
{
    const int64_t C = m->cfg.n_embd, I = tril_gpt2_mlp_width(&m->cfg);
    const float eps = m->cfg.layer_norm_epsilon;
    tril_status st = TRIL_OK;
    for (int64_t l = 0; l < layers && st == TRIL_OK; l++) {
        const tril_gpt2_layer *L = &m->layers[l];
        tril_layernorm(s->ln, s->x, L->ln1_w, L->ln1_b, n, C, eps);
        st = layer_matmul(m, s, s->qkv, s->ln, L->attn_w, L->attn_wt, L->attn_b, n, C, 3 * C);
        if (st == TRIL_OK) st = attend(m, s, l, n);
        if (st != TRIL_OK) break;
        st = layer_matmul(m, s, s->proj, s->att, L->proj_w, L->proj_wt, L->proj_b, n, C, C);
        if (st != TRIL_OK) break;
        tril_add_inplace(s->x, s->proj, n * C);
        tril_layernorm(s->ln, s->x, L->ln2_w, L->ln2_b, n, C, eps);
        st = layer_matmul(m, s, s->fc, s->ln, L->fc_w, L->fc_wt, L->fc_b, n, C, I);
        if (st != TRIL_OK) break;
        tril_gelu(s->fc, s->fc, n * I);
        st = layer_matmul(m, s, s->proj, s->fc, L->fcproj_w, L->fcproj_wt, L->fcproj_b, n, I, C);
        if (st != TRIL_OK) break;
        tril_add_inplace(s->x, s->proj, n * C);
    }
    return st;
}

tril_status tril_gpt2_check_logits(const float *logits, int64_t rows, int64_t vocab,
                                   int64_t first_position, int64_t seq_len)
{
    const size_t n = (size_t)(rows * vocab), k = tril_find_nonfinite(logits, TRIL_F32, n);
    if (k == n) return TRIL_OK;
    const int64_t row = (int64_t)(k / (size_t)vocab);
    return TRIL_FAIL(TRIL_ERR_RANGE,
                     "non-finite logit (%s) at position %lld, token %lld (weights or inputs "
                     "overflow)",
                     isnan(logits[k]) ? "nan" : logits[k] > 0 ? "inf" : "-inf",
                     (long long)(first_position + row % seq_len), (long long)(k % (size_t)vocab));
}

tril_status tril_gpt2_forward(const tril_gpt2 *m, tril_gpt2_state *s, const int32_t *ids,
                              int64_t n, float *logits_last, float *logits_all)
{
    tril_status st = check_input(m, s, ids, n);
    if (st != TRIL_OK) return st;
    const int64_t C = m->cfg.n_embd, V = m->cfg.vocab_size;
    embed(m, s, ids, n, s->pos);
    if ((st = run_blocks(m, s, n, m->cfg.n_layer)) != TRIL_OK) return st;
    s->pos += n;
    /* The head costs V*C per row: only the rows asked for. */
    if (logits_all) {
        tril_layernorm(s->ln, s->x, m->lnf_w, m->lnf_b, n, C, m->cfg.layer_norm_epsilon);
        st = m->wte_lowp.data
                 ? lowp_head(m->weight_dtype, m->wte_lowp, logits_all, s->ln, n, C, V, s->wbuf, s->wide)
                 : tril_lm_head(logits_all, s->ln, m->wte, n, C, V);
        if (st != TRIL_OK) return st;
        if (logits_last) memcpy(logits_last, logits_all + (n - 1) * V, (size_t)V * sizeof(float));
        return tril_gpt2_check_logits(logits_all, n, V, s->pos - n, n);
    } else if (logits_last) {
        tril_layernorm(s->ln, s->x + (n - 1) * C, m->lnf_w, m->lnf_b, 1, C,
                       m->cfg.layer_norm_epsilon);
        st = m->wte_lowp.data
                 ? lowp_head(m->weight_dtype, m->wte_lowp, logits_last, s->ln, 1, C, V, NULL, 0)
                 : tril_lm_head(logits_last, s->ln, m->wte, 1, C, V);
        if (st != TRIL_OK) return st;
        return tril_gpt2_check_logits(logits_last, 1, V, s->pos - 1, 1);
    }
    return TRIL_OK;
}

tril_status tril_gpt2_attention_probs(const tril_gpt2 *m, const int32_t *ids, int64_t n,
                                      int64_t layer, int64_t head, float *probs)
{
    if (!m || !probs) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "attention probs: NULL argument");
    if (layer < 0 || layer >= m->cfg.n_layer || head < 0 || head >= m->cfg.n_head)
        return TRIL_FAIL(TRIL_ERR_RANGE, "layer %lld / head %lld outside the model's %lld x %lld",
                         (long long)layer, (long long)head, (long long)m->cfg.n_layer,
                         (long long)m->cfg.n_head);
    if (n > m->cfg.n_positions)
        return TRIL_FAIL(TRIL_ERR_RANGE, "prompt of %lld tokens is longer than the context (%lld)",
                         (long long)n, (long long)m->cfg.n_positions);
    tril_gpt2_state *s;
    tril_status st = tril_gpt2_state_create(m, n > 0 ? n : 1, n > 0 ? n : 1, &s);
    if (st != TRIL_OK) return st;
    if ((st = check_input(m, s, ids, n)) == TRIL_OK) {
        const int64_t C = m->cfg.n_embd, D = C / m->cfg.n_head;
        const double scale = tril_gpt2_attn_scale(&m->cfg, layer);
        const tril_gpt2_layer *L = &m->layers[layer];
        embed(m, s, ids, n, 0);
        if ((st = run_blocks(m, s, n, layer)) == TRIL_OK) {
            tril_layernorm(s->ln, s->x, L->ln1_w, L->ln1_b, n, C, m->cfg.layer_norm_epsilon);
            st = layer_matmul(m, s, s->qkv, s->ln, L->attn_w, L->attn_wt, L->attn_b, n, C, 3 * C);
        }
        if (st == TRIL_OK) {
            /* Written out (not fused): the picture needs the probabilities. */
            for (int64_t i = 0; i < n; i++) {
                const float *q = s->qkv + i * 3 * C + head * D;
                double mx = -INFINITY, sum = 0.0;
                float *row = probs + i * n;
                for (int64_t j = 0; j < n; j++) {
                    if (j > i) { row[j] = 0.0f; continue; } /* the future: never read */
                    const float *k = s->qkv + j * 3 * C + C + head * D;
                    double dot = 0.0;
                    for (int64_t d = 0; d < D; d++) dot += (double)q[d] * k[d];
                    row[j] = (float)(dot * scale);
                    mx = row[j] > mx ? row[j] : mx;
                }
                for (int64_t j = 0; j <= i; j++) sum += exp(row[j] - mx);
                for (int64_t j = 0; j <= i; j++) row[j] = (float)(exp(row[j] - mx) / sum);
            }
        }
    }
    tril_gpt2_state_free(s);
    return st;
}

/* One engine step through the model: the dense layers over every row of
 * the step, attention per sequence against its own paged KV cache.
 *
 * What makes a request's result independent of the batch (docs/SERVING.md):
 * a sequence with one row this step (decoding), or a prompt chunk of at
 * most TRIL_ENGINE_ROWWISE_MAX rows, goes through the several-row GEMVs,
 * whose every row is bit for bit the one-row kernel's (on Intel AMX every
 * chunk does: the tile product's rows do not depend on their neighbours);
 * a longer prompt chunk gets its own GEMM over exactly its rows, as it
 * would alone; the row-wise ops (LayerNorm, GELU, residual adds) are the
 * same per row whatever surrounds it; attention runs per sequence with its own past.
 * So the rows a sequence contributes, and every operation on them, depend
 * only on that sequence. */
#include <string.h>

#include "model/engine_internal.h"
#include "model/lowp.h"
#include "tril/attention.h"
#include "tril/cpu.h"
#include "tril/ops.h"

/* y = x w + b over the step's rows: the row-wise sequences together (rows
 * [0, rowwise_rows)), each other prompt chunk alone. */
static tril_status dense(tril_engine *e, int64_t n_seqs, int64_t rowwise_rows, float *y,
                         const float *x, const float *w, tril_lowp wt, const float *b,
                         int64_t in, int64_t out)
{
    const tril_dtype d = e->model->weight_dtype;
    if (rowwise_rows > 0) {
        if (wt.data) {
            tril_status st = lowp_matvec_rows(d, wt, y, x, b, rowwise_rows, in, out);
            if (st != TRIL_OK) return st;
        } else {
            for (int64_t r0 = 0; r0 < rowwise_rows; r0 += e->group_rows) {
                const int64_t n = rowwise_rows - r0 < e->group_rows ? rowwise_rows - r0 : e->group_rows;
                tril_matvec_rows(y + r0 * out, x + r0 * in, w, b, n, in, out, e->partials);
            }
        }
    }
    for (int64_t k = 0; k < n_seqs; k++) {
        const engine_seq *s = &e->seqs[e->order[k]];
        if (s->row0 < rowwise_rows) continue;
        const float *xs = x + s->row0 * in;
        float *ys = y + s->row0 * out;
        tril_status st = wt.data ? lowp_matmul(d, wt, ys, xs, b, s->rows, in, out, e->wbuf)
                                 : tril_matmul(ys, xs, w, b, s->rows, in, out);
        if (st != TRIL_OK) return st;
    }
    return TRIL_OK;
}

/* Layer l's attention for sequence s: its new keys and values go to its
 * blocks, then its rows attend to its whole cache (the causal rule offset
 * by its past), reading the blocks in place. */
static tril_status attend(tril_engine *e, const engine_seq *s, int64_t l)
{
    const int64_t C = e->C, bt = e->cfg.kv_block_tokens;
    const size_t es = tril_dtype_size(e->kv_dtype);
    char *kp = (char *)e->k_pool + (size_t)(l * e->kv_blocks * bt * C) * es;
    char *vp = (char *)e->v_pool + (size_t)(l * e->kv_blocks * bt * C) * es;
    for (int64_t t = 0; t < s->rows; t++) {
        const int64_t j = s->pos + t;
        const int64_t row = (int64_t)s->blocks[j / bt] * bt + j % bt;
        const float *qkv = e->qkv + (s->row0 + t) * 3 * C;
        tril_convert_from_f32(kp + (size_t)(row * C) * es, e->kv_dtype, qkv + C, (size_t)C);
        tril_convert_from_f32(vp + (size_t)(row * C) * es, e->kv_dtype, qkv + 2 * C, (size_t)C);
    }
    const tril_gpt2 *m = e->model;
    tril_attention_args a = tril_attention_args_init();
    a.batch = 1;
    a.heads = m->cfg.n_head;
    a.head_dim = C / m->cfg.n_head;
    a.q_len = s->rows;
    a.kv_len = s->pos + s->rows;
    a.q = e->qkv + s->row0 * 3 * C;
    a.q_row_stride = 3 * C;
    a.k = kp;
    a.v = vp;
    a.kv_dtype = e->kv_dtype;
    a.kv_row_stride = C;
    a.kv_page_table = s->blocks;
    a.kv_page_rows = bt;
    a.kv_pages_per_seq = e->pages_per_seq;
    a.kv_pages = e->kv_blocks;
    a.out = e->att + s->row0 * C;
    a.scale = tril_gpt2_attn_scale(&m->cfg, l);
    a.threads_awake = tril_gpt2_products_threaded(m);
    return tril_attention_forward(&a, TRIL_ATTN_AUTO);
}

/* Layer l's attention for every sequence of the step. A decoding sequence
 * (one row) is a few microseconds of work: they run one per thread, all
 * at once, instead of one parallel region each (the kernel's split of the
 * keys into chunks, and so its result, does not depend on the threads
 * that run it). Fewer decoding sequences than threads run one by one, each
 * on all the threads (inside a region the kernel would get one: a lone
 * generation's attention at 1000 positions ran on one of two cores).
 * Prompt chunks then run one by one on all the threads. */
static tril_status attend_all(tril_engine *e, int64_t n_seqs, int64_t l)
{
    int64_t decoding = 0;
    for (int64_t k = 0; k < n_seqs; k++) decoding += e->seqs[e->order[k]].rows == 1;
    if (decoding < tril_get_num_threads()) {
        for (int64_t k = 0; k < n_seqs; k++) {
            const tril_status st = attend(e, &e->seqs[e->order[k]], l);
            if (st != TRIL_OK) return st;
        }
        return TRIL_OK;
    }
    int64_t failed_at = -1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(tril_get_num_threads())
    for (int64_t k = 0; k < n_seqs; k++) {
        const engine_seq *s = &e->seqs[e->order[k]];
        if (s->rows == 1 && attend(e, s, l) != TRIL_OK) {
#pragma omp critical(tril_engine_attend)
            if (failed_at < 0 || k < failed_at) failed_at = k;
        }
    }
    /* the error message is the failing thread's: make it again here */
    if (failed_at >= 0) return attend(e, &e->seqs[e->order[failed_at]], l);
    for (int64_t k = 0; k < n_seqs; k++) {
        const engine_seq *s = &e->seqs[e->order[k]];
        if (s->rows > 1) {
            const tril_status st = attend(e, s, l);
            if (st != TRIL_OK) return st;
        }
    }
    return TRIL_OK;
}

tril_status tril_engine_forward(tril_engine *e, int64_t n_seqs, int64_t rowwise_rows,
                                int64_t rows)
{
    const tril_gpt2 *m = e->model;
    const int64_t C = e->C, I = e->I;
    const float eps = m->cfg.layer_norm_epsilon;
    for (int64_t k = 0; k < n_seqs; k++) {
        const engine_seq *s = &e->seqs[e->order[k]];
        float *x = e->x + s->row0 * C;
        const int32_t *ids = e->ids + s->row0;
        if (m->wte_lowp.data)
            lowp_embed(m->weight_dtype, m->wte_lowp, x, ids, s->rows, s->pos, m->wpe, C, e->V);
        else tril_embed(x, ids, s->rows, s->pos, m->wte, m->wpe, C);
    }
    tril_status st = TRIL_OK;
    for (int64_t l = 0; l < e->L && st == TRIL_OK; l++) {
        const tril_gpt2_layer *L = &m->layers[l];
        tril_layernorm(e->ln, e->x, L->ln1_w, L->ln1_b, rows, C, eps);
        st = dense(e, n_seqs, rowwise_rows, e->qkv, e->ln, L->attn_w, L->attn_wt, L->attn_b, C,
                   3 * C);
        if (st == TRIL_OK) st = attend_all(e, n_seqs, l);
        if (st != TRIL_OK) break;
        st = dense(e, n_seqs, rowwise_rows, e->proj, e->att, L->proj_w, L->proj_wt, L->proj_b, C, C);
        if (st != TRIL_OK) break;
        tril_add_inplace(e->x, e->proj, rows * C);
        tril_layernorm(e->ln, e->x, L->ln2_w, L->ln2_b, rows, C, eps);
        st = dense(e, n_seqs, rowwise_rows, e->fc, e->ln, L->fc_w, L->fc_wt, L->fc_b, C, I);
        if (st != TRIL_OK) break;
        tril_gelu(e->fc, e->fc, rows * I);
        st = dense(e, n_seqs, rowwise_rows, e->proj, e->fc, L->fcproj_w, L->fcproj_wt, L->fcproj_b,
                   I, C);
        if (st != TRIL_OK) break;
        tril_add_inplace(e->x, e->proj, rows * C);
    }
    if (st != TRIL_OK) return st;
    /* The head costs V*C per row: only each sampling sequence's last row. */
    int64_t heads = 0;
    for (int64_t k = 0; k < n_seqs; k++) {
        const engine_seq *s = &e->seqs[e->order[k]];
        if (!s->wants_logits) continue;
        tril_layernorm(e->head_in + heads * C, e->x + (s->row0 + s->rows - 1) * C, m->lnf_w,
                       m->lnf_b, 1, C, eps);
        heads++;
    }
    if (heads > 0 && m->wte_lowp.data)
        return lowp_head_rows(m->weight_dtype, m->wte_lowp, e->logits, e->head_in, heads, C, e->V);
    if (heads > 0)
        tril_lm_head_rows(e->logits, e->head_in, m->wte, NULL, heads, C, e->V);
    return TRIL_OK;
}

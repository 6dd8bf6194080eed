/* Tiled online-softmax ("flash" style) causal attention for CPUs.
 *
 * Compiled once per instruction set with TRIL_ISA_SUFFIX naming the entry
 * point. Work units are (batch, head, block of ROW_BLOCK query rows), shared
 * out dynamically with OpenMP. Within a unit, keys are taken KEY_TILE at a
 * time: each tile of K is packed transposed (and V contiguous), converted to
 * fp32 once, and reused by every micro-block of QK_ROWS query rows. Tiles that
 * lie wholly in the future of a micro-block are never visited (loop bounds),
 * and inside the diagonal tile each row reads only the values it may see. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"
#include "attention/simd.h"

#ifndef TRIL_ISA_SUFFIX
#error "TRIL_ISA_SUFFIX must name the instruction set of this build"
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define KERNEL_ENTRY CAT(tril_attention_tiled_, TRIL_ISA_SUFFIX)

#define VL TRIL_VL
#define KEY_TILE (2 * VL) /* keys per tile: two score vectors per row */
#define ROW_BLOCK 64      /* query rows per work unit */
#if defined(__AVX512F__)
#define QK_ROWS 8 /* 8 rows x 2 vectors = 16 score accumulators */
#define PV_VECS 4 /* 4 rows x 4 vectors = 16 output accumulators */
#else
#define QK_ROWS 4
#define PV_VECS 2
#endif
#define PV_ROWS 4

typedef struct {
    float *q;  // [ROW_BLOCK, dp] scaled queries
    float *kt; // [dp, KEY_TILE] transposed key tile
    float *v;  // [KEY_TILE, dp] value tile
    float *o;  // [ROW_BLOCK, dp] unnormalised output accumulators
    float *s;  // [QK_ROWS, KEY_TILE] scores, then probabilities
    float *m;  // [ROW_BLOCK] running row max
    float *l;  // [ROW_BLOCK] running row sum of exp
    attn_row_window *win; // [ROW_BLOCK]
} tile_buffers;

static void *alloc_floats(size_t n) { return aligned_alloc(64, ((n * 4 + 63) / 64) * 64); }

static int buffers_alloc(tile_buffers *t, int64_t dp)
{
    memset(t, 0, sizeof *t);
    t->q = alloc_floats((size_t)(ROW_BLOCK * dp));
    t->kt = alloc_floats((size_t)(dp * KEY_TILE));
    t->v = alloc_floats((size_t)(KEY_TILE * dp));
    t->o = alloc_floats((size_t)(ROW_BLOCK * dp));
    t->s = alloc_floats(QK_ROWS * KEY_TILE);
    t->m = alloc_floats(ROW_BLOCK);
    t->l = alloc_floats(ROW_BLOCK);
    t->win = malloc(ROW_BLOCK * sizeof *t->win);
    return t->q && t->kt && t->v && t->o && t->s && t->m && t->l && t->win;
}

static void buffers_free(tile_buffers *t)
{
    free(t->q);
    free(t->kt);
    free(t->v);
    free(t->o);
    free(t->s);
    free(t->m);
    free(t->l);
    free(t->win);
}

/* Reads `n` elements of a view into fp32, zero-filling up to `padded`. */
static void load_row(float *dst, const void *src, tril_dtype dtype, int64_t offset, int64_t n,
                     int64_t padded, float mul)
{
    if (dtype == TRIL_F32) {
        const float *p = (const float *)src + offset;
        for (int64_t d = 0; d < n; d++) dst[d] = p[d] * mul;
    } else {
        for (int64_t d = 0; d < n; d++) dst[d] = tril_load_f32(src, dtype, (size_t)(offset + d)) * mul;
    }
    for (int64_t d = n; d < padded; d++) dst[d] = 0.0f;
}

/* s[r][c] = q[r] . kt[:, c] for QK_ROWS rows and KEY_TILE keys. */
static void qk_tile(const float *q, int64_t dp, const float *kt, float *s)
{
    vf acc[QK_ROWS][2];
    for (int r = 0; r < QK_ROWS; r++) acc[r][0] = acc[r][1] = vbcast(0.0f);
    for (int64_t d = 0; d < dp; d++) {
        vf k0 = vload(kt + d * KEY_TILE), k1 = vload(kt + d * KEY_TILE + VL);
        for (int r = 0; r < QK_ROWS; r++) {
            vf qv = vbcast(q[r * dp + d]);
            acc[r][0] += qv * k0;
            acc[r][1] += qv * k1;
        }
    }
    for (int r = 0; r < QK_ROWS; r++) {
        vstore(s + r * KEY_TILE, acc[r][0]);
        vstore(s + r * KEY_TILE + VL, acc[r][1]);
    }
}

/* o[r][dv : dv + nv*VL] += sum_j p[r][j] v[j][same] for PV_ROWS rows. */
VINLINE void pv_chunk(float *o, const float *p, const float *v, int64_t dp, int64_t n, int64_t dv,
                      const int nv)
{
    vf acc[PV_ROWS][PV_VECS];
    for (int r = 0; r < PV_ROWS; r++)
        for (int c = 0; c < nv; c++) acc[r][c] = vload(o + r * dp + dv + c * VL);
    for (int64_t j = 0; j < n; j++) {
        vf vv[PV_VECS];
        for (int c = 0; c < nv; c++) vv[c] = vload(v + j * dp + dv + c * VL);
        for (int r = 0; r < PV_ROWS; r++) {
            vf pr = vbcast(p[r * KEY_TILE + j]);
            for (int c = 0; c < nv; c++) acc[r][c] += pr * vv[c];
        }
    }
    for (int r = 0; r < PV_ROWS; r++)
        for (int c = 0; c < nv; c++) vstore(o + r * dp + dv + c * VL, acc[r][c]);
}

/* Blocked P.V for QK_ROWS rows over keys [0, n) of the tile. */
static void pv_block(float *o, const float *p, const float *v, int64_t dp, int64_t n)
{
    for (int rg = 0; rg < QK_ROWS; rg += PV_ROWS) {
        int64_t dv = 0;
        for (; dv + PV_VECS * VL <= dp; dv += PV_VECS * VL)
            pv_chunk(o + rg * dp, p + rg * KEY_TILE, v, dp, n, dv, PV_VECS);
        for (; dv < dp; dv += VL) pv_chunk(o + rg * dp, p + rg * KEY_TILE, v, dp, n, dv, 1);
    }
}

/* One row's P.V over keys [c0, c1) of the tile: the diagonal-tile path,
 * which never touches a value the row may not see. */
static void pv_row(float *o, const float *p, const float *v, int64_t dp, int64_t c0, int64_t c1)
{
    for (int64_t dv = 0; dv < dp; dv += VL) {
        vf acc = vload(o + dv);
        for (int64_t j = c0; j < c1; j++) acc += vbcast(p[j]) * vload(v + j * dp + dv);
        vstore(o + dv, acc);
    }
}

/* Columns [c0, c1) of the tile at j0 that this row scores and sums over. */
static void row_columns(const tril_attention_args *a, const attn_row_window *w, int64_t j0,
                        int64_t n, int64_t *c0, int64_t *c1)
{
    int structural = a->mask == TRIL_MASK_STRUCTURAL || a->mask == TRIL_MASK_NONE;
    int64_t lo = structural ? w->lo : w->read_lo, hi = structural ? w->hi : w->read_hi;
    *c0 = attn_max64(lo - j0, 0);
    *c1 = attn_max64(attn_min64(hi - j0, n), *c0);
}

/* Applies the mask to one row of raw scores and folds it into the running
 * softmax; leaves probabilities in s. Returns 0 if the row has nothing yet. */
static int softmax_update(const tril_attention_args *a, const attn_row_window *w, int64_t j0,
                          int64_t n, float *s, float *m, float *l, float *o, int64_t dp)
{
    int64_t c0, c1;
    row_columns(a, w, j0, n, &c0, &c1);
    if (a->mask == TRIL_MASK_ADDITIVE || a->mask == TRIL_MASK_BOOLEAN) {
        for (int64_t c = c0; c < c1; c++) {
            int64_t j = j0 + c;
            if (j < w->lo || j >= w->hi) s[c] = attn_masked_score(a, s[c]);
        }
    }
    /* Select, not arithmetic: a score computed from a key outside [c0, c1)
     * may be garbage (even NaN) and must vanish without a trace. */
    const vf neg_inf = vbcast(-INFINITY);
    vi lane;
    for (int i = 0; i < VL; i++) lane[i] = i;
    vf s0 = vload(s), s1 = vload(s + VL);
    vi in0 = (lane >= (int32_t)c0) & (lane < (int32_t)c1);
    vi in1 = (lane + VL >= (int32_t)c0) & (lane + VL < (int32_t)c1);
    s0 = vsel(in0, s0, neg_inf);
    s1 = vsel(in1, s1, neg_inf);
    float m_tile = vhmax(vmax(s0, s1));
    float m_new = m_tile > *m ? m_tile : *m;
    if (m_new == -INFINITY) return 0;
    float alpha = expf(*m - m_new);
    vf mv = vbcast(m_new);
    vf p0 = vexp(s0 - mv), p1 = vexp(s1 - mv);
    *l = *l * alpha + vhsum(p0 + p1);
    *m = m_new;
    if (alpha != 1.0f) {
        vf av = vbcast(alpha);
        for (int64_t d = 0; d < dp; d += VL) vstore(o + d, vload(o + d) * av);
    }
    vstore(s, p0);
    vstore(s + VL, p1);
    return 1;
}

static void pack_tile(const tril_attention_args *a, tile_buffers *t, int64_t b, int64_t h,
                      int64_t j0, int64_t n, int64_t dp)
{
    const int64_t D = a->head_dim;
    for (int64_t c = 0; c < KEY_TILE; c++) {
        if (c < n) {
            int64_t off = b * a->kv_batch_stride + (j0 + c) * a->kv_row_stride + h * D;
            if (a->dtype == TRIL_F32) {
                const float *k = (const float *)a->k + off;
                for (int64_t d = 0; d < D; d++) t->kt[d * KEY_TILE + c] = k[d];
            } else {
                for (int64_t d = 0; d < D; d++)
                    t->kt[d * KEY_TILE + c] = tril_load_f32(a->k, a->dtype, (size_t)(off + d));
            }
            load_row(t->v + c * dp, a->v, a->dtype, off, D, dp, 1.0f);
        } else {
            for (int64_t d = 0; d < D; d++) t->kt[d * KEY_TILE + c] = 0.0f;
        }
        for (int64_t d = D; d < dp; d++) t->kt[d * KEY_TILE + c] = 0.0f;
    }
}

static void run_unit(const tril_attention_args *a, tile_buffers *t, int64_t b, int64_t h,
                     int64_t i0, int64_t dp)
{
    const int64_t D = a->head_dim, Tq = a->q_len;
    const int64_t rows = attn_min64(ROW_BLOCK, Tq - i0);
    const int64_t rows_padded = (rows + QK_ROWS - 1) / QK_ROWS * QK_ROWS;
    int64_t j_lo = INT64_MAX, j_hi = 0;
    for (int64_t r = 0; r < rows_padded; r++) {
        /* Padding rows copy the last real row so they stay finite. */
        int64_t i = i0 + attn_min64(r, rows - 1);
        int64_t q_off = b * a->q_batch_stride + i * a->q_row_stride + h * D;
        load_row(t->q + r * dp, a->q, a->dtype, q_off, D, dp, a->scale);
        t->win[r] = attn_row(a, b, i);
        t->m[r] = -INFINITY;
        t->l[r] = 0.0f;
        memset(t->o + r * dp, 0, (size_t)dp * sizeof(float));
        j_lo = attn_min64(j_lo, t->win[r].read_lo);
        j_hi = attn_max64(j_hi, t->win[r].read_hi);
    }
    for (int64_t j0 = j_lo; j0 < j_hi; j0 += KEY_TILE) {
        const int64_t n = attn_min64(KEY_TILE, j_hi - j0);
        pack_tile(a, t, b, h, j0, n, dp);
        for (int64_t r0 = 0; r0 < rows_padded; r0 += QK_ROWS) {
            const attn_row_window *w = &t->win[r0];
            /* Rows of a micro-block are in order, so its last row reads the
             * furthest: a tile beyond it is the future of all of them. */
            if (j0 >= w[QK_ROWS - 1].read_hi || j0 + n <= w[0].read_lo) continue;
            qk_tile(t->q + r0 * dp, dp, t->kt, t->s);
            int full = 1;
            for (int r = 0; r < QK_ROWS; r++) {
                int64_t c0, c1;
                row_columns(a, &w[r], j0, n, &c0, &c1);
                if (c0 != 0 || c1 != n) full = 0;
                if (!softmax_update(a, &w[r], j0, n, t->s + r * KEY_TILE, &t->m[r0 + r],
                                    &t->l[r0 + r], t->o + (r0 + r) * dp, dp)) {
                    memset(t->s + r * KEY_TILE, 0, KEY_TILE * sizeof(float));
                    full = 0;
                }
            }
            if (full) {
                pv_block(t->o + r0 * dp, t->s, t->v, dp, n);
            } else {
                for (int r = 0; r < QK_ROWS && r0 + r < rows; r++) {
                    int64_t c0, c1;
                    row_columns(a, &w[r], j0, n, &c0, &c1);
                    if (t->m[r0 + r] != -INFINITY)
                        pv_row(t->o + (r0 + r) * dp, t->s + r * KEY_TILE, t->v, dp, c0, c1);
                }
            }
        }
    }
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = i0 + r;
        const attn_row_window *w = &t->win[r];
        int empty = w->hi <= w->lo || t->m[r] == -INFINITY || !(t->l[r] > 0.0f);
        float inv = empty ? 0.0f : 1.0f / t->l[r];
        /* An empty row is +0 exactly, not o * 0 (which keeps o's sign). */
        if (empty) memset(t->o + r * dp, 0, (size_t)dp * sizeof(float));
        int64_t o_off = b * a->out_batch_stride + i * a->out_row_stride + h * D;
        if (a->dtype == TRIL_F32) {
            float *out = (float *)a->out + o_off;
            for (int64_t d = 0; d < D; d++) out[d] = t->o[r * dp + d] * inv;
        } else {
            for (int64_t d = 0; d < D; d++)
                tril_store_f32(a->out, a->dtype, (size_t)(o_off + d), t->o[r * dp + d] * inv);
        }
        if (a->lse) a->lse[(b * a->heads + h) * Tq + i] = empty ? -INFINITY : t->m[r] + logf(t->l[r]);
    }
}

tril_status KERNEL_ENTRY(const tril_attention_args *a)
{
    const int64_t dp = (a->head_dim + VL - 1) / VL * VL;
    const int64_t blocks = (a->q_len + ROW_BLOCK - 1) / ROW_BLOCK;
    const int64_t units = a->batch * a->heads * blocks;
    int failed = 0;
#pragma omp parallel reduction(| : failed)
    {
        tile_buffers t;
        if (!buffers_alloc(&t, dp)) failed = 1;
        /* Later row blocks see more keys: hand them out first. */
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < units; u++) {
            if (failed) continue;
            int64_t blk = blocks - 1 - u / (a->batch * a->heads);
            int64_t bh = u % (a->batch * a->heads);
            run_unit(a, &t, bh / a->heads, bh % a->heads, blk * ROW_BLOCK, dp);
        }
        buffers_free(&t);
    }
    if (failed) return TRIL_FAIL(TRIL_ERR_NOMEM, "attention: cannot allocate tile buffers");
    return TRIL_OK;
}

/* Tiled backward of causal attention for CPUs (FlashAttention-2 style,
 * recompute-based: probabilities are rebuilt from the forward's lse).
 *
 * Compiled once per instruction set, like attention_tiled.c. Work units are
 * (batch, head) pairs, handed out dynamically over OpenMP: dk and dv of a key
 * gather gradient from every row that sees it, so each unit owns its (b, h)
 * slices of dq, dk and dv and no two threads ever write the same element.
 *
 * Per unit: all query rows are loaded once (scaled q, dout, D_i = dout.out,
 * lse, window). Then, per tile of KT keys (K and V packed transposed for the
 * scores, K row-major for dq), the rows that can see the tile at all, in
 * blocks of RB rows and micro-blocks of MR:
 *   S = Qs K^T and dP = dO V^T             (register-blocked, MR x KT)
 *   P = exp(S - lse), dS = P (dP - D)      masked by select, never by product
 *   dV += P^T dO, dK += dS^T Qs            (register-blocked, JR keys x D)
 *   dQ += dS K                              (blocked; per-row bounds when the
 *                                            tile is not wholly visible)
 * Rows before a tile's first viewer are never visited: a tile wholly in the
 * future of a row block costs nothing, as in the forward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"
#include "attention/kernels.h"
#include "core/simd.h"
#include "attention/tile_util.h"


#define VL TRIL_VL
#if defined(__AVX512F__)
#define KV_VECS 4 /* score vectors per row: 64-key tiles */
#define DV_VECS 4 /* gradient vectors per key held in registers */
#else
#define KV_VECS 2
#define DV_VECS 2
#endif
#define MR 4                    /* rows per micro-block */
#define JR 4                    /* keys per register block of dK and dV */
#define KT (KV_VECS * VL)       /* keys per tile */
#define RB 64                   /* rows per block sharing the P and dS buffers */

typedef struct {
    attn_row_window w;
    float lse; /* from the forward */
    float D;   /* dout_i . out_i */
    int active;/* has a visible key and a finite lse */
} row_info;

typedef struct {
    float *qs;   // [rows, dp] scaled queries, zero beyond D and beyond Tq
    float *dout; // [rows, dp]
    float *dq;   // [rows, dp] sum_j ds_ij k_j (scaled at the end)
    float *kt;   // [dp, KT] keys of the tile, transposed
    float *vt;   // [dp, KT] values of the tile, transposed
    float *kr;   // [KT, dp] keys of the tile, row-major
    float *dk;   // [KT, dp] gradient accumulators of the tile's keys
    float *dv;   // [KT, dp]
    float *p;    // [RB, KT] scores, then probabilities
    float *ds;   // [RB, KT] dP, then dS
    row_info *rows; // [rows]
} bwd_buffers;


static void buffers_free(bwd_buffers *t)
{
    free(t->qs);
    free(t->dout);
    free(t->dq);
    free(t->kt);
    free(t->vt);
    free(t->kr);
    free(t->dk);
    free(t->dv);
    free(t->p);
    free(t->ds);
    free(t->rows);
}

/* Room for Tq rows plus a partial micro-block after the last one. */
static int buffers_alloc(bwd_buffers *t, int64_t q_len, int64_t dp)
{
    const size_t rows = (size_t)(q_len + MR);
    t->qs = alloc_floats(rows * (size_t)dp);
    t->dout = alloc_floats(rows * (size_t)dp);
    t->dq = alloc_floats(rows * (size_t)dp);
    t->kt = alloc_floats((size_t)(dp * KT));
    t->vt = alloc_floats((size_t)(dp * KT));
    t->kr = alloc_floats((size_t)(dp * KT));
    t->dk = alloc_floats((size_t)(dp * KT));
    t->dv = alloc_floats((size_t)(dp * KT));
    t->p = alloc_floats(RB * KT);
    t->ds = alloc_floats(RB * KT);
    t->rows = malloc(rows * sizeof *t->rows);
    return t->qs && t->dout && t->dq && t->kt && t->vt && t->kr && t->dk && t->dv && t->p &&
           t->ds && t->rows;
}

/* s[r][c] = x[r] . yt[:, c] for MR rows and KT keys. */
static void rows_by_tile(const float *x, int64_t dp, const float *yt, float *s)
{
    vf acc[MR][KV_VECS];
    for (int r = 0; r < MR; r++)
        for (int c = 0; c < KV_VECS; c++) acc[r][c] = vbcast(0.0f);
    for (int64_t d = 0; d < dp; d++) {
        vf y[KV_VECS];
        for (int c = 0; c < KV_VECS; c++) y[c] = vload(yt + d * KT + c * VL);
        for (int r = 0; r < MR; r++) {
            vf xv = vbcast(x[r * dp + d]);
            for (int c = 0; c < KV_VECS; c++) acc[r][c] += xv * y[c];
        }
    }
    for (int r = 0; r < MR; r++)
        for (int c = 0; c < KV_VECS; c++) vstore(s + r * KT + c * VL, acc[r][c]);
}

/* acc[jj][d : d + nv*VL] += sum_r w[r][jj] x[r][same] for JR keys. */
VINLINE void keys_chunk(float *acc, const float *w, const float *x, int64_t rows, int64_t dp,
                        const int nv)
{
    vf c[JR][DV_VECS];
    for (int jj = 0; jj < JR; jj++)
        for (int v = 0; v < nv; v++) c[jj][v] = vload(acc + jj * dp + v * VL);
    for (int64_t r = 0; r < rows; r++) {
        vf xv[DV_VECS];
        for (int v = 0; v < nv; v++) xv[v] = vload(x + r * dp + v * VL);
        for (int jj = 0; jj < JR; jj++) {
            vf wv = vbcast(w[r * KT + jj]);
            for (int v = 0; v < nv; v++) c[jj][v] += wv * xv[v];
        }
    }
    for (int jj = 0; jj < JR; jj++)
        for (int v = 0; v < nv; v++) vstore(acc + jj * dp + v * VL, c[jj][v]);
}

/* acc[j] += sum_r w[r][j] x[r] for keys j < n: dV += P^T dO, dK += dS^T Qs.
 * Weights of keys a row may not see are exact zeros and x is finite. */
static void accumulate_keys(float *acc, const float *w, const float *x, int64_t rows, int64_t n,
                            int64_t dp)
{
    for (int64_t j = 0; j < n; j += JR) {
        int64_t d = 0;
        for (; d + DV_VECS * VL <= dp; d += DV_VECS * VL)
            keys_chunk(acc + j * dp + d, w + j, x + d, rows, dp, DV_VECS);
        for (; d < dp; d += VL) keys_chunk(acc + j * dp + d, w + j, x + d, rows, dp, 1);
    }
}

/* o[r][d : d + nv*VL] += sum_j w[r][j] kr[j][same] over keys [c0, c1), for
 * nr rows (MR, or 1 on the per-row path). */
VINLINE void dq_chunk(float *o, const float *w, const float *kr, int64_t dp, int64_t c0, int64_t c1,
                      int64_t d, const int nv, const int nr)
{
    vf acc[MR][DV_VECS];
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = vload(o + r * dp + d + v * VL);
    for (int64_t j = c0; j < c1; j++) {
        vf kv[DV_VECS];
        for (int v = 0; v < nv; v++) kv[v] = vload(kr + j * dp + d + v * VL);
        for (int r = 0; r < nr; r++) {
            vf wr = vbcast(w[r * KT + j]);
            for (int v = 0; v < nv; v++) acc[r][v] += wr * kv[v];
        }
    }
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < nv; v++) vstore(o + r * dp + d + v * VL, acc[r][v]);
}

/* dQ += dS K for a micro-block whose rows all see keys [0, n) of the tile. */
static void dq_block(float *o, const float *w, const float *kr, int64_t dp, int64_t n)
{
    int64_t d = 0;
    for (; d + DV_VECS * VL <= dp; d += DV_VECS * VL) dq_chunk(o, w, kr, dp, 0, n, d, DV_VECS, MR);
    for (; d < dp; d += VL) dq_chunk(o, w, kr, dp, 0, n, d, 1, MR);
}

/* One row's dQ over keys [c0, c1): never touches a key the row may not see. */
static void dq_row(float *o, const float *w, const float *kr, int64_t dp, int64_t c0, int64_t c1)
{
    int64_t d = 0;
    for (; d + DV_VECS * VL <= dp; d += DV_VECS * VL) dq_chunk(o, w, kr, dp, c0, c1, d, DV_VECS, 1);
    for (; d < dp; d += VL) dq_chunk(o, w, kr, dp, c0, c1, d, 1, 1);
}

/* Columns [c0, c1) of the tile at j0 (n keys) that this row reads. */
static void row_columns(const tril_attention_args *a, const row_info *ri, int64_t j0, int64_t n,
                        int64_t *c0, int64_t *c1)
{
    int structural = a->mask == TRIL_MASK_STRUCTURAL || a->mask == TRIL_MASK_NONE;
    int64_t lo = structural ? ri->w.lo : ri->w.read_lo, hi = structural ? ri->w.hi : ri->w.read_hi;
    *c0 = ri->active ? attn_max64(lo - j0, 0) : 0;
    *c1 = ri->active ? attn_max64(attn_min64(hi - j0, n), *c0) : 0;
}

static int32_t tile_offset(int64_t x) { return (int32_t)attn_max64(-1, attn_min64(x, KT + 1)); }

/* Turns one row's scores into P and its dP into dS, in place. Columns the
 * row does not read become exact zeros by select, so garbage scores (even
 * NaN from keys beyond the row's bound) vanish. Returns 1 if the row reads
 * every key of the tile. */
static int probs_row(const tril_attention_args *a, const row_info *ri, int64_t j0, int64_t n,
                     float *p, float *ds)
{
    int64_t c0, c1;
    row_columns(a, ri, j0, n, &c0, &c1);
    if (c0 >= c1) {
        memset(p, 0, KT * sizeof(float));
        memset(ds, 0, KT * sizeof(float));
        return 0;
    }
    const int masked = a->mask == TRIL_MASK_ADDITIVE || a->mask == TRIL_MASK_BOOLEAN;
    const int boolean = a->mask == TRIL_MASK_BOOLEAN;
    const int32_t v0 = tile_offset(ri->w.lo - j0), v1 = tile_offset(ri->w.hi - j0);
    const vf lse = vbcast(ri->lse), Dv = vbcast(ri->D), fill = vbcast(a->fill);
    const vf zero = vbcast(0.0f);
    vi lane;
    for (int i = 0; i < VL; i++) lane[i] = i;
    for (int c = 0; c < KV_VECS; c++, lane += VL) {
        vi valid = (lane >= (int32_t)c0) & (lane < (int32_t)c1);
        vi grad = valid;
        vf s = vload(p + c * VL);
        if (masked) {
            /* The fill is already fp32 (the backward is fp32 only), so the
             * forward's rounding of s + fill is this sum. */
            vi vis = (lane >= v0) & (lane < v1);
            s = vsel(vis, s, boolean ? fill : s + fill);
            if (boolean) grad &= vis; /* a constant: no gradient to q or k */
        }
        vf pv = vsel(valid, vexp(s - lse), zero);
        vf dsv = pv * (vload(ds + c * VL) - Dv);
        vstore(p + c * VL, pv);
        vstore(ds + c * VL, vsel(grad, dsv, zero));
    }
    return c0 == 0 && c1 == n;
}

/* Keys [j0, j0 + n) of head (b, h) into the tile buffers, zero elsewhere. */
static void pack_tile(const tril_attention_args *a, bwd_buffers *t, int64_t b, int64_t h,
                      int64_t j0, int64_t n, int64_t dp)
{
    const int64_t D = a->head_dim;
    memset(t->kt, 0, (size_t)(dp * KT) * sizeof(float));
    memset(t->vt, 0, (size_t)(dp * KT) * sizeof(float));
    memset(t->kr, 0, (size_t)(dp * KT) * sizeof(float));
    for (int64_t c = 0; c < n; c++) {
        const int64_t off = b * a->kv_batch_stride + (j0 + c) * a->kv_row_stride + h * D;
        const float *kr = (const float *)a->k + off, *vr = (const float *)a->v + off;
        for (int64_t d = 0; d < D; d++) {
            t->kt[d * KT + c] = kr[d];
            t->vt[d * KT + c] = vr[d];
        }
        memcpy(t->kr + c * dp, kr, (size_t)D * sizeof(float));
    }
}

/* Loads every query row of head (b, h) into slots [0, Tq); the MR slots
 * after them (a last micro-block may run past Tq) are zero and inactive. */
static void load_rows(const tril_attention_args *a, const float *dout, bwd_buffers *t, int64_t b,
                      int64_t h, int64_t dp)
{
    const int64_t D = a->head_dim, Tq = a->q_len;
    for (int64_t i = 0; i < Tq + MR; i++) {
        float *qs = t->qs + i * dp, *go = t->dout + i * dp;
        row_info *ri = &t->rows[i];
        memset(qs, 0, (size_t)dp * sizeof(float));
        memset(go, 0, (size_t)dp * sizeof(float));
        memset(t->dq + i * dp, 0, (size_t)dp * sizeof(float));
        ri->w = attn_row(a, b, attn_min64(i, Tq - 1));
        ri->active = 0;
        ri->lse = -INFINITY;
        ri->D = 0.0f;
        if (i >= Tq) continue;
        const float *q = (const float *)a->q + b * a->q_batch_stride + i * a->q_row_stride + h * D;
        const int64_t o_off = b * a->out_batch_stride + i * a->out_row_stride + h * D;
        const float *out = (const float *)a->out + o_off;
        double Di = 0.0;
        for (int64_t d = 0; d < D; d++) {
            qs[d] = q[d] * a->scale;
            go[d] = dout[o_off + d];
            Di += (double)go[d] * (double)out[d];
        }
        ri->lse = a->lse[(b * a->heads + h) * Tq + i];
        ri->D = (float)Di;
        ri->active = ri->w.hi > ri->w.lo && ri->lse != -INFINITY;
    }
}

/* Zeroes dk and dv rows [j0, j1) of head (b, h). */
static void zero_keys(const tril_attention_args *a, float *dk, float *dv, int64_t b, int64_t h,
                      int64_t j0, int64_t j1)
{
    for (int64_t j = j0; j < j1; j++) {
        const int64_t off = b * a->kv_batch_stride + j * a->kv_row_stride + h * a->head_dim;
        memset(dk + off, 0, (size_t)a->head_dim * sizeof(float));
        memset(dv + off, 0, (size_t)a->head_dim * sizeof(float));
    }
}

/* One tile against rows [i0, i0 + rows) (rows a multiple of MR). */
static void tile_rows(const tril_attention_args *a, bwd_buffers *t, int64_t j0, int64_t n,
                      int64_t i0, int64_t rows, int64_t dp)
{
    int full[RB / MR];
    for (int64_t r0 = 0; r0 < rows; r0 += MR) {
        const row_info *ri = &t->rows[i0 + r0];
        float *p = t->p + r0 * KT, *ds = t->ds + r0 * KT;
        int any = 0;
        for (int r = 0; r < MR; r++) any |= ri[r].active;
        full[r0 / MR] = 0;
        if (!any) {
            memset(p, 0, MR * KT * sizeof(float));
            memset(ds, 0, MR * KT * sizeof(float));
            continue;
        }
        rows_by_tile(t->qs + (i0 + r0) * dp, dp, t->kt, p);
        rows_by_tile(t->dout + (i0 + r0) * dp, dp, t->vt, ds);
        int all = 1;
        for (int r = 0; r < MR; r++) all &= probs_row(a, &ri[r], j0, n, p + r * KT, ds + r * KT);
        full[r0 / MR] = all;
    }
    accumulate_keys(t->dv, t->p, t->dout + i0 * dp, rows, n, dp);
    accumulate_keys(t->dk, t->ds, t->qs + i0 * dp, rows, n, dp);
    for (int64_t r0 = 0; r0 < rows; r0 += MR) {
        float *o = t->dq + (i0 + r0) * dp;
        const float *ds = t->ds + r0 * KT;
        if (full[r0 / MR]) {
            dq_block(o, ds, t->kr, dp, n);
            continue;
        }
        for (int r = 0; r < MR; r++) {
            int64_t c0, c1;
            row_columns(a, &t->rows[i0 + r0 + r], j0, n, &c0, &c1);
            if (c0 < c1) dq_row(o + r * dp, ds + r * KT, t->kr, dp, c0, c1);
        }
    }
}

static void run_head(const tril_attention_args *a, const float *dout, float *dq, float *dk,
                     float *dv, bwd_buffers *t, int64_t bh, int64_t dp)
{
    const int64_t b = bh / a->heads, h = bh % a->heads;
    const int64_t D = a->head_dim, Tq = a->q_len;
    load_rows(a, dout, t, b, h, dp);
    /* Rows see monotonically more keys: row 0 reads the first, the last row
     * the furthest. Keys outside [first, last) are read by no row. */
    const int64_t first = t->rows[0].w.read_lo;
    const int64_t last = attn_max64(first, t->rows[Tq - 1].w.read_hi);
    zero_keys(a, dk, dv, b, h, 0, first);
    zero_keys(a, dk, dv, b, h, last, a->kv_len);
    int64_t i_first = 0;
    for (int64_t j0 = first; j0 < last; j0 += KT) {
        const int64_t n = attn_min64(KT, last - j0);
        while (i_first < Tq && t->rows[i_first].w.read_hi <= j0) i_first++;
        pack_tile(a, t, b, h, j0, n, dp);
        memset(t->dk, 0, (size_t)(dp * KT) * sizeof(float));
        memset(t->dv, 0, (size_t)(dp * KT) * sizeof(float));
        for (int64_t i0 = i_first; i0 < Tq; i0 += RB)
            tile_rows(a, t, j0, n, i0, attn_min64(RB, (Tq - i0 + MR - 1) / MR * MR), dp);
        for (int64_t c = 0; c < n; c++) {
            const int64_t off = b * a->kv_batch_stride + (j0 + c) * a->kv_row_stride + h * D;
            memcpy(dk + off, t->dk + c * dp, (size_t)D * sizeof(float));
            memcpy(dv + off, t->dv + c * dp, (size_t)D * sizeof(float));
        }
    }
    for (int64_t i = 0; i < Tq; i++) {
        float *g = dq + b * a->q_batch_stride + i * a->q_row_stride + h * D;
        const float *acc = t->dq + i * dp;
        for (int64_t d = 0; d < D; d++) g[d] = t->rows[i].active ? acc[d] * a->scale : 0.0f;
    }
}

tril_status TRIL_ISA_FN(tril_attention_backward_tiled)(const tril_attention_args *a, const float *dout, float *dq, float *dk,
                           float *dv)
{
    const int64_t dp = (a->head_dim + VL - 1) / VL * VL;
    const int64_t units = a->batch * a->heads;
    int failed = 0;
#pragma omp parallel reduction(| : failed) num_threads(attn_threads(a, 2.5))
    {
        bwd_buffers t;
        if (!buffers_alloc(&t, a->q_len, dp)) failed = 1;
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < units; u++) {
            if (failed) continue;
            run_head(a, dout, dq, dk, dv, &t, u, dp);
        }
        buffers_free(&t);
    }
    if (failed) return TRIL_FAIL(TRIL_ERR_NOMEM, "attention backward: cannot allocate buffers");
    return TRIL_OK;
}

/* Transposed-score causal attention: the tiled kernel's fast path for the
 * structural and NONE masks (every dtype).
 *
 * The row-major tiled kernel (attention_tiled.c) spent about a third of its
 * time between its two register-blocked products: per row and tile a
 * horizontal max, a horizontal sum and scalar branches. Here one vector
 * holds one key's scores for VL query rows (S^T [keys, VL]), so the running
 * max, the exponentials, the row sums and the rescaling are plain vertical
 * vector operations, and the output is kept transposed as well
 * (O^T [D, VL]) so P.V needs no transpose either:
 *   S^T[j] = sum_d Q^T[d] * K[j][d]      (one broadcast K element per FMA)
 *   O^T[d] += P^T[j] * V[j][d]            (one broadcast V element per FMA)
 * Rows of a block differ only in their windows [lo, hi): keys every row may
 * see go through the plain loops; on the few keys where rows differ (the
 * diagonal, padding edges) a lane mask turns scores into -inf and keeps
 * invisible values out of P.V (0 * NaN would be NaN). Keys beyond every
 * row's window are never read. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"
#include "attention/kernels.h"
#include "core/simd.h"
#include "attention/tile_util.h"


#define ROWS TRIL_VL /* query rows per block: one per lane */
#if TRIL_VL == 16
#define ACC 16 /* accumulators per micro-kernel: half of the 32 zmm */
#else
#define ACC 8
#endif
#define KEY_TILE TRIL_TRANSPOSED_KEY_TILE /* keys scored before one softmax update */

/* Q in per-block transposed tiles, and K (V too unless it is fp32) of every
 * (batch, head) as contiguous fp32 rows: key j of sequence b, head h is row
 * (b * H + h) * span + j - first[b]. Rows past a sequence's last key up to
 * span (a whole number of ACC groups) are zero. */
typedef struct {
    float *qt;      // [B*H, blocks, D, ROWS] scaled queries, transposed per block
    float *k;       // [B*H, span, D]
    float *v;       // [B*H, span, D], or NULL: fp32 values read in place
    int64_t *first; // [B] first key any row of sequence b reads
    int64_t *last;  // [B] one past the last
    int64_t span;
    int64_t blocks; /* query blocks of ROWS rows per (batch, head) */
} packed_heads;

typedef struct {
    float *ot;  // [D, ROWS] unnormalised outputs, transposed
    float *st;  // [KEY_TILE, ROWS] scores, then probabilities
} block_buffers;

typedef struct {
    vi lo, hi;             /* per-lane windows */
    int64_t read_lo, read_hi; /* union of the rows' windows: keys read */
    int64_t max_lo, min_hi;   /* intersection: keys every row sees */
} block_windows;

static _Thread_local tril_workspace pack_cache;

void TRIL_ISA_FN(tril_attention_transposed_release)(void)
{
    workspace_release(&pack_cache);
}

VINLINE vi visible(const block_windows *w, int64_t j)
{
    const vi jv = (vi){0} + (int32_t)j;
    return (jv >= w->lo) & (jv < w->hi);
}

/* S^T[k] = Q^T . K[k] for `keys` keys (a multiple of ACC) from packed rows
 * kp. D is a constant in the D=64 build (every GPT-2 size), so each key's
 * row is a fixed displacement from one pointer. */
VINLINE void qk_tile_d(float *st, const float *qt, const float *kp, int64_t keys, const int64_t D)
{
    for (int64_t g = 0; g < keys; g += ACC) {
        const float *kg = kp + g * D;
        vf acc[ACC];
        for (int k = 0; k < ACC; k++) acc[k] = vbcast(0.0f);
        for (int64_t d = 0; d < D; d++) {
            const vf q = vload(qt + d * ROWS);
            for (int k = 0; k < ACC; k++) acc[k] += q * vbcast(kg[k * D + d]);
        }
        for (int k = 0; k < ACC; k++) vstore(st + (g + k) * ROWS, acc[k]);
    }
}

static void qk_tile_64(float *st, const float *qt, const float *kp, int64_t keys)
{
    qk_tile_d(st, qt, kp, keys, 64);
}

static void qk_tile_any(float *st, const float *qt, const float *kp, int64_t keys, int64_t D)
{
    qk_tile_d(st, qt, kp, keys, D);
}

/* O^T[d0 .. d0+nacc) += sum over keys [k0, k1) of P^T[k] * V[k][d]; with a
 * window, only the rows that may see key j0 + k take it. */
VINLINE void pv_chunk(float *ot, const float *pt, const float *vp, int64_t vstride, int64_t d0,
                      int64_t k0, int64_t k1, const block_windows *masked, int64_t j0,
                      const int nacc)
{
    vf acc[ACC];
    for (int c = 0; c < nacc; c++) acc[c] = vload(ot + (d0 + c) * ROWS);
    if (!masked) {
        for (int64_t k = k0; k < k1; k++) {
            const vf p = vload(pt + k * ROWS);
            const float *vr = vp + k * vstride + d0;
            for (int c = 0; c < nacc; c++) acc[c] += p * vbcast(vr[c]);
        }
    } else {
        for (int64_t k = k0; k < k1; k++) {
            const vf p = vload(pt + k * ROWS);
            const vi see = visible(masked, j0 + k);
            const float *vr = vp + k * vstride + d0;
            for (int c = 0; c < nacc; c++) acc[c] += vsel(see, p * vbcast(vr[c]), vbcast(0.0f));
        }
    }
    for (int c = 0; c < nacc; c++) vstore(ot + (d0 + c) * ROWS, acc[c]);
}

/* Value rows are vstride floats apart. */
static void pv_keys(float *ot, const float *pt, const float *vp, int64_t vstride, int64_t D,
                    int64_t k0, int64_t k1, const block_windows *masked, int64_t j0)
{
    if (k1 <= k0) return;
    int64_t d = 0;
    for (; d + ACC <= D; d += ACC) pv_chunk(ot, pt, vp, vstride, d, k0, k1, masked, j0, ACC);
    for (; d + 4 <= D; d += 4) pv_chunk(ot, pt, vp, vstride, d, k0, k1, masked, j0, 4);
    for (; d < D; d++) pv_chunk(ot, pt, vp, vstride, d, k0, k1, masked, j0, 1);
}

/* Online softmax over one tile of `keys` scores (keys j0..): masks when the
 * tile leaves [max_lo, min_hi), folds the tile into m and l, rescales O^T
 * when a row's max moved, and leaves probabilities in S^T. */
static void softmax_tile(float *st, int64_t keys, int64_t j0, const block_windows *w, int mask,
                         vf *m, vf *l, float *ot, int64_t D)
{
    if (mask)
        for (int64_t k = 0; k < keys; k++)
            vstore(st + k * ROWS, vsel(visible(w, j0 + k), vload(st + k * ROWS), vbcast(-INFINITY)));
    /* keys is a multiple of ACC (>= 8): four independent max chains */
    vf mc[4] = {*m, *m, *m, *m};
    for (int64_t k = 0; k < keys; k += 4)
        for (int c = 0; c < 4; c++) mc[c] = vmax(mc[c], vload(st + (k + c) * ROWS));
    const vf mx = vmax(vmax(mc[0], mc[1]), vmax(mc[2], mc[3]));
    /* a row with nothing visible yet keeps max -inf: subtract 0 instead, so
     * its probabilities are exp(-inf) = 0, not NaN */
    const vf ref = vsel(mx == vbcast(-INFINITY), vbcast(0.0f), mx);
    const vf alpha = vexp(*m - ref);
    vf sum = vbcast(0.0f);
    for (int64_t k = 0; k < keys; k++) {
        const vf p = vexp(vload(st + k * ROWS) - ref);
        sum += p;
        vstore(st + k * ROWS, p);
    }
    *l = *l * alpha + sum;
    *m = mx;
    /* after the first tiles the max rarely moves: alpha is exactly 1 */
    const vi moved = alpha != vbcast(1.0f);
    int any = 0;
    for (int i = 0; i < ROWS; i++) any |= moved[i];
    if (any)
        for (int64_t d = 0; d < D; d++) vstore(ot + d * ROWS, vload(ot + d * ROWS) * alpha);
}

static block_windows block_window(const tril_attention_args *a, int64_t b, int64_t i0, int64_t rows)
{
    block_windows w;
    w.read_lo = INT64_MAX;
    w.read_hi = 0;
    w.max_lo = 0;
    w.min_hi = INT64_MAX;
    for (int r = 0; r < ROWS; r++) {
        /* padding lanes repeat the last real row */
        const attn_row_window rw = attn_row(a, b, i0 + attn_min64(r, rows - 1));
        w.lo[r] = (int32_t)rw.lo;
        w.hi[r] = (int32_t)attn_max64(rw.lo, rw.hi);
        w.read_lo = attn_min64(w.read_lo, rw.read_lo);
        w.read_hi = attn_max64(w.read_hi, rw.read_hi);
        w.max_lo = attn_max64(w.max_lo, rw.lo);
        w.min_hi = attn_min64(w.min_hi, attn_max64(rw.lo, rw.hi));
    }
    if (w.read_hi < w.read_lo) w.read_hi = w.read_lo;
    return w;
}

static void run_block(const tril_attention_args *a, const packed_heads *p, block_buffers *t,
                      int64_t bh, int64_t i0)
{
    const int64_t b = bh / a->heads, h = bh % a->heads;
    const int64_t D = a->head_dim, Tq = a->q_len;
    const int64_t rows = attn_min64(ROWS, Tq - i0);
    const block_windows w = block_window(a, b, i0, rows);
    const float *qt = p->qt + (bh * p->blocks + i0 / ROWS) * D * ROWS;
    /* the output rows are written at the end: start fetching them now */
    const int64_t es = (int64_t)tril_dtype_size(a->dtype);
    for (int64_t r = 0; r < rows; r++) {
        const char *o = (const char *)a->out +
                        (b * a->out_batch_stride + (i0 + r) * a->out_row_stride + h * D) * es;
        for (int64_t at = 0; at < D * es; at += 64) __builtin_prefetch(o + at, 1);
    }
    memset(t->ot, 0, (size_t)(D * ROWS) * sizeof(float));
    vf m = vbcast(-INFINITY), l = vbcast(0.0f);
    const float *kbase = p->k + bh * p->span * D;
    /* fp32 values are read in place (P.V walks them key by key, any
     * stride); other dtypes and paged values were packed into rows */
    const int64_t vstride = p->v ? D : a->kv_row_stride;
    const float *vsrc = p->v ? NULL : (const float *)a->v + attn_kv_row(a, b, 0) + h * D;
    for (int64_t j0 = w.read_lo; j0 < w.read_hi; j0 += KEY_TILE) {
        const int64_t n = attn_min64(KEY_TILE, w.read_hi - j0);
        const int64_t scored = (n + ACC - 1) / ACC * ACC; /* pad keys: zero rows, masked */
        const float *kp = kbase + (j0 - p->first[b]) * D;
        const float *vp = p->v ? p->v + (bh * p->span + j0 - p->first[b]) * D : vsrc + j0 * vstride;
        if (D == 64) qk_tile_64(t->st, qt, kp, scored);
        else qk_tile_any(t->st, qt, kp, scored, D);
        const int mask = j0 < w.max_lo || j0 + scored > w.min_hi;
        softmax_tile(t->st, scored, j0, &w, mask, &m, &l, t->ot, D);
        /* keys [pa, pb) of the tile every row sees; the rest row by row */
        const int64_t pa = attn_min64(attn_max64(w.max_lo - j0, 0), n);
        const int64_t pb = attn_max64(attn_min64(w.min_hi - j0, n), pa);
        pv_keys(t->ot, t->st, vp, vstride, D, pa, pb, NULL, j0);
        pv_keys(t->ot, t->st, vp, vstride, D, 0, pa, &w, j0);
        pv_keys(t->ot, t->st, vp, vstride, D, pb, n, &w, j0);
    }
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = i0 + r;
        attn_finish_row(a, b, h, i, w.lo[r], w.hi[r], t->ot + r, ROWS, m[r], l[r]);
    }
}

/* Copies keys [j0, j1) of sequence b (at most PACK_KEYS), all heads, key
 * row by key row (the order the rows lie in memory), converting to fp32.
 * Rows past the sequence's last key are zeros, and never looked up: their
 * page table entries need not be valid. */
#define PACK_KEYS 64
static void pack_keys(const tril_attention_args *a, const packed_heads *p, int64_t b, int64_t j0,
                      int64_t j1)
{
    const int64_t D = a->head_dim, H = a->heads;
    int64_t rows[PACK_KEYS];
    attn_kv_rows(a, b, j0, attn_max64(0, attn_min64(j1, p->last[b]) - j0), 0, rows);
    for (int64_t j = j0; j < j1; j++) {
        for (int64_t h = 0; h < H; h++) {
            const int64_t at = ((b * H + h) * p->span + j - p->first[b]) * D;
            if (j >= p->last[b]) {
                memset(p->k + at, 0, (size_t)D * sizeof(float));
                if (p->v) memset(p->v + at, 0, (size_t)D * sizeof(float));
                continue;
            }
            const int64_t off = rows[j - j0] + h * D;
            if (a->kv_dtype == TRIL_F32) {
                memcpy(p->k + at, (const float *)a->k + off, (size_t)D * sizeof(float));
                if (p->v) memcpy(p->v + at, (const float *)a->v + off, (size_t)D * sizeof(float));
            } else { /* a row at a time: one vectorised loop, not a call per element */
                const size_t es = tril_dtype_size(a->kv_dtype);
                tril_convert_to_f32(p->k + at, (const char *)a->k + (size_t)off * es, a->kv_dtype, (size_t)D);
                tril_convert_to_f32(p->v + at, (const char *)a->v + (size_t)off * es, a->kv_dtype, (size_t)D);
            }
        }
    }
}

/* Copies query rows [i0, i1) of sequence b, all heads, scaled, into the
 * transposed blocks; lanes past the last row repeat it (finite padding). */
static void pack_queries(const tril_attention_args *a, const packed_heads *p, int64_t b, int64_t i0,
                         int64_t i1)
{
    const int64_t D = a->head_dim, H = a->heads;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t src = attn_min64(i, a->q_len - 1);
        for (int64_t h = 0; h < H; h++) {
            float *qt = p->qt + ((b * H + h) * p->blocks + i / ROWS) * D * ROWS + i % ROWS;
            const int64_t off = b * a->q_batch_stride + src * a->q_row_stride + h * D;
            if (a->dtype == TRIL_F32) {
                const float *q = (const float *)a->q + off;
                for (int64_t d = 0; d < D; d++) qt[d * ROWS] = q[d] * a->scale;
            } else {
                for (int64_t d = 0; d < D; d++)
                    qt[d * ROWS] = tril_load_f32(a->q, a->dtype, (size_t)(off + d)) * a->scale;
            }
        }
    }
}

tril_status TRIL_ISA_FN(tril_attention_transposed)(const tril_attention_args *a)
{
    const int64_t B = a->batch, H = a->heads, D = a->head_dim;
    const int64_t blocks = (a->q_len + ROWS - 1) / ROWS;
    packed_heads p;
    const int64_t most = attn_key_ranges(a, &p.first, &p.last);
    if (most < 0) return TRIL_FAIL(TRIL_ERR_NOMEM, "attention: out of memory");
    /* a tile scores whole ACC groups past its last key: zero rows */
    p.span = (most + ACC - 1) / ACC * ACC + ACC;
    p.blocks = blocks;
    const size_t packed = (size_t)(B * H * p.span * D), packed_q = (size_t)(B * H * blocks * D * ROWS);
    /* fp32 V is read in place unless paged: P.V walks rows at one stride */
    const size_t packed_v = a->kv_dtype == TRIL_F32 && !a->kv_page_table ? 0 : packed;
    p.qt = workspace_get(&pack_cache, packed + packed_v + packed_q);
    p.k = p.qt ? p.qt + packed_q : NULL;
    p.v = p.k && packed_v ? p.k + packed : NULL;
    if (!p.k) {
        free(p.first);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "attention: cannot allocate %zu packed floats",
                         packed + packed_v + packed_q);
    }
    const int64_t chunk = PACK_KEYS, chunks = (p.span + chunk - 1) / chunk;
    int failed = 0;
#pragma omp parallel reduction(| : failed) num_threads(attn_threads(a, 1))
    {
        block_buffers t;
        t.ot = alloc_floats((size_t)(D * ROWS));
        t.st = alloc_floats(KEY_TILE * ROWS);
        if (!t.ot || !t.st) failed = 1;
#pragma omp for schedule(static) nowait
        for (int64_t u = 0; u < B * chunks; u++) {
            const int64_t b = u / chunks, c = u % chunks;
            pack_keys(a, &p, b, p.first[b] + c * chunk,
                      p.first[b] + attn_min64((c + 1) * chunk, p.span));
        }
#pragma omp for schedule(static)
        for (int64_t u = 0; u < B * blocks; u++)
            pack_queries(a, &p, u / blocks, u % blocks * ROWS, (u % blocks + 1) * ROWS);
        /* head by head (its K and V stay in cache), latest (longest) blocks
         * first so the short ones even out the end */
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < B * H * blocks; u++) {
            if (failed) continue;
            run_block(a, &p, &t, u / blocks, (blocks - 1 - u % blocks) * ROWS);
        }
        free(t.ot);
        free(t.st);
    }
    free(p.first);
    if (failed) return TRIL_FAIL(TRIL_ERR_NOMEM, "attention: cannot allocate block buffers");
    return TRIL_OK;
}

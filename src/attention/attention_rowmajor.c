/* Row-major tiled online-softmax attention for the additive and boolean
 * masks (attention.c sends every other case to the direct or transposed
 * kernel). As those masks are defined, every key of every row is scored and
 * the masked ones get the fill (a per-(row, key) value that does not
 * vectorise across rows, hence row-major scores here); nothing is skipped,
 * the future included: that is the point of measuring them.
 *
 * Compiled once per instruction set (src/core/isa.h). Two phases share one
 * OpenMP team:
 *   1. pack: every KEY_TILE keys of each (batch, head) are converted to fp32
 *      once, K transposed ([D, KEY_TILE]) and V contiguous ([KEY_TILE, D]);
 *   2. compute: work units are (batch, head, block of ROW_BLOCK query rows),
 *      handed out dynamically. Each micro-block of QK_ROWS rows walks the
 *      packed tiles with an online softmax; keys outside a row's padding
 *      window never reach its P.V (a masked value may be NaN garbage). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"
#include "attention/kernels.h"
#include "core/simd.h"
#include "attention/tile_util.h"


#define VL TRIL_VL
#if defined(__AVX512F__)
#define QK_VECS 4 /* score vectors per row: 64-key tiles */
#define PV_VECS 4 /* output vectors per row held in registers */
#else
#define QK_VECS 2
#define PV_VECS 2
#endif
#define QK_ROWS 4 /* rows x QK_VECS = 16 (AVX-512) or 8 score accumulators */
#define PV_ROWS 4
#define KEY_TILE (QK_VECS * VL) /* keys per tile */
#define ROW_BLOCK 64            /* query rows per work unit */

typedef struct {
    float *q;  // [ROW_BLOCK, dp] scaled queries
    float *o;  // [ROW_BLOCK, dp] unnormalised output accumulators
    float *s;  // [QK_ROWS, KEY_TILE] scores, then probabilities
    float *m;  // [ROW_BLOCK] running row max
    float *l;  // [ROW_BLOCK] running row sum of exp
    attn_row_window *win; // [ROW_BLOCK]
} tile_buffers;


static int buffers_alloc(tile_buffers *t, int64_t dp)
{
    memset(t, 0, sizeof *t);
    t->q = alloc_floats((size_t)(ROW_BLOCK * dp));
    t->o = alloc_floats((size_t)(ROW_BLOCK * dp));
    t->s = alloc_floats(QK_ROWS * KEY_TILE);
    t->m = alloc_floats(ROW_BLOCK);
    t->l = alloc_floats(ROW_BLOCK);
    t->win = malloc(ROW_BLOCK * sizeof *t->win);
    return t->q && t->o && t->s && t->m && t->l && t->win;
}

static void buffers_free(tile_buffers *t)
{
    free(t->q);
    free(t->o);
    free(t->s);
    free(t->m);
    free(t->l);
    free(t->win);
}


/* s[r][c] = q[r] . kt[:, c] for QK_ROWS rows and KEY_TILE keys. */
static void qk_tile(const float *q, int64_t dp, const float *kt, float *s)
{
    vf acc[QK_ROWS][QK_VECS];
    for (int r = 0; r < QK_ROWS; r++)
        for (int c = 0; c < QK_VECS; c++) acc[r][c] = vbcast(0.0f);
    for (int64_t d = 0; d < dp; d++) {
        vf k[QK_VECS];
        for (int c = 0; c < QK_VECS; c++) k[c] = vload(kt + d * KEY_TILE + c * VL);
        for (int r = 0; r < QK_ROWS; r++) {
            vf qv = vbcast(q[r * dp + d]);
            for (int c = 0; c < QK_VECS; c++) acc[r][c] += qv * k[c];
        }
    }
    for (int r = 0; r < QK_ROWS; r++)
        for (int c = 0; c < QK_VECS; c++) vstore(s + r * KEY_TILE + c * VL, acc[r][c]);
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

/* Blocked P.V for QK_ROWS rows over keys [j0, j1) of the tile. */
static void pv_block(float *o, const float *p, const float *v, int64_t dp, int64_t j0, int64_t j1)
{
    if (j1 <= j0) return;
    p += j0;
    v += j0 * dp;
    for (int rg = 0; rg < QK_ROWS; rg += PV_ROWS) {
        int64_t dv = 0;
        for (; dv + PV_VECS * VL <= dp; dv += PV_VECS * VL)
            pv_chunk(o + rg * dp, p + rg * KEY_TILE, v, dp, j1 - j0, dv, PV_VECS);
        for (; dv < dp; dv += VL) pv_chunk(o + rg * dp, p + rg * KEY_TILE, v, dp, j1 - j0, dv, 1);
    }
}

/* One row's P.V over keys [c0, c1) of the tile: the edges of the diagonal
 * tile, which never touch a value the row may not see. Keys outer, output
 * vectors inner: PV_VECS independent FMA chains instead of one. */
static void pv_row(float *o, const float *p, const float *v, int64_t dp, int64_t c0, int64_t c1)
{
    if (c1 <= c0) return;
    int64_t dv = 0;
    for (; dv + PV_VECS * VL <= dp; dv += PV_VECS * VL) {
        vf acc[PV_VECS];
        for (int c = 0; c < PV_VECS; c++) acc[c] = vload(o + dv + c * VL);
        for (int64_t j = c0; j < c1; j++) {
            const vf pj = vbcast(p[j]);
            for (int c = 0; c < PV_VECS; c++) acc[c] += pj * vload(v + j * dp + dv + c * VL);
        }
        for (int c = 0; c < PV_VECS; c++) vstore(o + dv + c * VL, acc[c]);
    }
    for (; dv < dp; dv += VL) {
        vf acc = vload(o + dv);
        for (int64_t j = c0; j < c1; j++) acc += vbcast(p[j]) * vload(v + j * dp + dv);
        vstore(o + dv, acc);
    }
}

/* Columns [c0, c1) of the tile at j0 that this row scores and sums over. */
static void row_columns(const attn_row_window *w, int64_t j0, int64_t n, int64_t *c0, int64_t *c1)
{
    *c0 = attn_max64(w->read_lo - j0, 0);
    *c1 = attn_max64(attn_min64(w->read_hi - j0, n), *c0);
}

/* Applies the mask to one row of raw scores and folds it into the running
 * softmax; leaves probabilities in s. Returns 0 if the row has nothing yet. */
static int softmax_update(const tril_attention_args *a, const attn_row_window *w, int64_t j0,
                          int64_t n, float *s, float *m, float *l, float *o, int64_t dp)
{
    int64_t c0, c1;
    row_columns(w, j0, n, &c0, &c1);
    for (int64_t c = c0; c < c1; c++) {
        int64_t j = j0 + c;
        if (j < w->lo || j >= w->hi) s[c] = attn_masked_score(a, s[c]);
    }
    /* Select, not arithmetic: a score computed from a key outside [c0, c1)
     * may be garbage (even NaN) and must vanish without a trace. */
    vf sv[QK_VECS];
    vf mx = vbcast(-INFINITY);
    for (int c = 0; c < QK_VECS; c++) {
        sv[c] = vload(s + c * VL);
        if (c0 > 0 || c1 < KEY_TILE) {
            vi lane;
            for (int i = 0; i < VL; i++) lane[i] = c * VL + i;
            sv[c] = vsel((lane >= (int32_t)c0) & (lane < (int32_t)c1), sv[c], vbcast(-INFINITY));
        }
        mx = vmax(mx, sv[c]);
    }
    float m_tile = vhmax(mx);
    float m_new = m_tile > *m ? m_tile : *m;
    if (m_new == -INFINITY) return 0;
    vf mv = vbcast(m_new), sum = vbcast(0.0f);
    for (int c = 0; c < QK_VECS; c++) {
        vf pc = vexp(sv[c] - mv);
        sum += pc;
        vstore(s + c * VL, pc);
    }
    /* the running max rarely moves after the first tiles: alpha is then 1 */
    const float alpha = m_new == *m ? 1.0f : vexp(vbcast(*m - m_new))[0];
    *l = *l * alpha + vhsum(sum);
    *m = m_new;
    if (alpha != 1.0f) {
        vf av = vbcast(alpha);
        for (int64_t d = 0; d < dp; d += VL) vstore(o + d, vload(o + d) * av);
    }
    return 1;
}

/* The packed K/V buffer is kept per calling thread and only grows: a fresh
 * multi-megabyte allocation per call costs page faults on every call. */
static _Thread_local tril_workspace pack_cache;

void TRIL_ISA_FN(tril_attention_rowmajor_release)(void) { workspace_release(&pack_cache); }

/* Packed K and V of every (batch, head): tile n of head bh starts at key
 * first[b] + n * KEY_TILE and lives at kt + (bh * tiles + n) * dp * KEY_TILE
 * (transposed, [dp, KEY_TILE]) and v + same offset ([KEY_TILE, dp]). Columns
 * and padding lanes beyond the keys are zero. */
typedef struct {
    float *kt;      // [B*H, tiles, dp, KEY_TILE]
    float *v;       // [B*H, tiles, KEY_TILE, dp]
    int64_t *first; // [B] first key read in sequence b
    int64_t *last;  // [B] one past the last key read in sequence b
    int64_t tiles;  // tiles per head (the most any sequence needs)
} packed_kv;

/* Packs tile n of every head of sequence b. Key by key, all heads at once:
 * each key's row of K (and of V) is read front to back, the access pattern
 * the hardware prefetchers follow best (head by head, the reads were 256-byte
 * pieces a whole row apart, and stalled). */
static void pack_tile(const tril_attention_args *a, const packed_kv *p, int64_t b, int64_t n,
                      int64_t dp)
{
    const int64_t D = a->head_dim, H = a->heads;
    const int64_t j0 = p->first[b] + n * KEY_TILE;
    const int64_t keys = attn_max64(0, attn_min64(KEY_TILE, p->last[b] - j0));
    for (int64_t h = 0; h < H; h++) {
        const int64_t at = ((b * H + h) * p->tiles + n) * dp * KEY_TILE;
        memset(p->kt + at, 0, (size_t)(dp * KEY_TILE) * sizeof(float));
        memset(p->v + at, 0, (size_t)(dp * KEY_TILE) * sizeof(float));
    }
    int64_t rows[KEY_TILE]; /* each key's row, paged or not */
    attn_kv_rows(a, b, j0, keys, 0, rows);
    for (int64_t c = 0; c < keys; c++) {
        for (int64_t h = 0; h < H; h++) {
            const int64_t at = ((b * H + h) * p->tiles + n) * dp * KEY_TILE, off = rows[c] + h * D;
            float *kt = p->kt + at, *v = p->v + at;
            if (a->kv_dtype == TRIL_F32) {
                const float *kr = (const float *)a->k + off, *vr = (const float *)a->v + off;
                for (int64_t d = 0; d < D; d++) kt[d * KEY_TILE + c] = kr[d];
                memcpy(v + c * dp, vr, (size_t)D * sizeof(float));
            } else {
                for (int64_t d = 0; d < D; d++) {
                    kt[d * KEY_TILE + c] = tril_load_f32(a->k, a->kv_dtype, (size_t)(off + d));
                    v[c * dp + d] = tril_load_f32(a->v, a->kv_dtype, (size_t)(off + d));
                }
            }
        }
    }
}

static void run_unit(const tril_attention_args *a, const packed_kv *p, tile_buffers *t,
                     int64_t bh, int64_t i0, int64_t dp)
{
    const int64_t b = bh / a->heads, h = bh % a->heads;
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
        const int64_t tile = (j0 - p->first[b]) / KEY_TILE;
        const float *kt = p->kt + (bh * p->tiles + tile) * dp * KEY_TILE;
        const float *v = p->v + (bh * p->tiles + tile) * dp * KEY_TILE;
        for (int64_t r0 = 0; r0 < rows_padded; r0 += QK_ROWS) {
            const attn_row_window *w = &t->win[r0];
            qk_tile(t->q + r0 * dp, dp, kt, t->s);
            /* The keys every row of the micro-block may use, [shared_lo,
             * shared_hi), go through the blocked P.V; each row's own edges
             * (the diagonal's last few keys, padding) row by row, so no row
             * ever multiplies a value it may not see (0 * NaN is NaN). */
            int64_t shared_lo = 0, shared_hi = n, c0[QK_ROWS], c1[QK_ROWS];
            int live[QK_ROWS], all_live = 1;
            for (int r = 0; r < QK_ROWS; r++) {
                row_columns(&w[r], j0, n, &c0[r], &c1[r]);
                live[r] = softmax_update(a, &w[r], j0, n, t->s + r * KEY_TILE, &t->m[r0 + r],
                                         &t->l[r0 + r], t->o + (r0 + r) * dp, dp);
                if (!live[r]) { /* nothing seen yet: this row takes no P.V at all */
                    all_live = 0;
                    continue;
                }
                shared_lo = attn_max64(shared_lo, c0[r]);
                shared_hi = attn_min64(shared_hi, c1[r]);
            }
            if (!all_live) shared_lo = shared_hi = 0; /* rare: all row by row */
            shared_hi = attn_max64(shared_hi, shared_lo);
            pv_block(t->o + r0 * dp, t->s, v, dp, shared_lo, shared_hi);
            for (int r = 0; r < QK_ROWS && r0 + r < rows; r++) {
                if (!live[r]) continue;
                float *o = t->o + (r0 + r) * dp;
                const float *pr = t->s + r * KEY_TILE;
                pv_row(o, pr, v, dp, c0[r], attn_min64(c1[r], shared_lo));
                pv_row(o, pr, v, dp, attn_max64(c0[r], shared_hi), c1[r]);
            }
        }
    }
    for (int64_t r = 0; r < rows; r++)
        attn_finish_row(a, b, h, i0 + r, t->win[r].lo, t->win[r].hi, t->o + r * dp, 1, t->m[r],
                        t->l[r]);
}

tril_status TRIL_ISA_FN(tril_attention_rowmajor)(const tril_attention_args *a)
{
    const int64_t dp = (a->head_dim + VL - 1) / VL * VL;
    const int64_t bh_count = a->batch * a->heads;
    const int64_t blocks = (a->q_len + ROW_BLOCK - 1) / ROW_BLOCK;
    packed_kv p;
    const int64_t most = attn_key_ranges(a, &p.first, &p.last);
    if (most < 0) return TRIL_FAIL(TRIL_ERR_NOMEM, "attention: out of memory");
    p.tiles = (most + KEY_TILE - 1) / KEY_TILE;
    const size_t packed = (size_t)(bh_count * p.tiles * dp * KEY_TILE);
    p.kt = workspace_get(&pack_cache, 2 * (packed ? packed : 1));
    p.v = p.kt ? p.kt + (packed ? packed : 1) : NULL;
    int failed = !p.kt;
    if (failed) {
        free(p.first);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "attention: cannot allocate %zu packed floats", 2 * packed);
    }
#pragma omp parallel reduction(| : failed) num_threads(attn_threads(a, 1))
    {
        tile_buffers t;
        if (!buffers_alloc(&t, dp)) failed = 1;
#pragma omp for schedule(static)
        for (int64_t n = 0; n < a->batch * p.tiles; n++) pack_tile(a, &p, n / p.tiles, n % p.tiles, dp);
        /* Every row scores every key, so blocks cost about the same; the
         * dynamic hand-out evens out threads that start late. */
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < bh_count * blocks; u++) {
            if (failed) continue;
            run_unit(a, &p, &t, u % bh_count, (blocks - 1 - u / bh_count) * ROW_BLOCK, dp);
        }
        buffers_free(&t);
    }
    free(p.first);
    if (failed) return TRIL_FAIL(TRIL_ERR_NOMEM, "attention: cannot allocate tile buffers");
    return TRIL_OK;
}

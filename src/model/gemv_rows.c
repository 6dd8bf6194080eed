/* Several independent rows through the decoding GEMVs at once (tril serve:
 * one token of each of n sequences). The weights are streamed once for all
 * rows instead of once per row, and each row's arithmetic is exactly that
 * of the one-row kernels in gemv.c (same block split, same accumulation
 * order, same contractions), so a row's result does not depend on which
 * other rows share the pass: a request's tokens do not depend on the batch.
 * tests/test_ops.c checks every row bit for bit against the one-row kernel.
 * Compiled once per instruction set (src/core/isa.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/isa.h"
#include "core/parallel.h"
#include "core/simd.h"
#include "model/gemv_internal.h"
#include "tril/ops.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* acc_r[0, out) += x_r[i0, i1) @ w[i0:i1, :] for rows r < n (acc_r =
 * acc + r * acc_stride, x_r = x + r * in). gemv.c's rows_into adds the
 * terms of each output in the order i0, i0 + 1, ..., one multiply-add each;
 * a value stored and loaded again is the same value, so keeping the sum in
 * a register over all of [i0, i1) gives exactly its result. Here it is kept
 * in registers for a tile of XW_ROWS rows x XW_VECS vectors: each weight
 * vector loaded serves XW_ROWS rows, and the tile's band of weights (in x
 * XW_VECS vectors) stays in cache for the next rows. */
#define XW_ROWS 4
#define XW_VECS 4
/* constant-count loops unrolled whole, so a tile's sums stay in registers */
#define UNROLL _Pragma("GCC unroll 16")

/* zero: the sums start at 0 rather than at what acc holds (a block's
 * partial sums: nothing to zero in memory first and read back). */
VINLINE void tile_into(float *acc, int64_t acc_stride, const float *x, int64_t in, const float *w,
                       int64_t i0, int64_t i1, int64_t out, int64_t o, int64_t r0, const int nr,
                       const int nv, const int zero)
{
    vf a[XW_ROWS][XW_VECS]; /* only [nr][nv] used; all set, which GCC needs to see */
    UNROLL for (int r = 0; r < XW_ROWS; r++)
        UNROLL for (int v = 0; v < XW_VECS; v++) a[r][v] = vbcast(0.0f);
    if (!zero)
        UNROLL for (int r = 0; r < nr; r++)
            UNROLL for (int v = 0; v < nv; v++) a[r][v] = vload(acc + (r0 + r) * acc_stride + o + v * TRIL_VL);
    for (int64_t i = i0; i < i1; i++) {
        const float *wr = w + i * out + o;
        vf wv[XW_VECS];
        UNROLL for (int v = 0; v < nv; v++) wv[v] = vload(wr + v * TRIL_VL);
        UNROLL for (int r = 0; r < nr; r++) {
            const vf xr = vbcast(x[(r0 + r) * in + i]);
            UNROLL for (int v = 0; v < nv; v++) a[r][v] += xr * wv[v];
        }
    }
    UNROLL for (int r = 0; r < nr; r++)
        UNROLL for (int v = 0; v < nv; v++) vstore(acc + (r0 + r) * acc_stride + o + v * TRIL_VL, a[r][v]);
}

/* Few rows: gemv.c's rows_into walk (eight adjacent weight rows per pass,
 * read front to back: what streams fastest from memory), each pass's
 * weight vectors loaded once for every row. */
static void rows_into_few(float *acc, int64_t acc_stride, const float *x, int64_t in,
                          const float *w, int64_t i0, int64_t i1, int64_t out, int64_t n)
{
    int64_t i = i0;
    for (; i + 8 <= i1; i += 8) {
        const float *r = w + i * out;
        const float *next = i + 16 <= i1 ? r + 8 * out : NULL;
        int64_t o = 0;
        for (; o + TRIL_VL <= out; o += TRIL_VL) {
            if (next)
                for (int k = 0; k < 8; k++) vprefetch_l2(next + k * out + o);
            vf wk[8];
            for (int k = 0; k < 8; k++) wk[k] = vload(r + k * out + o);
            for (int64_t row = 0; row < n; row++) {
                const float *xr = x + row * in + i;
                float *ar = acc + row * acc_stride;
                vf a = vload(ar + o);
                for (int k = 0; k < 8; k++) a += vbcast(xr[k]) * wk[k];
                vstore(ar + o, a);
            }
        }
        for (int64_t row = 0; row < n; row++) {
            const float *xr = x + row * in;
            float *ar = acc + row * acc_stride;
            for (int64_t oo = o; oo < out; oo++)
                for (int k = 0; k < 8; k++) ar[oo] += xr[i + k] * r[k * out + oo];
        }
    }
    for (; i < i1; i++) {
        const float *r = w + i * out;
        for (int64_t row = 0; row < n; row++) {
            float *ar = acc + row * acc_stride;
            const float xi_s = x[row * in + i];
            const vf xi = vbcast(xi_s);
            int64_t o = 0;
            for (; o + TRIL_VL <= out; o += TRIL_VL) vstore(ar + o, vload(ar + o) + xi * vload(r + o));
            for (; o < out; o++) ar[o] += xi_s * r[o];
        }
    }
}

/* tile_into for a full tile of 4 or (six) 6 rows x 4 vectors, its sums
 * spelled out so the compiler keeps them in registers (as an array they
 * went to the stack). */
VINLINE void tile_rows_x4(float *acc, int64_t acc_stride, const float *x, int64_t in,
                          const float *w, int64_t i0, int64_t i1, int64_t out, int64_t o,
                          int64_t r0, const float *next, const int zero, const int six)
{
    float *a0p = acc + r0 * acc_stride + o, *a1p = a0p + acc_stride;
    float *a2p = a1p + acc_stride, *a3p = a2p + acc_stride;
    float *a4p = a3p + (six ? acc_stride : 0), *a5p = a4p + (six ? acc_stride : 0);
    const float *x0 = x + r0 * in, *x1 = x0 + in, *x2 = x1 + in, *x3 = x2 + in;
    const float *x4 = x3 + (six ? in : 0), *x5 = x4 + (six ? in : 0);
#define TRIL_LOAD_ROW(r)                                                               \
    vf s##r##0 = vbcast(0.0f), s##r##1 = s##r##0, s##r##2 = s##r##0, s##r##3 = s##r##0; \
    if (!zero)                                                                         \
    s##r##0 = vload(a##r##p), s##r##1 = vload(a##r##p + TRIL_VL),                      \
    s##r##2 = vload(a##r##p + 2 * TRIL_VL), s##r##3 = vload(a##r##p + 3 * TRIL_VL)
    TRIL_LOAD_ROW(0);
    TRIL_LOAD_ROW(1);
    TRIL_LOAD_ROW(2);
    TRIL_LOAD_ROW(3);
    TRIL_LOAD_ROW(4);
    TRIL_LOAD_ROW(5);
#undef TRIL_LOAD_ROW
    for (int64_t i = i0; i < i1; i++) {
        const float *wr = w + i * out + o;
        if (next)
            for (int64_t b = 0; b < XW_VECS * TRIL_VL * (int64_t)sizeof(float); b += 64)
                vprefetch_l2((const char *)(next + (i - i0) * out) + b);
        const vf w0 = vload(wr), w1 = vload(wr + TRIL_VL), w2 = vload(wr + 2 * TRIL_VL),
                 w3 = vload(wr + 3 * TRIL_VL);
#define TRIL_FMA_ROW(r)                     \
    {                                       \
        const vf xb = vbcast(x##r[i]);      \
        s##r##0 += xb * w0;                 \
        s##r##1 += xb * w1;                 \
        s##r##2 += xb * w2;                 \
        s##r##3 += xb * w3;                 \
    }
        TRIL_FMA_ROW(0)
        TRIL_FMA_ROW(1)
        TRIL_FMA_ROW(2)
        TRIL_FMA_ROW(3)
        if (six) {
            TRIL_FMA_ROW(4)
            TRIL_FMA_ROW(5)
        }
#undef TRIL_FMA_ROW
    }
#define TRIL_STORE_ROW(r)                                                              \
    vstore(a##r##p, s##r##0), vstore(a##r##p + TRIL_VL, s##r##1),                      \
        vstore(a##r##p + 2 * TRIL_VL, s##r##2), vstore(a##r##p + 3 * TRIL_VL, s##r##3)
    TRIL_STORE_ROW(0);
    TRIL_STORE_ROW(1);
    TRIL_STORE_ROW(2);
    TRIL_STORE_ROW(3);
    if (six) {
        TRIL_STORE_ROW(4);
        TRIL_STORE_ROW(5);
    }
#undef TRIL_STORE_ROW
}

static void tile_4x4(float *acc, int64_t acc_stride, const float *x, int64_t in, const float *w,
                     int64_t i0, int64_t i1, int64_t out, int64_t o, int64_t r0,
                     const float *next, const int zero)
{
    tile_rows_x4(acc, acc_stride, x, in, w, i0, i1, out, o, r0, next, zero, 0);
}

#if TRIL_VL >= 16 /* 24 sums + 4 weights + 1 broadcast of 32 registers */
static void tile_6x4(float *acc, int64_t acc_stride, const float *x, int64_t in, const float *w,
                     int64_t i0, int64_t i1, int64_t out, int64_t o, int64_t r0,
                     const float *next, const int zero)
{
    tile_rows_x4(acc, acc_stride, x, in, w, i0, i1, out, o, r0, next, zero, 1);
}
#endif

static void rows_into_multi(float *acc, int64_t acc_stride, const float *x, int64_t in,
                            const float *w, int64_t i0, int64_t i1, int64_t out, int64_t n,
                            const int zero, const float *next_block)
{
    if (n < XW_ROWS) {
        if (zero)
            for (int64_t row = 0; row < n; row++) memset(acc + row * acc_stride, 0, (size_t)out * sizeof(float));
        rows_into_few(acc, acc_stride, x, in, w, i0, i1, out, n);
        return;
    }
    const int64_t full = out / TRIL_VL * TRIL_VL;
    for (int64_t o = 0; o < full; o += XW_VECS * TRIL_VL) {
        const int nv = full - o >= XW_VECS * TRIL_VL ? XW_VECS : (int)((full - o) / TRIL_VL);
        int64_t r0 = 0;
        /* the first row tile also fetches into L2 the next band, or past
         * the last band the first band of the next block this thread
         * takes (next_block: its first row; NULL: none): the band's
         * weights come from memory in short runs, one per weight row,
         * which the hardware prefetcher does not follow */
        const float *next = o + 2 * XW_VECS * TRIL_VL <= full ? w + i0 * out + o + XW_VECS * TRIL_VL
                            : o + XW_VECS * TRIL_VL >= full ? next_block : NULL;
#if TRIL_VL >= 16
        /* six-row tiles (a band read from cache fewer times) while they
         * leave no 8 rows, which two four-row tiles take better */
        for (; nv == XW_VECS && n - r0 >= 6 && n - r0 != 8; r0 += 6) {
            tile_6x4(acc, acc_stride, x, in, w, i0, i1, out, o, r0, r0 == 0 ? next : NULL, zero);
        }
#endif
        for (; r0 + XW_ROWS <= n; r0 += XW_ROWS) {
            if (nv == XW_VECS) tile_4x4(acc, acc_stride, x, in, w, i0, i1, out, o, r0, r0 == 0 ? next : NULL, zero);
            else tile_into(acc, acc_stride, x, in, w, i0, i1, out, o, r0, XW_ROWS, nv, zero);
        }
        /* the rows left over, one tile (a constant row count, so its sums
         * stay in registers) */
#define TRIL_TILE_LEFT(nr)                                                                 \
    (nv == XW_VECS ? tile_into(acc, acc_stride, x, in, w, i0, i1, out, o, r0, nr, XW_VECS, zero) \
                   : tile_into(acc, acc_stride, x, in, w, i0, i1, out, o, r0, nr, nv, zero))
        switch (n - r0) {
        case 1: TRIL_TILE_LEFT(1); break;
        case 2: TRIL_TILE_LEFT(2); break;
        case 3: TRIL_TILE_LEFT(3); break;
        default: break;
        }
#undef TRIL_TILE_LEFT
    }
    if (full == out) return;
    /* the columns past the last whole vector: written exactly as rows_into
     * writes them, so the compiler contracts them alike */
    for (int64_t row = 0; row < n; row++) {
        float *ar = acc + row * acc_stride;
        if (zero)
            for (int64_t oo = full; oo < out; oo++) ar[oo] = 0.0f;
        const float *xr = x + row * in;
        int64_t i = i0;
        for (; i + 8 <= i1; i += 8) {
            const float *r = w + i * out;
            for (int64_t oo = full; oo < out; oo++)
                for (int k = 0; k < 8; k++) ar[oo] += xr[i + k] * r[k * out + oo];
        }
        for (; i < i1; i++) {
            const float *r = w + i * out;
            for (int64_t oo = full; oo < out; oo++) ar[oo] += xr[i] * r[oo];
        }
    }
}

/* y[r, out] += x[r, in] @ w[in, out] for n rows; partials: n *
 * TRIL_MATVEC_PARTIALS(out) floats (NULL: one sequential pass per row, as
 * gemv_xw without partials). */
void TRIL_ISA_FN(tril_gemv_xw_rows)(float *y, const float *x, const float *w, int64_t n,
                                    int64_t in, int64_t out, float *partials)
{
    if (in * out <= GEMV_PARALLEL_MIN || !partials || in < TRIL_MATVEC_BLOCKS) {
        rows_into_multi(y, out, x, in, w, 0, in, out, n, 0, NULL);
        return;
    }
    const int64_t per_row = TRIL_MATVEC_PARTIALS(out);
    int64_t taken = 0; /* blocks handed out */
#pragma omp parallel num_threads(gemv_threads_rows(4 * in * out, n))
    {
        /* each thread fetches ahead the first band of the next block it holds */
        int64_t blk = tril_take_item(&taken);
        while (blk < TRIL_MATVEC_BLOCKS) {
            const int64_t after = tril_take_item(&taken);
            float *acc = blk == 0 ? y : partials + (blk - 1) * out;
            const int64_t stride = blk == 0 ? out : per_row;
            const int64_t i0 = in * blk / TRIL_MATVEC_BLOCKS, i1 = in * (blk + 1) / TRIL_MATVEC_BLOCKS;
            const int64_t j0 = in * after / TRIL_MATVEC_BLOCKS, j1 = in * (after + 1) / TRIL_MATVEC_BLOCKS;
            /* (its first band is fetched row for row with this block's: when
             * it has fewer rows, which uneven blocks can, not at all) */
            const float *next_block = after < TRIL_MATVEC_BLOCKS && j1 - j0 >= i1 - i0 ? w + j0 * out : NULL;
            /* a later block's sums start at zero (in registers) */
            rows_into_multi(acc, stride, x, in, w, i0, i1, out, n, blk > 0, next_block);
            blk = after;
        }
#pragma omp barrier
        /* y += the blocks' sums in block order, columns shared out */
#ifdef _OPENMP
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
#else
        const int nt = 1, t = 0;
#endif
        const int64_t c0 = out * t / nt, c1 = out * (t + 1) / nt;
        for (int64_t row = 0; row < n; row++)
            for (int c = 1; c < TRIL_MATVEC_BLOCKS; c++) {
                const float *p = partials + row * per_row + (int64_t)(c - 1) * out;
                float *yr = y + row * out;
                for (int64_t o = c0; o < c1; o++) yr[o] += p[o];
            }
    }
}

/* The head and the bf16 matrices: y[r, v] = w[v, :] . x_r, each dot
 * product gemv_dot_wx's (fp32: one chain of sums) or gemv_dot_bf16's (two,
 * one per vector lane q of each 2-vector step), exactly. A tile of WX_TW
 * weight rows x WX_TX x rows runs each lane's sums as a pass of its own:
 * one sum per product in registers, so each weight vector loaded serves
 * WX_TX products and each x vector WX_TW (interleaving the lanes would
 * need a register per lane per product, and the loads, not the FMA units,
 * would set the pace). The lanes' sums are then combined as the one-row
 * kernel combines them. The tile's rows (WX_TW + WX_TX rows of cols
 * floats) stay in L1 across the passes. The fp32 dot product was four
 * lanes, and its four passes made the 16-row head 20 % slower. */
#if TRIL_VL >= 16
#define WX_TW 4 /* 16 sums + 8 loads in 32 registers */
#else
#define WX_TW 2 /* 16 registers */
#endif
#define WX_TX 4

/* One vector of columns (at c) of a tile's products: each weight vector
 * loaded once for the TX x rows, each x vector once for the WX_TW rows. */
#define TRIL_DOTS_STEP(LOADW, TX, c)                                                          \
    {                                                                                         \
        vf wv[WX_TW], xv[(TX)];                                                               \
        UNROLL for (int v = 0; v < WX_TW; v++) wv[v] = LOADW(w + v * cols + (c));             \
        UNROLL for (int r = 0; r < (TX); r++) xv[r] = vload(x + r * cols + (c));              \
        UNROLL for (int v = 0; v < WX_TW; v++)                                                \
            UNROLL for (int r = 0; r < (TX); r++) a[v][r] += wv[v] * xv[r];                   \
    }

/* Step s's share of fetching pf_lines cache lines from pf into L2, per
 * lines a step. */
VINLINE void prefetch_share(const char *pf, int64_t pf_lines, int64_t per, int64_t s)
{
    for (int64_t k = s * per; k < (s + 1) * per && k < pf_lines; k++) vprefetch_l2(pf + k * 64);
}

/* pf_lines cache lines from pf are fetched into L2 as the tile goes, a few
 * each step: the weight rows the next x pass will read (see
 * TRIL_WX_X_PASS). */
#define TRIL_DOTS_TILE(NAME, W, LOADW, LANES, COMBINE, SCALARW, TX)                             \
    static void NAME(const W *w, const float *x, int64_t cols, float *y, int64_t y_stride,   \
                     const char *pf, int64_t pf_lines)                                        \
    {                                                                                         \
        const int64_t step = (LANES) * TRIL_VL, body = cols / step * step;                    \
        const int64_t steps = cols / TRIL_VL;                                                 \
        const int64_t per = steps > 0 ? (pf_lines + steps - 1) / steps : 0;                   \
        int64_t s = 0; /* steps taken */                                                      \
        vf part[LANES][WX_TW][(TX)];                                                          \
        UNROLL for (int q = 0; q < (LANES); q++) {                                            \
            vf a[WX_TW][(TX)];                                                                \
            UNROLL for (int v = 0; v < WX_TW; v++)                                            \
                UNROLL for (int r = 0; r < (TX); r++) a[v][r] = vbcast(0.0f);                 \
            for (int64_t c = q * TRIL_VL; c < body; c += step) {                              \
                prefetch_share(pf, pf_lines, per, s++);                                       \
                TRIL_DOTS_STEP(LOADW, TX, c)                                                  \
            }                                                                                 \
            if (q == 0) /* the whole vectors past the last full step: lane 0's */            \
                for (int64_t c = body; c + TRIL_VL <= cols; c += TRIL_VL) {                   \
                    prefetch_share(pf, pf_lines, per, s++);                                   \
                    TRIL_DOTS_STEP(LOADW, TX, c)                                              \
                }                                                                             \
            UNROLL for (int v = 0; v < WX_TW; v++)                                            \
                UNROLL for (int r = 0; r < (TX); r++) part[q][v][r] = a[v][r];                \
        }                                                                                     \
        const int64_t tail = cols / TRIL_VL * TRIL_VL;                                        \
        vf comb[WX_TW * (TX)];                                                                \
        float sum[WX_TW * (TX)];                                                              \
        UNROLL for (int v = 0; v < WX_TW; v++)                                                \
            UNROLL for (int r = 0; r < (TX); r++) comb[v * (TX) + r] = COMBINE(part, v, r);   \
        if (WX_TW * (TX) == 16) vhsum16(comb, sum); /* the 16 sums' trees side by side */     \
        else UNROLL for (int k = 0; k < WX_TW * (TX); k++) sum[k] = vhsum(comb[k]);           \
        UNROLL for (int v = 0; v < WX_TW; v++)                                                \
            UNROLL for (int r = 0; r < (TX); r++) {                                           \
                const W *wr = w + v * cols;                                                   \
                const float *xr = x + r * cols;                                               \
                float acc = sum[v * (TX) + r];                                                \
                for (int64_t c = tail; c < cols; c++) acc += SCALARW(wr[c]) * xr[c];          \
                y[r * y_stride + v] = acc;                                                    \
            }                                                                                 \
    }

#define WX_COMBINE1(p, v, r) (p[0][v][r])
#define WX_COMBINE2(p, v, r) (p[0][v][r] + p[1][v][r])
#define WX_SCALAR_F32(w) (w)

TRIL_DOTS_TILE(dots_tile_f32, float, vload, 1, WX_COMBINE1, WX_SCALAR_F32, WX_TX)
TRIL_DOTS_TILE(dots_pair_f32, float, vload, 1, WX_COMBINE1, WX_SCALAR_F32, 2)
TRIL_DOTS_TILE(dots_one_f32, float, vload, 1, WX_COMBINE1, WX_SCALAR_F32, 1)
TRIL_DOTS_TILE(dots_tile_bf16, uint16_t, vload_bf16, 2, WX_COMBINE2, bf16_scalar, WX_TX)
TRIL_DOTS_TILE(dots_pair_bf16, uint16_t, vload_bf16, 2, WX_COMBINE2, bf16_scalar, 2)
TRIL_DOTS_TILE(dots_one_bf16, uint16_t, vload_bf16, 2, WX_COMBINE2, bf16_scalar, 1)

/* y[r, v] = w[v, :] . x_r for n rows x_r (x + r * cols), y_r = y + r *
 * rows, each product the one-row kernel's (DOT). Threads take 256 weight
 * rows at a time (the first x pass of each run is not prefetched: runs of
 * 256 rows were 3-5 % faster than of 64), two
 * tiles' weight rows at a time past all the x rows (WX_TX, then 2, then 1
 * at a time), so each x row read from L2 serves two tiles and the two
 * tiles' weight rows stay in L1. The weight rows that do not fill a tile
 * go one product at a time. One body for the fp32 and bf16 weights (W:
 * the element type). */
#define WX_ROWS_CHUNK 256
/* The tile calls of an x pass share out, in order, the prefetch of the
 * next pass's weight rows (pf, pf_lines lines): call j of calls takes its
 * slice. A tile's rows are read from memory only while the first x rows
 * go past them; fetching the next rows a few lines a step over the whole
 * pass keeps memory busy while the later x rows run from L1. */
#define TRIL_PF_SLICE(j) pf + (pf_lines * (j) / calls) * 64, pf_lines * ((j) + 1) / calls - pf_lines * (j) / calls
#define TRIL_WX_X_PASS(TILE, PAIR, ONE, wv, nw, pf, pf_lines)                                \
    {                                                                                       \
        const int64_t per_x = (nw) / WX_TW;                                                 \
        const int64_t calls = (n / WX_TX + (n % WX_TX) / 2 + (n % WX_TX) % 2) * per_x;      \
        int64_t g = 0, j = 0;                                                               \
        for (; g + WX_TX <= n; g += WX_TX)                                                  \
            for (int64_t t = 0; t < (nw); t += WX_TW, j++)                                  \
                TILE((wv) + t * cols, x + g * cols, cols, y + g * rows + (wv - w) / cols + t, rows, TRIL_PF_SLICE(j)); \
        for (; g + 2 <= n; g += 2)                                                          \
            for (int64_t t = 0; t < (nw); t += WX_TW, j++)                                  \
                PAIR((wv) + t * cols, x + g * cols, cols, y + g * rows + (wv - w) / cols + t, rows, TRIL_PF_SLICE(j)); \
        for (; g < n; g++)                                                                  \
            for (int64_t t = 0; t < (nw); t += WX_TW, j++)                                  \
                ONE((wv) + t * cols, x + g * cols, cols, y + g * rows + (wv - w) / cols + t, rows, TRIL_PF_SLICE(j)); \
    }
/* lines of weight rows [v, v + count) within [0, end) */
#define TRIL_WX_LINES(W, v, count, end) \
    ((((v) + (count) < (end) ? (v) + (count) : (end)) - (v)) * cols * (int64_t)sizeof(W) / 64)
#define TRIL_WX_ROWS_BODY(W, DOT, TILE, PAIR, ONE)                                           \
    const int64_t chunks = (rows + WX_ROWS_CHUNK - 1) / WX_ROWS_CHUNK;                      \
    const int threads = gemv_threads_rows((int64_t)sizeof(W) * rows * cols, n);             \
    _Pragma("omp parallel for schedule(dynamic, 1) num_threads(threads)")                   \
    for (int64_t ch = 0; ch < chunks; ch++) {                                               \
        const int64_t v0 = ch * WX_ROWS_CHUNK;                                              \
        const int64_t v1 = v0 + WX_ROWS_CHUNK < rows ? v0 + WX_ROWS_CHUNK : rows;           \
        int64_t v = v0;                                                                     \
        for (; v + 2 * WX_TW <= v1; v += 2 * WX_TW) {                                       \
            const char *pf = (const char *)(w + (v + 2 * WX_TW) * cols);                    \
            const int64_t pf_lines = TRIL_WX_LINES(W, v + 2 * WX_TW, 2 * WX_TW, v1);        \
            TRIL_WX_X_PASS(TILE, PAIR, ONE, w + v * cols, 2 * WX_TW, pf, pf_lines)           \
        }                                                                                   \
        for (; v + WX_TW <= v1; v += WX_TW) {                                               \
            const char *pf = (const char *)(w + (v + WX_TW) * cols);                        \
            const int64_t pf_lines = TRIL_WX_LINES(W, v + WX_TW, WX_TW, v1);                \
            TRIL_WX_X_PASS(TILE, PAIR, ONE, w + v * cols, WX_TW, pf, pf_lines)               \
        }                                                                                   \
        for (; v < v1; v++)                                                                 \
            for (int64_t r = 0; r < n; r++) y[r * rows + v] = DOT(w + v * cols, x + r * cols, cols, 0); \
    }

void TRIL_ISA_FN(tril_gemv_wx_rows)(float *y, const float *w, const float *x, int64_t n,
                                    int64_t rows, int64_t cols)
{
    TRIL_WX_ROWS_BODY(float, gemv_dot_wx, dots_tile_f32, dots_pair_f32, dots_one_f32)
}

void TRIL_ISA_FN(tril_gemv_wx_bf16_rows)(float *y, const uint16_t *w, const float *x, int64_t n,
                                         int64_t rows, int64_t cols)
{
    TRIL_WX_ROWS_BODY(uint16_t, gemv_dot_bf16, dots_tile_bf16, dots_pair_bf16, dots_one_bf16)
}

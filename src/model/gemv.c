/* Matrix-vector products for one-token decoding, where every weight is
 * streamed once per token and memory bandwidth is the limit. Compiled once
 * per instruction set (see CMakeLists.txt).
 *
 * Layout decides the speed here (bench/bench_gemv.c): each thread must read
 * one long contiguous block. Splitting w[in, out] by columns gave each thread
 * short strided runs (1.5-4.6 KB per row) and reached ~18 GB/s; splitting by
 * rows, or walking a transposed [out, in] copy row by row, reached ~30 GB/s
 * on the same machine (docs/BENCHMARKS.md). */
#include <stddef.h>
#include <stdint.h>

#include "core/isa.h"
#include "core/simd.h"
#include "core/parallel.h"
#include "model/gemv_internal.h"
#include "tril/ops.h"

#ifdef _OPENMP
#include <omp.h>
#endif


static inline int gemv_threads(int64_t bytes) { return gemv_threads_rows(bytes, 1); }

/* vprefetch_l2 (simd.h) gave the fp32 kernels 8-15% more bandwidth in A/B
 * runs; the bf16 and int8 ones prefetch too (no gain on an AMD Zen 4 host,
 * 59-75% -> 89-106% of the limit on an Intel Emerald Rapids one). */

static inline int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static inline int thread_count(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* acc[0, out) += x[i0, i1) @ w[i0:i1, :], eight rows per pass: acc (in L1)
 * is read and written once per eight rows, and the eight rows are adjacent,
 * so the pass reads one contiguous run (2 and 16 rows per pass were slower,
 * 4 about 12% slower, in bench_gemv). */
static void rows_into(float *acc, const float *x, const float *w, int64_t i0, int64_t i1,
                      int64_t out)
{
    int64_t i = i0;
    for (; i + 8 <= i1; i += 8) {
        const float *r = w + i * out;
        vf xs[8];
        for (int k = 0; k < 8; k++) xs[k] = vbcast(x[i + k]);
        /* the next pass's eight rows, the same columns */
        const float *next = i + 16 <= i1 ? r + 8 * out : NULL;
        int64_t o = 0;
        for (; o + TRIL_VL <= out; o += TRIL_VL) {
            if (next)
                for (int k = 0; k < 8; k++) vprefetch_l2(next + k * out + o);
            vf a = vload(acc + o);
            for (int k = 0; k < 8; k++) a += xs[k] * vload(r + k * out + o);
            vstore(acc + o, a);
        }
        for (; o < out; o++)
            for (int k = 0; k < 8; k++) acc[o] += x[i + k] * r[k * out + o];
    }
    for (; i < i1; i++) {
        const float *r = w + i * out;
        const vf xi = vbcast(x[i]);
        int64_t o = 0;
        for (; o + TRIL_VL <= out; o += TRIL_VL) vstore(acc + o, vload(acc + o) + xi * vload(r + o));
        for (; o < out; o++) acc[o] += x[i] * r[o];
    }
}

void TRIL_ISA_FN(tril_gemv_xw)(float *y, const float *x, const float *w, int64_t in,
                                          int64_t out, float *partials)
{
    if (in * out <= GEMV_PARALLEL_MIN || !partials || in < TRIL_MATVEC_BLOCKS) {
        rows_into(y, x, w, 0, in, out);
        return;
    }
#pragma omp parallel num_threads(gemv_threads(4 * in * out))
    {
        /* dynamic: on a shared machine one thread is often delayed, and
         * with a static half each the other would wait for all of it */
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < TRIL_MATVEC_BLOCKS; c++) {
            float *acc = c == 0 ? y : partials + (int64_t)(c - 1) * out;
            if (c > 0)
                for (int64_t o = 0; o < out; o++) acc[o] = 0.0f;
            rows_into(acc, x, w, in * c / TRIL_MATVEC_BLOCKS, in * (c + 1) / TRIL_MATVEC_BLOCKS, out);
        }
        /* y += the blocks' sums in block order, columns shared out */
        const int nt = thread_count(), t = thread_id();
        const int64_t c0 = out * t / nt, c1 = out * (t + 1) / nt;
        for (int c = 1; c < TRIL_MATVEC_BLOCKS; c++) {
            const float *p = partials + (int64_t)(c - 1) * out;
            for (int64_t o = c0; o < c1; o++) y[o] += p[o];
        }
    }
}

/* y[r] = w[r, :] . x for rows r; threads take runs of 64 rows (64 x 3 KB
 * contiguous for GPT-2's head) as they become free. Each row is one
 * thread's, so the result does not depend on who took it. */
void TRIL_ISA_FN(tril_gemv_wx)(float *y, const float *w, const float *x, int64_t rows,
                                          int64_t cols)
{
#pragma omp parallel for schedule(guided, 16) num_threads(gemv_threads(4 * rows * cols))
    for (int64_t r = 0; r < rows; r++) y[r] = gemv_dot_wx(w + r * cols, x, cols, 1);
}

/* bf16 weights: 16-bit loads widened to fp32 exactly (bf16 is the top half
 * of an fp32), so the arithmetic is the fp32 kernel's on half the bytes.
 * AVX-512 BF16's dot product (vdpbf16ps) was measured too (docs/BENCHMARKS.md):
 * it needs x rounded to bf16 (or split in two halves to stay exact) and was
 * no faster, because the widening is free next to the memory traffic. */

void TRIL_ISA_FN(tril_gemv_wx_bf16)(float *y, const uint16_t *w, const float *x,
                                               int64_t rows, int64_t cols)
{
#pragma omp parallel for schedule(guided, 16) num_threads(gemv_threads(2 * rows * cols))
    for (int64_t r = 0; r < rows; r++) y[r] = gemv_dot_bf16(w + r * cols, x, cols, 1);
}

void TRIL_ISA_FN(tril_widen_bf16)(float *dst, const uint16_t *src, int64_t n)
{
    const int64_t full = n / TRIL_VL * TRIL_VL;
#pragma omp parallel for schedule(static) num_threads(gemv_threads(6 * n))
    for (int64_t i = 0; i < full; i += TRIL_VL) vstore(dst + i, vload_bf16(src + i));
    for (int64_t i = full; i < n; i++) dst[i] = bf16_scalar(src[i]);
}

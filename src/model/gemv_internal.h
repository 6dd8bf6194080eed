/* What the one-row GEMVs (gemv.c) and their several-row forms
 * (gemv_rows.c) share, so both decide alike. */
#ifndef TRIL_MODEL_GEMV_INTERNAL_H
#define TRIL_MODEL_GEMV_INTERNAL_H

#include <stdint.h>

#include "core/parallel.h"
#include "core/simd.h"
#include "tril/ops.h" /* TRIL_Q8_BLOCK */

/* Below this many weights one pass on one thread (the block split, and so
 * the rounding, depends only on the shape, never on the thread count). */
#define GEMV_PARALLEL_MIN 32768

/* Threads worth a pass over `bytes` of weights: from 400 KB per thread
 * (TRIL_STREAM_MIN_BYTES_PER_THREAD), a lower bar than for arithmetic,
 * because these passes hand out blocks dynamically (a thread the machine
 * delays holds up one block, not half the matrix) and one core alone cannot
 * draw the memory bandwidth. Each of `rows` rows adds its FMAs to the same
 * weight traffic. */
static inline int gemv_threads_rows(int64_t bytes, int64_t rows)
{
    return tril_threads_for_streamed((double)bytes * (double)(rows > 1 ? rows : 1));
}

/* The dot products of the head and of the bf16 matrices, one weight row
 * against x, shared by the one-row kernels (gemv.c) and the several-row ones
 * (gemv_rows.c), so a row's arithmetic is the same in both by construction.
 * prefetch: also prefetch the row ahead (the one-row fp32 walk streams from
 * memory; a row reused for several x rows is already in cache), into L2 and
 * then L1 (simd.h). Against L2 alone 4 KB ahead (Intel Emerald Rapids, 2
 * threads, the two builds in turns, GPT-2 124M, medians against the
 * streaming limit): the fp32 head 0.85-0.90 -> 0.95-0.96, the bf16 layer
 * matrices 0.81-0.83 -> 0.84-0.89 and head 0.84-0.87 -> 0.89-0.90; int8
 * (gemv_q8.c) level within the noise. */
VINLINE float gemv_dot_wx(const float *row, const float *x, int64_t cols, const int prefetch)
{
    /* One chain of sums: the several-row tiles (gemv_rows.c) then keep one
     * register per product, with no passes per lane (20 % faster at 16
     * rows); one row alone is bound by memory, not by the chain. */
    vf a = vbcast(0.0f);
    int64_t c = 0;
    for (; c + TRIL_VL <= cols; c += TRIL_VL) {
        if (prefetch && (c * (int64_t)sizeof(float)) % 64 == 0) vprefetch_ahead(row + c);
        a += vload(row + c) * vload(x + c);
    }
    float acc = vhsum(a);
    for (; c < cols; c++) acc += row[c] * x[c];
    return acc;
}

/* bf16 weights widened exactly to fp32: two chains. prefetch: as
 * gemv_dot_wx (on an Intel Xeon, Emerald Rapids, it took the bf16 matrices
 * from 59-75 % of the streaming limit to 89-106 %; an AMD Zen 4 host had
 * measured no difference). */
VINLINE float gemv_dot_bf16(const uint16_t *row, const float *x, int64_t cols, const int prefetch)
{
    vf a0 = vbcast(0.0f), a1 = a0;
    int64_t c = 0;
    for (; c + 2 * TRIL_VL <= cols; c += 2 * TRIL_VL) {
        if (prefetch && (c * 2) % 64 == 0) /* once a line (two steps a line with AVX2) */
            vprefetch_ahead(row + c);
        a0 += vload_bf16(row + c) * vload(x + c);
        a1 += vload_bf16(row + c + TRIL_VL) * vload(x + c + TRIL_VL);
    }
    for (; c + TRIL_VL <= cols; c += TRIL_VL) a0 += vload_bf16(row + c) * vload(x + c);
    float acc = vhsum(a0 + a1);
    for (; c < cols; c++) acc += bf16_scalar(row[c]) * x[c];
    return acc;
}

#endif

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

/* Threads worth a pass over `bytes` of weights: from 400 KB per thread,
 * a lower bar than core/parallel.h's, because these passes hand out blocks
 * dynamically (a thread the machine delays holds up one block, not half the
 * matrix) and one core alone cannot draw the memory bandwidth. Each of
 * `rows` rows adds its FMAs to the same weight traffic. */
#define GEMV_MIN_BYTES_PER_THREAD 4.0e5

static inline int gemv_threads_rows(int64_t bytes, int64_t rows)
{
    return tril_threads_for((double)bytes * (double)(rows > 1 ? rows : 1) *
                            (TRIL_PARALLEL_MIN_FLOPS_PER_THREAD / GEMV_MIN_BYTES_PER_THREAD));
}

/* The dot products of the head and of the bf16 matrices, one weight row
 * against x, shared by the one-row kernels (gemv.c) and the several-row ones
 * (gemv_rows.c), so a row's arithmetic is the same in both by construction.
 * prefetch: also prefetch the row ahead (the one-row fp32 walk streams from
 * memory; a row reused for several x rows is already in cache). */
VINLINE float gemv_dot_wx(const float *row, const float *x, int64_t cols, const int prefetch)
{
    vf a0 = vbcast(0.0f), a1 = a0, a2 = a0, a3 = a0;
    int64_t c = 0;
    for (; c + 4 * TRIL_VL <= cols; c += 4 * TRIL_VL) {
        if (prefetch)
            for (int k = 0; k < 4 * TRIL_VL * 4; k += 64)
                vprefetch_l2((const char *)(row + c) + TRIL_PREFETCH_BYTES + k);
        a0 += vload(row + c) * vload(x + c);
        a1 += vload(row + c + TRIL_VL) * vload(x + c + TRIL_VL);
        a2 += vload(row + c + 2 * TRIL_VL) * vload(x + c + 2 * TRIL_VL);
        a3 += vload(row + c + 3 * TRIL_VL) * vload(x + c + 3 * TRIL_VL);
    }
    for (; c + TRIL_VL <= cols; c += TRIL_VL) a0 += vload(row + c) * vload(x + c);
    float acc = vhsum((a0 + a1) + (a2 + a3));
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
        if (prefetch)
            for (int k = 0; k < 2 * TRIL_VL * 2; k += 64)
                vprefetch_l2((const char *)(row + c) + TRIL_PREFETCH_BYTES + k);
        a0 += vload_bf16(row + c) * vload(x + c);
        a1 += vload_bf16(row + c + TRIL_VL) * vload(x + c + TRIL_VL);
    }
    for (; c + TRIL_VL <= cols; c += TRIL_VL) a0 += vload_bf16(row + c) * vload(x + c);
    float acc = vhsum(a0 + a1);
    for (; c < cols; c++) acc += bf16_scalar(row[c]) * x[c];
    return acc;
}

/* int8 weights (Q8_0): w = q * scale, one scale per TRIL_Q8_BLOCK weights
 * of the row. Each block's 32 products are summed in fp32 (exactly
 * widened q, not yet scaled), then scaled into one of two chains (even and
 * odd blocks): one multiply by the scale per 32 weights, not per weight. */
VINLINE vf q8_block(const int8_t *q, const float *wide, const float *x)
{
    /* wide: the row already widened to fp32 (the same values). The sum
     * starts at zero so that every step is one s + w * x: from w0 * x0 +
     * w1 * x1 the compiler may fuse either product, and did so differently
     * in two inlined copies. */
    vf s = vbcast(0.0f);
    for (int k = 0; k < TRIL_Q8_BLOCK; k += TRIL_VL)
        s += (wide ? vload(wide + k) : vload_i8(q + k)) * vload(x + k);
    return s;
}

/* row: the int8 weights, or wide != NULL: the same row widened to fp32
 * (the several-row kernel widens a row once for all x rows); the
 * arithmetic is the same either way. */
VINLINE float gemv_dot_q8w(const int8_t *row, const float *wide, const uint16_t *scales,
                           const float *x, int64_t cols, const int prefetch)
{
    enum { QB = TRIL_Q8_BLOCK };
    vf a0 = vbcast(0.0f), a1 = a0;
    int64_t c = 0, b = 0;
    for (; c + 2 * QB <= cols; c += 2 * QB, b += 2) {
        if (prefetch) vprefetch_l2((const char *)(row + c) + TRIL_PREFETCH_BYTES);
        a0 += vbcast(f16_scalar(scales[b])) * q8_block(row + c, wide ? wide + c : NULL, x + c);
        a1 += vbcast(f16_scalar(scales[b + 1])) * q8_block(row + c + QB, wide ? wide + c + QB : NULL, x + c + QB);
    }
    for (; c + QB <= cols; c += QB, b++)
        a0 += vbcast(f16_scalar(scales[b])) * q8_block(row + c, wide ? wide + c : NULL, x + c);
    float acc = vhsum(a0 + a1);
    if (c < cols) {
        /* a last, shorter block, zero-padded to a whole one and summed as
         * the others: a scalar loop here was vectorised (products rounded
         * apart from their sums) in one inlined copy and not in another */
        float wt[QB], xt[QB];
        for (int k = 0; k < QB; k++) {
            wt[k] = c + k < cols ? (wide ? wide[c + k] : (float)row[c + k]) : 0.0f;
            xt[k] = c + k < cols ? x[c + k] : 0.0f;
        }
        acc += f16_scalar(scales[b]) * vhsum(q8_block(NULL, wt, xt));
    }
    return acc;
}

VINLINE float gemv_dot_q8(const int8_t *row, const uint16_t *scales, const float *x, int64_t cols,
                          const int prefetch)
{
    return gemv_dot_q8w(row, NULL, scales, x, cols, prefetch);
}

#endif

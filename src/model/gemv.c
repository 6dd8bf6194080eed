/* Matrix-vector products for one-token decoding, where the whole weight
 * matrix is streamed once per token and memory bandwidth is the limit.
 * Compiled once per instruction set (see CMakeLists.txt); threads split the
 * output so each reads a disjoint part of the matrix. */
#include <stdint.h>

#include "attention/simd.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

/* This thread's share [c0, c1) of `out` columns, whole vectors each. */
static inline void thread_columns(int64_t out, int64_t *c0, int64_t *c1)
{
    int nt = 1, tid = 0;
#ifdef _OPENMP
    nt = omp_get_num_threads();
    tid = omp_get_thread_num();
#endif
    const int64_t per = ((out + nt - 1) / nt + TRIL_VL - 1) / TRIL_VL * TRIL_VL;
    *c0 = tid * per;
    *c1 = *c0 + per < out ? *c0 + per : out;
}

/* y[out] += x[in] @ w[in, out] (w row-major). Each thread owns a contiguous
 * range of columns and walks the rows four at a time, so every read of w is
 * a long contiguous run and y stays in L1. */
void CAT(tril_gemv_xw_, TRIL_ISA_SUFFIX)(float *y, const float *x, const float *w, int64_t in,
                                          int64_t out)
{
#pragma omp parallel if (in * out > 32768)
    {
        int64_t c0, c1;
        thread_columns(out, &c0, &c1);
        int64_t i = 0;
        for (; i + 4 <= in; i += 4) {
            const float *r0 = w + i * out, *r1 = r0 + out, *r2 = r1 + out, *r3 = r2 + out;
            const vf x0 = vbcast(x[i]), x1 = vbcast(x[i + 1]), x2 = vbcast(x[i + 2]), x3 = vbcast(x[i + 3]);
            int64_t o = c0;
            for (; o + TRIL_VL <= c1; o += TRIL_VL)
                vstore(y + o, vload(y + o) + x0 * vload(r0 + o) + x1 * vload(r1 + o) +
                                  x2 * vload(r2 + o) + x3 * vload(r3 + o));
            for (; o < c1; o++) y[o] += x[i] * r0[o] + x[i + 1] * r1[o] + x[i + 2] * r2[o] + x[i + 3] * r3[o];
        }
        for (; i < in; i++)
            for (int64_t o = c0; o < c1; o++) y[o] += x[i] * w[i * out + o];
    }
}

/* y[r] = w[r, :] . x for rows r (the tied LM head: logits = wte x). */
void CAT(tril_gemv_wx_, TRIL_ISA_SUFFIX)(float *y, const float *w, const float *x, int64_t rows,
                                          int64_t cols)
{
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
    for (int64_t r = 0; r < rows; r++) {
        const float *row = w + r * cols;
        vf a0 = vbcast(0.0f), a1 = a0, a2 = a0, a3 = a0;
        int64_t c = 0;
        for (; c + 4 * TRIL_VL <= cols; c += 4 * TRIL_VL) {
            a0 += vload(row + c) * vload(x + c);
            a1 += vload(row + c + TRIL_VL) * vload(x + c + TRIL_VL);
            a2 += vload(row + c + 2 * TRIL_VL) * vload(x + c + 2 * TRIL_VL);
            a3 += vload(row + c + 3 * TRIL_VL) * vload(x + c + 3 * TRIL_VL);
        }
        float acc = vhsum((a0 + a1) + (a2 + a3));
        for (; c < cols; c++) acc += row[c] * x[c];
        y[r] = acc;
    }
}

/* bf16 weights: 16-bit loads widened to fp32 exactly (bf16 is the top half
 * of an fp32), so the arithmetic is the fp32 kernels' on half the bytes. */
typedef uint16_t vh16 __attribute__((vector_size(TRIL_VL * 2), aligned(2), may_alias));
typedef uint32_t vu32 __attribute__((vector_size(TRIL_VL * 4)));

VINLINE vf vload_bf16(const uint16_t *p)
{
    vh16 h = *(const vh16 *)p;
    return (vf)(__builtin_convertvector(h, vu32) << 16);
}

static inline float bf16_scalar(uint16_t h)
{
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

void CAT(tril_gemv_xw_bf16_, TRIL_ISA_SUFFIX)(float *y, const float *x, const uint16_t *w,
                                               int64_t in, int64_t out)
{
#pragma omp parallel if (in * out > 32768)
    {
        int64_t c0, c1;
        thread_columns(out, &c0, &c1);
        int64_t i = 0;
        for (; i + 8 <= in; i += 8) { /* 8 rows per pass: y is read and written once per 8 */
            const uint16_t *r = w + i * out;
            vf xs[8];
            for (int k = 0; k < 8; k++) xs[k] = vbcast(x[i + k]);
            int64_t o = c0;
            for (; o + TRIL_VL <= c1; o += TRIL_VL) {
                vf acc = vload(y + o);
                for (int k = 0; k < 8; k++) acc += xs[k] * vload_bf16(r + k * out + o);
                vstore(y + o, acc);
            }
            for (; o < c1; o++)
                for (int k = 0; k < 8; k++) y[o] += x[i + k] * bf16_scalar(r[k * out + o]);
        }
        for (; i < in; i++)
            for (int64_t o = c0; o < c1; o++) y[o] += x[i] * bf16_scalar(w[i * out + o]);
    }
}

void CAT(tril_gemv_wx_bf16_, TRIL_ISA_SUFFIX)(float *y, const uint16_t *w, const float *x,
                                               int64_t rows, int64_t cols)
{
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
    for (int64_t r = 0; r < rows; r++) {
        const uint16_t *row = w + r * cols;
        vf a0 = vbcast(0.0f), a1 = a0;
        int64_t c = 0;
        for (; c + 2 * TRIL_VL <= cols; c += 2 * TRIL_VL) {
            a0 += vload_bf16(row + c) * vload(x + c);
            a1 += vload_bf16(row + c + TRIL_VL) * vload(x + c + TRIL_VL);
        }
        float acc = vhsum(a0 + a1);
        for (; c < cols; c++) acc += bf16_scalar(row[c]) * x[c];
        y[r] = acc;
    }
}

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

#include "core/isa.h"
#include "core/parallel.h"
#include "core/simd.h"
#include "model/gemv_internal.h"
#include "tril/ops.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* acc_r[0, out) += x_r[i0, i1) @ w[i0:i1, :] for rows r < n (acc_r =
 * acc + r * acc_stride, x_r = x + r * in): gemv.c's rows_into per row, the
 * eight weight vectors of a pass loaded once for every row. */
static void rows_into_multi(float *acc, int64_t acc_stride, const float *x, int64_t in,
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

/* y[r, out] += x[r, in] @ w[in, out] for n rows; partials: n *
 * TRIL_MATVEC_PARTIALS(out) floats (NULL: one sequential pass per row, as
 * gemv_xw without partials). */
void TRIL_ISA_FN(tril_gemv_xw_rows)(float *y, const float *x, const float *w, int64_t n,
                                    int64_t in, int64_t out, float *partials)
{
    if (in * out <= GEMV_PARALLEL_MIN || !partials || in < TRIL_MATVEC_BLOCKS) {
        rows_into_multi(y, out, x, in, w, 0, in, out, n);
        return;
    }
    const int64_t per_row = TRIL_MATVEC_PARTIALS(out);
#pragma omp parallel num_threads(gemv_threads_rows(4 * in * out, n))
    {
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < TRIL_MATVEC_BLOCKS; c++) {
            float *acc = c == 0 ? y : partials + (int64_t)(c - 1) * out;
            const int64_t stride = c == 0 ? out : per_row;
            if (c > 0)
                for (int64_t row = 0; row < n; row++)
                    for (int64_t o = 0; o < out; o++) acc[row * stride + o] = 0.0f;
            rows_into_multi(acc, stride, x, in, w, in * c / TRIL_MATVEC_BLOCKS,
                            in * (c + 1) / TRIL_MATVEC_BLOCKS, out, n);
        }
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

/* y[r, v] = w[v, :] . x_r for n rows x_r (x + r * cols), y_r = y + r *
 * rows: gemv_wx's dot products, each weight row read once for all x_r. */
void TRIL_ISA_FN(tril_gemv_wx_rows)(float *y, const float *w, const float *x, int64_t n,
                                    int64_t rows, int64_t cols)
{
#pragma omp parallel for schedule(dynamic, 64) num_threads(gemv_threads_rows(4 * rows * cols, n))
    for (int64_t v = 0; v < rows; v++) {
        const float *row = w + v * cols;
        for (int64_t k = 0; k + 64 <= 4 * cols && k < 4 * TRIL_PREFETCH_BYTES; k += 64)
            vprefetch_l2((const char *)(row + cols) + k);
        for (int64_t r = 0; r < n; r++) {
            const float *xr = x + r * cols;
            vf a0 = vbcast(0.0f), a1 = a0, a2 = a0, a3 = a0;
            int64_t c = 0;
            for (; c + 4 * TRIL_VL <= cols; c += 4 * TRIL_VL) {
                a0 += vload(row + c) * vload(xr + c);
                a1 += vload(row + c + TRIL_VL) * vload(xr + c + TRIL_VL);
                a2 += vload(row + c + 2 * TRIL_VL) * vload(xr + c + 2 * TRIL_VL);
                a3 += vload(row + c + 3 * TRIL_VL) * vload(xr + c + 3 * TRIL_VL);
            }
            for (; c + TRIL_VL <= cols; c += TRIL_VL) a0 += vload(row + c) * vload(xr + c);
            float acc = vhsum((a0 + a1) + (a2 + a3));
            for (; c < cols; c++) acc += row[c] * xr[c];
            y[r * rows + v] = acc;
        }
    }
}

/* The bf16 form of gemv_wx_rows: gemv_wx_bf16's dot products. */
void TRIL_ISA_FN(tril_gemv_wx_bf16_rows)(float *y, const uint16_t *w, const float *x, int64_t n,
                                         int64_t rows, int64_t cols)
{
#pragma omp parallel for schedule(dynamic, 64) num_threads(gemv_threads_rows(2 * rows * cols, n))
    for (int64_t v = 0; v < rows; v++) {
        const uint16_t *row = w + v * cols;
        for (int64_t r = 0; r < n; r++) {
            const float *xr = x + r * cols;
            vf a0 = vbcast(0.0f), a1 = a0;
            int64_t c = 0;
            for (; c + 2 * TRIL_VL <= cols; c += 2 * TRIL_VL) {
                a0 += vload_bf16(row + c) * vload(xr + c);
                a1 += vload_bf16(row + c + TRIL_VL) * vload(xr + c + TRIL_VL);
            }
            for (; c + TRIL_VL <= cols; c += TRIL_VL) a0 += vload_bf16(row + c) * vload(xr + c);
            float acc = vhsum(a0 + a1);
            for (; c < cols; c++) acc += bf16_scalar(row[c]) * xr[c];
            y[r * rows + v] = acc;
        }
    }
}

/* The model layer's per-ISA kernels (src/core/isa.h): gemv.c,
 * gemv_q8.c, gelu_kernels.c and softmax_kernels.c, gathered per build by
 * kernel_table.c; the ops in ops.c reach them through
 * TRIL_ISA_TABLE(tril_model_kernels). */
#ifndef TRIL_MODEL_KERNELS_H
#define TRIL_MODEL_KERNELS_H

#include <stdint.h>

#include "core/isa.h"

typedef struct {
    /* y[out] += x[in] @ w[in, out] by TRIL_MATVEC_BLOCKS blocks of rows
     * (see tril_matvec; partials NULL: one sequential pass). */
    void (*gemv_xw)(float *y, const float *x, const float *w, int64_t in, int64_t out,
                    float *partials);
    /* y[r] = w[r, :] . x over rows r: the tied LM head, and every bf16
     * matrix (stored transposed, [out, in], for exactly this walk). */
    void (*gemv_wx)(float *y, const float *w, const float *x, int64_t rows, int64_t cols);
    void (*gemv_wx_bf16)(float *y, const uint16_t *w, const float *x, int64_t rows, int64_t cols);
    /* int8 weights q [rows, cols], an fp16 scale per TRIL_Q8_BLOCK of each
     * row, against x quantised by q8_quantize_x (gemv_q8.c) */
    void (*gemv_wx_q8)(float *y, const int8_t *q, const uint16_t *scales, const int8_t *xq,
                       const float *xs, int64_t rows, int64_t cols);
    /* tril_q8_quantize_x (tril/ops.h), bit for bit the oracle's */
    void (*q8_quantize_x)(int8_t *xq, float *xs, const float *x, int64_t n, int64_t cols);
    /* dst[n] = the fp32 values of bf16 src[n] (exact). */
    void (*widen_bf16)(float *dst, const uint16_t *src, int64_t n);
    /* The same for n independent rows at once, each row's arithmetic
     * exactly the one-row kernel's (gemv_rows.c): x [n, in], y [n, out],
     * partials n * TRIL_MATVEC_PARTIALS(out); y[n, rows] = w . x_r. */
    void (*gemv_xw_rows)(float *y, const float *x, const float *w, int64_t n, int64_t in,
                         int64_t out, float *partials);
    void (*gemv_wx_rows)(float *y, const float *w, const float *x, int64_t n, int64_t rows,
                         int64_t cols);
    void (*gemv_wx_bf16_rows)(float *y, const uint16_t *w, const float *x, int64_t n,
                              int64_t rows, int64_t cols);
    void (*gemv_wx_q8_rows)(float *y, const int8_t *q, const uint16_t *scales,
                            const int8_t *xq, const float *xs, int64_t n, int64_t rows,
                            int64_t cols);
    void (*gelu)(float *y, const float *x, int64_t n);
    void (*gelu_backward)(float *dx, const float *dy, const float *x, int64_t n);
    /* row[V] = softmax(row) in place; returns the cross-entropy
     * -log p[target] (softmax_kernels.c). */
    double (*softmax_xent_row)(float *row, int64_t V, int32_t target);
    /* w[n] = exp((logits - mx) / T), the sampler's weights (inv_t = 1 / T;
     * exactly 0 below about e^-87); lane by lane (softmax_kernels.c). */
    void (*sample_weights)(float *w, const float *logits, int64_t n, double mx, double inv_t);
} tril_model_kernels;

TRIL_ISA_DECLARE_TABLES(tril_model_kernels, tril_model_kernels);

#endif

/* The model's per-ISA kernels (gemv.c, gelu_kernels.c, compiled once per
 * instruction set) gathered in one table per build (kernel_table.c), so the
 * ops pick a table once instead of switching on the ISA at every call. */
#ifndef TRIL_MODEL_KERNELS_H
#define TRIL_MODEL_KERNELS_H

#include <stdint.h>

typedef struct {
    /* y[out] += x[in] @ w[in, out]: `threads` threads each stream a
     * contiguous block of rows of w; thread t > 0 sums into
     * partials[(t - 1) * out ...], added to y in thread order (deterministic
     * for a given thread count). */
    void (*gemv_xw)(float *y, const float *x, const float *w, int64_t in, int64_t out,
                    float *partials, int threads);
    /* y[r] = w[r, :] . x over rows r: the tied LM head, and every bf16
     * matrix (stored transposed, [out, in], for exactly this walk). */
    void (*gemv_wx)(float *y, const float *w, const float *x, int64_t rows, int64_t cols);
    void (*gemv_wx_bf16)(float *y, const uint16_t *w, const float *x, int64_t rows, int64_t cols);
    /* dst[n] = the fp32 values of bf16 src[n] (exact). */
    void (*widen_bf16)(float *dst, const uint16_t *src, int64_t n);
    void (*gelu)(float *y, const float *x, int64_t n);
    void (*gelu_backward)(float *dx, const float *dy, const float *x, int64_t n);
} tril_model_kernels;

extern const tril_model_kernels tril_model_kernels_generic;
extern const tril_model_kernels tril_model_kernels_avx2;
extern const tril_model_kernels tril_model_kernels_avx512;

/* The table for this CPU (tril_cpu_best_isa, decided once per process). */
const tril_model_kernels *tril_model_kernels_best(void);

#endif

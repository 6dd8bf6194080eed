/* One table of the model's kernels per instruction-set build (see kernels.h;
 * this file is compiled once per ISA like the kernels it lists). */
#include "model/kernels.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define KERNEL(name) CAT(name, TRIL_ISA_SUFFIX)

void KERNEL(tril_gemv_xw_)(float *y, const float *x, const float *w, int64_t in, int64_t out,
                           float *partials);
void KERNEL(tril_gemv_wx_)(float *y, const float *w, const float *x, int64_t rows, int64_t cols);
void KERNEL(tril_gemv_wx_bf16_)(float *y, const uint16_t *w, const float *x, int64_t rows,
                                int64_t cols);
void KERNEL(tril_widen_bf16_)(float *dst, const uint16_t *src, int64_t n);
void KERNEL(tril_gelu_vec_)(float *y, const float *x, int64_t n);
void KERNEL(tril_gelu_backward_vec_)(float *dx, const float *dy, const float *x, int64_t n);
double KERNEL(tril_softmax_xent_row_)(float *row, int64_t V, int32_t target);
void KERNEL(tril_adamw_update_)(float *p, const float *g, float *m, float *v, int64_t n,
                                const tril_adamw_scalars *s);

const tril_model_kernels KERNEL(tril_model_kernels_) = {
    .gemv_xw = KERNEL(tril_gemv_xw_),
    .gemv_wx = KERNEL(tril_gemv_wx_),
    .gemv_wx_bf16 = KERNEL(tril_gemv_wx_bf16_),
    .widen_bf16 = KERNEL(tril_widen_bf16_),
    .gelu = KERNEL(tril_gelu_vec_),
    .gelu_backward = KERNEL(tril_gelu_backward_vec_),
    .softmax_xent_row = KERNEL(tril_softmax_xent_row_),
    .adamw_update = KERNEL(tril_adamw_update_),
};

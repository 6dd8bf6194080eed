/* The model layer's kernel table for this ISA build (src/core/isa.h). */
#include "model/kernels.h"

void TRIL_ISA_FN(tril_gemv_xw)(float *y, const float *x, const float *w, int64_t in, int64_t out,
                               float *partials);
void TRIL_ISA_FN(tril_gemv_wx)(float *y, const float *w, const float *x, int64_t rows,
                               int64_t cols);
void TRIL_ISA_FN(tril_gemv_wx_bf16)(float *y, const uint16_t *w, const float *x, int64_t rows,
                                    int64_t cols);
void TRIL_ISA_FN(tril_gemv_wx_q8)(float *y, const int8_t *q, const uint16_t *scales,
                                  const int8_t *xq, const float *xs, int64_t rows, int64_t cols);
void TRIL_ISA_FN(tril_gemv_wx_q8_rows)(float *y, const int8_t *q, const uint16_t *scales,
                                       const int8_t *xq, const float *xs, int64_t n,
                                       int64_t rows, int64_t cols);
void TRIL_ISA_FN(tril_q8_quantize_x)(int8_t *xq, float *xs, const float *x, int64_t n,
                                     int64_t cols);
void TRIL_ISA_FN(tril_widen_bf16)(float *dst, const uint16_t *src, int64_t n);
void TRIL_ISA_FN(tril_gemv_xw_rows)(float *y, const float *x, const float *w, int64_t n,
                                    int64_t in, int64_t out, float *partials);
void TRIL_ISA_FN(tril_gemv_wx_rows)(float *y, const float *w, const float *x, int64_t n,
                                    int64_t rows, int64_t cols);
void TRIL_ISA_FN(tril_gemv_wx_bf16_rows)(float *y, const uint16_t *w, const float *x, int64_t n,
                                         int64_t rows, int64_t cols);
void TRIL_ISA_FN(tril_gelu_vec)(float *y, const float *x, int64_t n);
void TRIL_ISA_FN(tril_gelu_backward_vec)(float *dx, const float *dy, const float *x, int64_t n);
double TRIL_ISA_FN(tril_softmax_xent_row)(float *row, int64_t V, int32_t target);
void TRIL_ISA_FN(tril_sample_weights)(float *w, const float *logits, int64_t n, double mx,
                                      double inv_t);

const tril_model_kernels TRIL_ISA_FN(tril_model_kernels) = {
    .gemv_xw = TRIL_ISA_FN(tril_gemv_xw),
    .gemv_wx = TRIL_ISA_FN(tril_gemv_wx),
    .gemv_wx_bf16 = TRIL_ISA_FN(tril_gemv_wx_bf16),
    .gemv_wx_q8 = TRIL_ISA_FN(tril_gemv_wx_q8),
    .gemv_wx_q8_rows = TRIL_ISA_FN(tril_gemv_wx_q8_rows),
    .q8_quantize_x = TRIL_ISA_FN(tril_q8_quantize_x),
    .widen_bf16 = TRIL_ISA_FN(tril_widen_bf16),
    .gemv_xw_rows = TRIL_ISA_FN(tril_gemv_xw_rows),
    .gemv_wx_rows = TRIL_ISA_FN(tril_gemv_wx_rows),
    .gemv_wx_bf16_rows = TRIL_ISA_FN(tril_gemv_wx_bf16_rows),
    .gelu = TRIL_ISA_FN(tril_gelu_vec),
    .gelu_backward = TRIL_ISA_FN(tril_gelu_backward_vec),
    .softmax_xent_row = TRIL_ISA_FN(tril_softmax_xent_row),
    .sample_weights = TRIL_ISA_FN(tril_sample_weights),
};

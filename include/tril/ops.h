/* tril/ops.h - the transformer's dense ops, each as a plain scalar reference
 * (the oracle) and a fast version used by the model. Shapes are row-major;
 * T rows (tokens), C features. Weights follow GPT-2's Conv1D layout
 * [in, out]. */
#ifndef TRIL_OPS_H
#define TRIL_OPS_H

#include <stdint.h>

#include "tril/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The fast ops that run a BLAS GEMM return its status: a size beyond the
 * BLAS integer range (tril_blas_int_max) is TRIL_ERR_RANGE, never passed on
 * truncated; nothing is computed then. */

/* The largest size or leading dimension the linked BLAS takes: INT32_MAX
 * for a default OpenBLAS (32-bit blasint), INT64_MAX for an INTERFACE64
 * build. */
int64_t tril_blas_int_max(void);

/* y[T, out] = x[T, in] @ w[in, out] + b[out] (b may be NULL). */
void tril_ref_matmul(float *y, const float *x, const float *w, const float *b, int64_t T,
                     int64_t in, int64_t out);
tril_status tril_matmul(float *y, const float *x, const float *w, const float *b, int64_t T,
                        int64_t in, int64_t out);

/* One row (decoding): y[out] = x[in] @ w[in, out] + b. w's rows are cut
 * into TRIL_MATVEC_BLOCKS contiguous blocks that the threads take as they
 * become free (a thread delayed by the machine holds up one block, not half
 * the matrix); block c > 0 sums into partials[(c - 1) * out ...], added to y
 * in block order, so the result is the same for every thread count.
 * partials: TRIL_MATVEC_PARTIALS(out) floats, or NULL for one sequential
 * pass (small matrices take that pass anyway). */
#define TRIL_MATVEC_BLOCKS 8
#define TRIL_MATVEC_PARTIALS(out) ((int64_t)(TRIL_MATVEC_BLOCKS - 1) * (out))
void tril_matvec(float *y, const float *x, const float *w, const float *b, int64_t in, int64_t out,
                 float *partials);

/* n independent rows at once (one decoding token of each of n sequences):
 * y[r] = x[r] @ w + b for r < n, x [n, in], y [n, out], partials
 * n * TRIL_MATVEC_PARTIALS(out) floats or NULL. The weights are read once
 * for all rows, and every row's result is bit for bit what tril_matvec
 * gives it alone (same blocks, same order): a row never depends on the
 * others. */
void tril_matvec_rows(float *y, const float *x, const float *w, const float *b, int64_t n,
                      int64_t in, int64_t out, float *partials);

/* bf16 weights, stored transposed: wt[out, in] (each output's weights
 * contiguous, the layout one-token decoding streams fastest). Weights widen
 * exactly to fp32; the arithmetic is fp32. T == 1 runs a GEMV; more rows
 * widen wt into wbuf [out, in] once and run one fp32 GEMM. */
void tril_matvec_bf16(float *y, const float *x, const uint16_t *wt, const float *b, int64_t in,
                      int64_t out);
tril_status tril_matmul_bf16(float *y, const float *x, const uint16_t *wt, const float *b,
                             int64_t T, int64_t in, int64_t out, float *wbuf);
/* n independent rows, each bit for bit tril_matvec_bf16's result alone. */
void tril_matvec_bf16_rows(float *y, const float *x, const uint16_t *wt, const float *b,
                           int64_t n, int64_t in, int64_t out);
/* logits[T, V] = x[T, C] @ wte[V, C]^T with bf16 wte; for T > 1 the
 * vocabulary is widened panel_rows rows at a time into panel
 * [panel_rows, C]. */
tril_status tril_lm_head_bf16(float *logits, const float *x, const uint16_t *wte, int64_t T,
                              int64_t C, int64_t V, float *panel, int64_t panel_rows);
/* dst[n] = bf16 src[n] as fp32 (exact). */
void tril_widen_bf16(float *dst, const uint16_t *src, int64_t n);

/* int8 weights (Q8_0, as ggml's): a matrix in the decoding layout [rows,
 * cols] (the Conv1D matrices transposed to [out, in]; wte as stored,
 * [V, C]) is q[rows, cols] int8 and scales[rows, ceil(cols / 32)] fp16
 * (IEEE half bits, tril_f16_to_f32): weight = q * scale, one scale per
 * block of TRIL_Q8_BLOCK along each row. scale is max |w| / 127 over the
 * block rounded to fp16, one fp16 step up where rounding fell below it (so
 * |w| / scale <= 127 always); q = w / scale rounded to nearest, so
 * |w - q * scale| <= scale / 2. A 2-byte scale makes 1.0625 bytes per
 * weight (4-byte scales: 1.125, 6 % more to read per token). The GEMVs
 * quantise the activations too; the GEMMs do not (below). */
#define TRIL_Q8_BLOCK 32
/* Blocks in a row of cols values (the last may be short), and the scales
 * of a [rows, cols] matrix. */
#define TRIL_Q8_BLOCKS(cols) (((cols) + TRIL_Q8_BLOCK - 1) / TRIL_Q8_BLOCK)
#define TRIL_Q8_SCALES(rows, cols) ((rows) * TRIL_Q8_BLOCKS(cols))
/* TRIL_ERR_RANGE (naming the row) for a non-finite weight, or when a
 * block's scale is beyond fp16's range (max |w| > 127 * 65504), which no
 * real model has. */
tril_status tril_q8_quantize(int8_t *q, uint16_t *scales, const float *w, int64_t rows,
                             int64_t cols);
void tril_q8_dequantize(float *w, const int8_t *q, const uint16_t *scales, int64_t rows,
                        int64_t cols);
/* Decoding (one row, or several independent rows) quantises the
 * activations too, as ggml's Q8_0 x Q8_0 dot product: each x row gets a
 * scale per TRIL_Q8_BLOCK values, max |x| / 127 in fp32, and int8 values
 * x / scale rounded to nearest (ties to even); a block with a non-finite
 * value gets a NaN scale (so the output is NaN, as fp32's would be), one
 * whose max |x| is below TRIL_Q8_X_TINY is zero. The weights' and the
 * activations' int8 products are summed exactly in int32 per block, then
 * scaled by the two scales (in fp32: activations beyond about 1e35 make
 * the combined scale inf, and a zero block sum then NaN; either way the
 * logits check reports it). tril_matmul_q8 and tril_lm_head_q8 with T > 1
 * (tril_gpt2_forward's prefill, and the engine's prompt chunks of more
 * than 32 rows) keep fp32 activations: the weights are
 * dequantised into one fp32 GEMM. The several-row forms quantise, as the
 * engine's shorter prompt chunks do. xq holds TRIL_Q8_X_LEN(cols)
 * values per row (zeros past cols), xs TRIL_Q8_X_SCALES(cols) (zeros past
 * the blocks), so that kernels read whole vectors. */
#define TRIL_Q8_X_TINY 1e-30f
#define TRIL_Q8_X_LEN(cols) ((((cols) + 63) / 64) * 64)
#define TRIL_Q8_X_SCALES(cols) (((TRIL_Q8_BLOCKS(cols) + 15) / 16) * 16)
/* n rows x[n, cols] into xq[n, TRIL_Q8_X_LEN], xs[n, TRIL_Q8_X_SCALES]. */
void tril_q8_quantize_x(int8_t *xq, float *xs, const float *x, int64_t n, int64_t cols);
/* Oracle: the same, plain scalar (the kernels must match it bit for bit). */
void tril_ref_q8_quantize_x(int8_t *xq, float *xs, const float *x, int64_t n, int64_t cols);
/* y[T, out] = x[T, in] @ W + b with W [out, in] int8: T == 1 runs the int8
 * GEMV (x quantised as above); more rows dequantise W into wbuf [out, in]
 * once and run one fp32 GEMM. TRIL_ERR_NOMEM if the quantised x cannot be
 * allocated. */
tril_status tril_matmul_q8(float *y, const float *x, const int8_t *q, const uint16_t *scales,
                           const float *b, int64_t T, int64_t in, int64_t out, float *wbuf);
/* n independent rows, each bit for bit the T == 1 result alone. */
tril_status tril_matvec_q8_rows(float *y, const float *x, const int8_t *q,
                                const uint16_t *scales, const float *b, int64_t n, int64_t in,
                                int64_t out);
/* logits[T, V] = x[T, C] @ wte^T with int8 wte [V, C]; for T > 1 the
 * vocabulary is dequantised panel_rows rows at a time into panel. */
tril_status tril_lm_head_q8(float *logits, const float *x, const int8_t *q, const uint16_t *scales,
                            int64_t T, int64_t C, int64_t V, float *panel, int64_t panel_rows);
/* n independent rows (each sequence's last), each the T == 1 result. */
tril_status tril_lm_head_q8_rows(float *logits, const float *x, const int8_t *q,
                                 const uint16_t *scales, int64_t n, int64_t C, int64_t V);
/* x[t] = wte[ids[t]] (dequantised) + wpe[pos0 + t] with int8 wte. */
void tril_embed_q8(float *x, const int32_t *ids, int64_t T, int64_t pos0, const int8_t *q,
                   const uint16_t *scales, const float *wpe, int64_t C);
/* Oracle of the decoding GEMV: x quantised by tril_ref_q8_quantize_x, then
 * y[r] = sum over blocks of wscale * xscale * (sum of q * xq), in double. */
void tril_ref_gemv_q8(float *y, const int8_t *q, const uint16_t *scales, const float *x,
                      int64_t rows, int64_t cols);

/* logits[T, V] = x[T, C] @ wte[V, C]^T (the tied LM head). */
void tril_ref_lm_head(float *logits, const float *x, const float *wte, int64_t T, int64_t C,
                      int64_t V);
tril_status tril_lm_head(float *logits, const float *x, const float *wte, int64_t T, int64_t C,
                         int64_t V);
/* The head for n independent rows (each sequence's last), each row bit for
 * bit tril_lm_head's with T = 1; wte fp32 or (wte16 != NULL) bf16. */
void tril_lm_head_rows(float *logits, const float *x, const float *wte, const uint16_t *wte16,
                       int64_t n, int64_t C, int64_t V);

/* y[T, C] = (x - mean) / sqrt(var + eps) * w + b per row (biased variance). */
void tril_ref_layernorm(float *y, const float *x, const float *w, const float *b, int64_t T,
                        int64_t C, float eps);
void tril_layernorm(float *y, const float *x, const float *w, const float *b, int64_t T, int64_t C,
                    float eps);

/* y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GPT-2's gelu_new. */
void tril_ref_gelu(float *y, const float *x, int64_t n);
void tril_gelu(float *y, const float *x, int64_t n);

/* y[i] += x[i] (residual). */
void tril_add_inplace(float *y, const float *x, int64_t n);

/* x[t, :] = wte[ids[t], :] + wpe[pos0 + t, :]. */
void tril_embed(float *x, const int32_t *ids, int64_t T, int64_t pos0, const float *wte,
                const float *wpe, int64_t C);

/* The same with bf16 wte [V, C]. */
void tril_embed_bf16(float *x, const int32_t *ids, int64_t T, int64_t pos0, const uint16_t *wte,
                     const float *wpe, int64_t C);

/* ---- backward passes (training) -------------------------------------- */

/* For y = x w + b: dx[T, in] = dy w^T (overwritten; skipped if dx is NULL),
 * dw[in, out] += x^T dy, db[out] += column sums of dy (if db is not NULL). */
void tril_ref_matmul_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                              const float *w, int64_t T, int64_t in, int64_t out);
tril_status tril_matmul_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, int64_t T, int64_t in, int64_t out);

/* For logits = x wte^T: dx[T, C] = dlogits wte (overwritten),
 * dwte[V, C] += dlogits^T x. */
void tril_ref_lm_head_backward(float *dx, float *dwte, const float *dlogits, const float *x,
                               const float *wte, int64_t T, int64_t C, int64_t V);
tril_status tril_lm_head_backward(float *dx, float *dwte, const float *dlogits, const float *x,
                                  const float *wte, int64_t T, int64_t C, int64_t V);

/* LayerNorm that also keeps each row's mean and 1/std [T] for backward. */
void tril_layernorm_train(float *y, float *mean, float *rstd, const float *x, const float *w,
                          const float *b, int64_t T, int64_t C, float eps);
/* dx[T, C] += d input (accumulated: residual streams add), dw/db += . */
void tril_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                             const float *w, const float *mean, const float *rstd, int64_t T,
                             int64_t C);

/* dx = dy * gelu'(x) (overwritten; dx may alias dy). */
void tril_ref_gelu_backward(float *dx, const float *dy, const float *x, int64_t n);
void tril_gelu_backward(float *dx, const float *dy, const float *x, int64_t n);

/* Natural-log softmax cross-entropy of one row of logits [V] at `target`:
 * logsumexp(logits) - logits[target], in double. */
double tril_cross_entropy(const float *logits, int64_t V, int32_t target);
/* The same loss, fast (vector exp, ~1e-7 relative), turning the row into
 * its softmax probabilities in place (what the training backward needs). */
double tril_softmax_xent(float *row, int64_t V, int32_t target);

#ifdef __cplusplus
}
#endif
#endif

/* int8 weights (Q8_0): quantising at load, and the ops of the int8 model
 * (one-row and several-row GEMVs against quantised activations, prefill
 * GEMM through dequantised fp32, the head and the embedding). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/gemm.h"
#include "model/kernels.h"
#include "tril/dtype.h"
#include "tril/ops.h"

static inline const tril_model_kernels *kernels(void)
{
    return TRIL_ISA_TABLE(tril_model_kernels);
}

/* x rounded to the nearest integer, ties to even, as lrintf in the default
 * rounding mode, for |x| < 2^22: adding and taking away 1.5 x 2^23 leaves
 * no fraction bits. Inline and vectorisable, where lrintf was a libm call
 * per weight (a quarter of an int8 load's time). */
static inline float round_small(float x)
{
#if FLT_EVAL_METHOD == 0
    const float magic = 12582912.0f;
    return (x + magic) - magic;
#else /* float sums kept wider (x87): the trick needs each rounded to float */
    return (float)lrintf(x);
#endif
}

tril_status tril_q8_quantize(int8_t *q, uint16_t *scales, const float *w, int64_t rows,
                             int64_t cols)
{
    const int64_t nb = TRIL_Q8_BLOCKS(cols);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t b = 0; b < nb; b++) {
            const int64_t c0 = b * TRIL_Q8_BLOCK;
            const int64_t c1 = c0 + TRIL_Q8_BLOCK < cols ? c0 + TRIL_Q8_BLOCK : cols;
            const float *wr = w + r * cols;
            float amax = 0.0f;
            int nonfinite = 0; /* branch-free, so the scan vectorises */
            for (int64_t c = c0; c < c1; c++) {
                const float a = fabsf(wr[c]);
                nonfinite |= !(a <= 3.4028235e38f); /* inf or NaN */
                amax = a > amax ? a : amax;
            }
            if (nonfinite)
                for (int64_t c = c0; c < c1; c++)
                    if (!isfinite(wr[c]))
                        return TRIL_FAIL(TRIL_ERR_RANGE,
                                         "int8 quantisation: row %lld has a non-finite weight (%g)",
                                         (long long)r, (double)wr[c]);
            uint16_t s16 = tril_f32_to_f16(amax / 127.0f);
            /* rounded below max |w| / 127: one step up (fp16 bits of positive
             * values count upwards), so no q needs more than 127 */
            if (tril_f16_to_f32(s16) * 127.0f < amax) s16++;
            const float scale = tril_f16_to_f32(s16);
            if (!isfinite(scale))
                return TRIL_FAIL(TRIL_ERR_RANGE,
                                 "int8 quantisation: row %lld has a weight of magnitude %g, "
                                 "beyond what an fp16 block scale holds (127 x 65504)",
                                 (long long)r, (double)amax);
            const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
            scales[r * nb + b] = s16;
            for (int64_t c = c0; c < c1; c++) {
                /* |w * inv| <= 127 up to rounding of inv (so well below
                 * 2^22): clamp */
                const float v = round_small(wr[c] * inv);
                q[r * cols + c] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
            }
        }
    return TRIL_OK;
}

void tril_q8_dequantize(float *w, const int8_t *q, const uint16_t *scales, int64_t rows,
                        int64_t cols)
{
    const int64_t nb = TRIL_Q8_BLOCKS(cols);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t b = 0; b < nb; b++) {
            const float scale = tril_f16_to_f32(scales[r * nb + b]);
            const int64_t c0 = b * TRIL_Q8_BLOCK;
            const int64_t c1 = c0 + TRIL_Q8_BLOCK < cols ? c0 + TRIL_Q8_BLOCK : cols;
            for (int64_t c = c0; c < c1; c++) w[r * cols + c] = (float)q[r * cols + c] * scale;
        }
}

/* dst rows [r0, r0 + n) of a dequantised matrix, threads over rows. */
static void dequantize_rows(float *dst, const int8_t *q, const uint16_t *scales, int64_t n,
                            int64_t cols)
{
    const int64_t nb = TRIL_Q8_BLOCKS(cols);
#pragma omp parallel for schedule(static) if (n * cols > 65536)
    for (int64_t r = 0; r < n; r++) tril_q8_dequantize(dst + r * cols, q + r * cols, scales + r * nb, 1, cols);
}

void tril_q8_quantize_x(int8_t *xq, float *xs, const float *x, int64_t n, int64_t cols)
{
    kernels()->q8_quantize_x(xq, xs, x, n, cols);
}

/* n rows of x quantised for the int8 GEMVs, in one allocation. */
typedef struct {
    int8_t *q;
    float *s;
} quantised_x;

static tril_status quantise(quantised_x *out, const float *x, int64_t n, int64_t cols)
{
    const size_t qbytes = (size_t)(n * TRIL_Q8_X_LEN(cols)); /* a multiple of 64 */
    const size_t sbytes = (size_t)(n * TRIL_Q8_X_SCALES(cols)) * sizeof(float);
    void *buf = malloc(qbytes + sbytes);
    if (!buf)
        return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot allocate %.1f KB for %lld quantised rows",
                         (double)(qbytes + sbytes) / 1e3, (long long)n);
    out->q = buf;
    out->s = (float *)((char *)buf + qbytes);
    kernels()->q8_quantize_x(out->q, out->s, x, n, cols);
    return TRIL_OK;
}

/* y[n, rows] = the int8 GEMV of each x row (+ b). */
static tril_status gemv_rows(float *y, const float *x, const int8_t *q, const uint16_t *scales,
                             const float *b, int64_t n, int64_t cols, int64_t rows)
{
    if (n <= 0 || rows <= 0) return TRIL_OK;
    if (cols <= 0) { /* empty sums: y = b */
        for (int64_t r = 0; r < n; r++)
            for (int64_t o = 0; o < rows; o++) y[r * rows + o] = b ? b[o] : 0.0f;
        return TRIL_OK;
    }
    quantised_x xq;
    tril_status st = quantise(&xq, x, n, cols);
    if (st != TRIL_OK) return st;
    if (n == 1) kernels()->gemv_wx_q8(y, q, scales, xq.q, xq.s, rows, cols);
    else kernels()->gemv_wx_q8_rows(y, q, scales, xq.q, xq.s, n, rows, cols);
    free(xq.q);
    if (b)
        for (int64_t r = 0; r < n; r++)
            for (int64_t o = 0; o < rows; o++) y[r * rows + o] += b[o];
    return TRIL_OK;
}

tril_status tril_matmul_q8(float *y, const float *x, const int8_t *q, const uint16_t *scales,
                           const float *b, int64_t T, int64_t in, int64_t out, float *wbuf)
{
    if (T == 1) return gemv_rows(y, x, q, scales, b, 1, in, out);
    dequantize_rows(wbuf, q, scales, out, in);
    if (b)
        for (int64_t t = 0; t < T; t++) memcpy(y + t * out, b, (size_t)out * sizeof(float));
    return tril_sgemm(CblasNoTrans, CblasTrans, T, out, in, 1.0f, x, in, wbuf, in,
                      b ? 1.0f : 0.0f, y, out);
}

tril_status tril_matvec_q8_rows(float *y, const float *x, const int8_t *q,
                                const uint16_t *scales, const float *b, int64_t n, int64_t in,
                                int64_t out)
{
    return gemv_rows(y, x, q, scales, b, n, in, out);
}

tril_status tril_lm_head_q8(float *logits, const float *x, const int8_t *q, const uint16_t *scales,
                            int64_t T, int64_t C, int64_t V, float *panel, int64_t panel_rows)
{
    if (T == 1) return gemv_rows(logits, x, q, scales, NULL, 1, C, V);
    const int64_t nb = TRIL_Q8_BLOCKS(C);
    for (int64_t v0 = 0; v0 < V; v0 += panel_rows) {
        const int64_t rows = V - v0 < panel_rows ? V - v0 : panel_rows;
        dequantize_rows(panel, q + v0 * C, scales + v0 * nb, rows, C);
        tril_status st = tril_sgemm(CblasNoTrans, CblasTrans, T, rows, C, 1.0f, x, C, panel, C,
                                    0.0f, logits + v0, V);
        if (st != TRIL_OK) return st;
    }
    return TRIL_OK;
}

tril_status tril_lm_head_q8_rows(float *logits, const float *x, const int8_t *q,
                                 const uint16_t *scales, int64_t n, int64_t C, int64_t V)
{
    return gemv_rows(logits, x, q, scales, NULL, n, C, V);
}

void tril_embed_q8(float *x, const int32_t *ids, int64_t T, int64_t pos0, const int8_t *q,
                   const uint16_t *scales, const float *wpe, int64_t C)
{
    const int64_t nb = TRIL_Q8_BLOCKS(C);
    for (int64_t t = 0; t < T; t++) {
        float *row = x + t * C;
        const float *pos = wpe + (pos0 + t) * C;
        tril_q8_dequantize(row, q + (int64_t)ids[t] * C, scales + (int64_t)ids[t] * nb, 1, C);
        for (int64_t c = 0; c < C; c++) row[c] += pos[c];
    }
}

/* Scalar reference ops: the oracles every fast op is tested against.
 * Accumulate in double so they are a step more exact than what they check. */
#include <math.h>
#include <stdlib.h>

#include "tril/dtype.h"
#include "tril/ops.h"

void tril_ref_matmul(float *y, const float *x, const float *w, const float *b, int64_t T,
                     int64_t in, int64_t out)
{
    for (int64_t t = 0; t < T; t++) {
        for (int64_t o = 0; o < out; o++) {
            double acc = b ? (double)b[o] : 0.0;
            for (int64_t i = 0; i < in; i++) acc += (double)x[t * in + i] * (double)w[i * out + o];
            y[t * out + o] = (float)acc;
        }
    }
}

void tril_ref_lm_head(float *logits, const float *x, const float *wte, int64_t T, int64_t C,
                      int64_t V)
{
    for (int64_t t = 0; t < T; t++) {
        for (int64_t v = 0; v < V; v++) {
            double acc = 0.0;
            for (int64_t c = 0; c < C; c++) acc += (double)x[t * C + c] * (double)wte[v * C + c];
            logits[t * V + v] = (float)acc;
        }
    }
}

void tril_ref_layernorm(float *y, const float *x, const float *w, const float *b, int64_t T,
                        int64_t C, float eps)
{
    for (int64_t t = 0; t < T; t++) {
        const float *row = x + t * C;
        double mean = 0.0, var = 0.0;
        for (int64_t c = 0; c < C; c++) mean += row[c];
        mean /= (double)C;
        for (int64_t c = 0; c < C; c++) var += (row[c] - mean) * (row[c] - mean);
        var /= (double)C;
        double rstd = 1.0 / sqrt(var + (double)eps);
        for (int64_t c = 0; c < C; c++)
            y[t * C + c] = (float)((row[c] - mean) * rstd * w[c] + b[c]);
    }
}

void tril_ref_gelu(float *y, const float *x, int64_t n)
{
    const double k = sqrt(2.0 / M_PI);
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        y[i] = (float)(0.5 * v * (1.0 + tanh(k * (v + 0.044715 * v * v * v))));
    }
}

void tril_ref_q8_quantize_x(int8_t *xq, float *xs, const float *x, int64_t n, int64_t cols)
{
    const int64_t len = TRIL_Q8_X_LEN(cols), ns = TRIL_Q8_X_SCALES(cols);
    const int64_t nb = TRIL_Q8_BLOCKS(cols);
    for (int64_t r = 0; r < n; r++) {
        int8_t *q = xq + r * len;
        float *s = xs + r * ns;
        const float *xr = x + r * cols;
        for (int64_t i = 0; i < len; i++) q[i] = 0;
        for (int64_t b = 0; b < ns; b++) s[b] = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            const int64_t c0 = b * TRIL_Q8_BLOCK;
            const int64_t c1 = c0 + TRIL_Q8_BLOCK < cols ? c0 + TRIL_Q8_BLOCK : cols;
            float amax = 0.0f;
            int finite = 1;
            for (int64_t c = c0; c < c1; c++) {
                if (!isfinite(xr[c])) finite = 0;
                else if (fabsf(xr[c]) > amax) amax = fabsf(xr[c]);
            }
            if (!finite) {
                s[b] = NAN;
                continue;
            }
            if (amax < TRIL_Q8_X_TINY) continue;
            s[b] = amax / 127.0f;
            const float inv = 1.0f / s[b];
            for (int64_t c = c0; c < c1; c++) {
                const float v = rintf(xr[c] * inv);
                q[c] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v);
            }
        }
    }
}

void tril_ref_gemv_q8(float *y, const int8_t *q, const uint16_t *scales, const float *x,
                      int64_t rows, int64_t cols)
{
    const int64_t nb = TRIL_Q8_BLOCKS(cols);
    int8_t *xq = malloc((size_t)TRIL_Q8_X_LEN(cols));
    float *xs = malloc((size_t)TRIL_Q8_X_SCALES(cols) * sizeof *xs);
    if (!xq || !xs) { /* the oracle has no status: an impossible answer */
        for (int64_t r = 0; r < rows; r++) y[r] = NAN;
        free(xq);
        free(xs);
        return;
    }
    tril_ref_q8_quantize_x(xq, xs, x, 1, cols);
    for (int64_t r = 0; r < rows; r++) {
        double acc = 0.0;
        for (int64_t b = 0; b < nb; b++) {
            int64_t s = 0;
            for (int64_t c = b * TRIL_Q8_BLOCK; c < cols && c < (b + 1) * TRIL_Q8_BLOCK; c++)
                s += (int64_t)q[r * cols + c] * xq[c];
            acc += (double)tril_f16_to_f32(scales[r * nb + b]) * (double)xs[b] * (double)s;
        }
        y[r] = (float)acc;
    }
    free(xq);
    free(xs);
}

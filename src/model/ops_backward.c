/* Backward passes of the dense ops, for training. The matmul gradients go
 * through BLAS (tril_ref_* are their scalar oracles); the fast GELU backward
 * is in gelu_kernels.c. LayerNorm backward is a plain loop, checked against
 * PyTorch autograd at the model level (tests/test_train_grads.c). */
#include <math.h>
#include <string.h>

#include "model/gemm.h"
#include "core/parallel.h"

#include "tril/ops.h"

void tril_ref_matmul_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                              const float *w, int64_t T, int64_t in, int64_t out)
{
    for (int64_t t = 0; dx && t < T; t++)
        for (int64_t i = 0; i < in; i++) {
            double acc = 0.0;
            for (int64_t o = 0; o < out; o++) acc += (double)dy[t * out + o] * w[i * out + o];
            dx[t * in + i] = (float)acc;
        }
    for (int64_t i = 0; i < in; i++)
        for (int64_t o = 0; o < out; o++) {
            double acc = 0.0;
            for (int64_t t = 0; t < T; t++) acc += (double)x[t * in + i] * dy[t * out + o];
            dw[i * out + o] += (float)acc;
        }
    for (int64_t o = 0; db && o < out; o++) {
        double acc = 0.0;
        for (int64_t t = 0; t < T; t++) acc += dy[t * out + o];
        db[o] += (float)acc;
    }
}

tril_status tril_matmul_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, int64_t T, int64_t in, int64_t out)
{
    tril_status st = TRIL_OK;
    if (dx)
        st = tril_sgemm(CblasNoTrans, CblasTrans, T, in, out,
                        1.0f, dy, out, w, out, 0.0f, dx, in);
    if (st == TRIL_OK)
        st = tril_sgemm(CblasTrans, CblasNoTrans, in, out, T, 1.0f,
                        x, in, dy, out, 1.0f, dw, out);
    if (st == TRIL_OK && db)
        for (int64_t t = 0; t < T; t++)
            for (int64_t o = 0; o < out; o++) db[o] += dy[t * out + o];
    return st;
}

void tril_ref_lm_head_backward(float *dx, float *dwte, const float *dlogits, const float *x,
                               const float *wte, int64_t T, int64_t C, int64_t V)
{
    for (int64_t t = 0; t < T; t++)
        for (int64_t c = 0; c < C; c++) {
            double acc = 0.0;
            for (int64_t v = 0; v < V; v++) acc += (double)dlogits[t * V + v] * wte[v * C + c];
            dx[t * C + c] = (float)acc;
        }
    for (int64_t v = 0; v < V; v++)
        for (int64_t c = 0; c < C; c++) {
            double acc = 0.0;
            for (int64_t t = 0; t < T; t++) acc += (double)dlogits[t * V + v] * x[t * C + c];
            dwte[v * C + c] += (float)acc;
        }
}

tril_status tril_lm_head_backward(float *dx, float *dwte, const float *dlogits, const float *x,
                                  const float *wte, int64_t T, int64_t C, int64_t V)
{
    tril_status st = tril_sgemm(CblasNoTrans, CblasNoTrans, T, C, V, 1.0f,
                                dlogits, V, wte, C, 0.0f, dx, C);
    if (st == TRIL_OK)
        st = tril_sgemm(CblasTrans, CblasNoTrans, V, C, T, 1.0f,
                        dlogits, V, x, C, 1.0f, dwte, C);
    return st;
}

void tril_layernorm_train(float *y, float *mean, float *rstd, const float *x, const float *w,
                          const float *b, int64_t T, int64_t C, float eps)
{
#pragma omp parallel for schedule(static) num_threads(tril_threads_for(8.0 * (double)(T * C)))
    for (int64_t t = 0; t < T; t++) {
        const float *row = x + t * C;
        double m = 0.0, v = 0.0;
        for (int64_t c = 0; c < C; c++) m += row[c];
        m /= (double)C;
        for (int64_t c = 0; c < C; c++) v += (row[c] - m) * (row[c] - m);
        v /= (double)C;
        float r = (float)(1.0 / sqrt(v + (double)eps));
        for (int64_t c = 0; c < C; c++) y[t * C + c] = (float)(row[c] - m) * r * w[c] + b[c];
        mean[t] = (float)m;
        rstd[t] = r;
    }
}

void tril_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                             const float *w, const float *mean, const float *rstd, int64_t T,
                             int64_t C)
{
    /* dw and db are sums over rows: accumulate serially to stay race-free
     * and deterministic; the per-row dx work is independent. */
    for (int64_t t = 0; t < T; t++) {
        const float *g = dy + t * C, *row = x + t * C;
        for (int64_t c = 0; c < C; c++) {
            float xhat = (row[c] - mean[t]) * rstd[t];
            dw[c] += g[c] * xhat;
            db[c] += g[c];
        }
    }
#pragma omp parallel for schedule(static) num_threads(tril_threads_for(10.0 * (double)(T * C)))
    for (int64_t t = 0; t < T; t++) {
        const float *g = dy + t * C, *row = x + t * C;
        double sum_g = 0.0, sum_gx = 0.0;
        for (int64_t c = 0; c < C; c++) {
            double gw = (double)g[c] * w[c];
            sum_g += gw;
            sum_gx += gw * (row[c] - mean[t]) * rstd[t];
        }
        sum_g /= (double)C;
        sum_gx /= (double)C;
        for (int64_t c = 0; c < C; c++) {
            double xhat = (row[c] - mean[t]) * rstd[t];
            dx[t * C + c] += (float)(rstd[t] * ((double)g[c] * w[c] - sum_g - xhat * sum_gx));
        }
    }
}

void tril_ref_gelu_backward(float *dx, const float *dy, const float *x, int64_t n)
{
    const double k = 0.7978845608028654; /* sqrt(2/pi) */
    for (int64_t i = 0; i < n; i++) {
        double v = x[i], th = tanh(k * (v + 0.044715 * v * v * v));
        double grad = 0.5 * (1.0 + th) + 0.5 * v * (1.0 - th * th) * k * (1.0 + 3.0 * 0.044715 * v * v);
        dx[i] = (float)(dy[i] * grad);
    }
}

/* Fast dense ops for the model: GEMMs through BLAS (OpenBLAS, OpenMP build),
 * the element-wise passes as simple loops the compiler vectorises, threaded
 * over rows where there is enough work. */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "tril/ops.h"

void tril_matmul(float *y, const float *x, const float *w, const float *b, int64_t T, int64_t in,
                 int64_t out)
{
    if (b) {
        for (int64_t t = 0; t < T; t++) memcpy(y + t * out, b, (size_t)out * sizeof(float));
    }
    if (T == 1) { /* decoding: a matrix-vector product; sgemm would pack all of w */
        cblas_sgemv(CblasRowMajor, CblasTrans, (blasint)in, (blasint)out, 1.0f, w, (blasint)out, x,
                    1, b ? 1.0f : 0.0f, y, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)T, (blasint)out, (blasint)in,
                1.0f, x, (blasint)in, w, (blasint)out, b ? 1.0f : 0.0f, y, (blasint)out);
}

void tril_lm_head(float *logits, const float *x, const float *wte, int64_t T, int64_t C, int64_t V)
{
    if (T == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)V, (blasint)C, 1.0f, wte, (blasint)C, x, 1,
                    0.0f, logits, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)T, (blasint)V, (blasint)C, 1.0f,
                x, (blasint)C, wte, (blasint)C, 0.0f, logits, (blasint)V);
}

void tril_layernorm(float *y, const float *x, const float *w, const float *b, int64_t T, int64_t C,
                    float eps)
{
#pragma omp parallel for schedule(static) if (T * C > 65536)
    for (int64_t t = 0; t < T; t++) {
        const float *row = x + t * C;
        float *out = y + t * C;
        float mean = 0.0f, var = 0.0f;
        for (int64_t c = 0; c < C; c++) mean += row[c];
        mean /= (float)C;
        for (int64_t c = 0; c < C; c++) {
            float d = row[c] - mean;
            var += d * d;
        }
        var /= (float)C;
        float rstd = 1.0f / sqrtf(var + eps);
        for (int64_t c = 0; c < C; c++) out[c] = (row[c] - mean) * rstd * w[c] + b[c];
    }
}

void tril_gelu(float *y, const float *x, int64_t n)
{
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

void tril_add_inplace(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void tril_embed(float *x, const int32_t *ids, int64_t T, int64_t pos0, const float *wte,
                const float *wpe, int64_t C)
{
    for (int64_t t = 0; t < T; t++) {
        const float *tok = wte + (int64_t)ids[t] * C, *pos = wpe + (pos0 + t) * C;
        for (int64_t c = 0; c < C; c++) x[t * C + c] = tok[c] + pos[c];
    }
}

double tril_cross_entropy(const float *logits, int64_t V, int32_t target)
{
    double mx = -INFINITY, sum = 0.0;
    for (int64_t v = 0; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
    for (int64_t v = 0; v < V; v++) sum += exp((double)logits[v] - mx);
    return mx + log(sum) - (double)logits[target];
}

/* Fast dense ops for the model: GEMMs through BLAS (OpenBLAS, OpenMP build),
 * the element-wise passes as simple loops the compiler vectorises, threaded
 * over rows where there is enough work. */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "tril/cpu.h"
#include "tril/ops.h"

void tril_gemv_xw_generic(float *y, const float *x, const float *w, int64_t in, int64_t out);
void tril_gemv_xw_avx2(float *y, const float *x, const float *w, int64_t in, int64_t out);
void tril_gemv_xw_avx512(float *y, const float *x, const float *w, int64_t in, int64_t out);
void tril_gemv_wx_generic(float *y, const float *w, const float *x, int64_t rows, int64_t cols);
void tril_gemv_wx_avx2(float *y, const float *w, const float *x, int64_t rows, int64_t cols);
void tril_gemv_wx_avx512(float *y, const float *w, const float *x, int64_t rows, int64_t cols);

void tril_gelu_vec_generic(float *y, const float *x, int64_t n);
void tril_gelu_vec_avx2(float *y, const float *x, int64_t n);
void tril_gelu_vec_avx512(float *y, const float *x, int64_t n);
void tril_gelu_backward_vec_generic(float *dx, const float *dy, const float *x, int64_t n);
void tril_gelu_backward_vec_avx2(float *dx, const float *dy, const float *x, int64_t n);
void tril_gelu_backward_vec_avx512(float *dx, const float *dy, const float *x, int64_t n);

void tril_gemv_xw_bf16_generic(float *y, const float *x, const uint16_t *w, int64_t in, int64_t out);
void tril_gemv_xw_bf16_avx2(float *y, const float *x, const uint16_t *w, int64_t in, int64_t out);
void tril_gemv_xw_bf16_avx512(float *y, const float *x, const uint16_t *w, int64_t in, int64_t out);
void tril_gemv_wx_bf16_generic(float *y, const uint16_t *w, const float *x, int64_t rows, int64_t cols);
void tril_gemv_wx_bf16_avx2(float *y, const uint16_t *w, const float *x, int64_t rows, int64_t cols);
void tril_gemv_wx_bf16_avx512(float *y, const uint16_t *w, const float *x, int64_t rows, int64_t cols);

void tril_matvec_bf16(float *y, const float *x, const uint16_t *w, const float *b, int64_t in,
                      int64_t out)
{
    if (b) memcpy(y, b, (size_t)out * sizeof(float));
    else memset(y, 0, (size_t)out * sizeof(float));
    switch (tril_cpu_best_isa()) {
#ifdef TRIL_HAVE_X86_KERNELS
    case TRIL_ISA_AVX512: tril_gemv_xw_bf16_avx512(y, x, w, in, out); return;
    case TRIL_ISA_AVX2: tril_gemv_xw_bf16_avx2(y, x, w, in, out); return;
#endif
    default: tril_gemv_xw_bf16_generic(y, x, w, in, out); return;
    }
}

void tril_lm_head_bf16(float *logits, const float *x, const uint16_t *wte, int64_t C, int64_t V)
{
    switch (tril_cpu_best_isa()) {
#ifdef TRIL_HAVE_X86_KERNELS
    case TRIL_ISA_AVX512: tril_gemv_wx_bf16_avx512(logits, wte, x, V, C); return;
    case TRIL_ISA_AVX2: tril_gemv_wx_bf16_avx2(logits, wte, x, V, C); return;
#endif
    default: tril_gemv_wx_bf16_generic(logits, wte, x, V, C); return;
    }
}

/* y += x w for one row x (decoding). OpenBLAS's sgemv reached only a third
 * of the memory bandwidth here; these stream w once with all threads. */
static void gemv_xw(float *y, const float *x, const float *w, int64_t in, int64_t out)
{
    switch (tril_cpu_best_isa()) {
#ifdef TRIL_HAVE_X86_KERNELS
    case TRIL_ISA_AVX512: tril_gemv_xw_avx512(y, x, w, in, out); return;
    case TRIL_ISA_AVX2: tril_gemv_xw_avx2(y, x, w, in, out); return;
#endif
    default: tril_gemv_xw_generic(y, x, w, in, out); return;
    }
}

static void gemv_wx(float *y, const float *w, const float *x, int64_t rows, int64_t cols)
{
    switch (tril_cpu_best_isa()) {
#ifdef TRIL_HAVE_X86_KERNELS
    case TRIL_ISA_AVX512: tril_gemv_wx_avx512(y, w, x, rows, cols); return;
    case TRIL_ISA_AVX2: tril_gemv_wx_avx2(y, w, x, rows, cols); return;
#endif
    default: tril_gemv_wx_generic(y, w, x, rows, cols); return;
    }
}

void tril_matmul(float *y, const float *x, const float *w, const float *b, int64_t T, int64_t in,
                 int64_t out)
{
    if (b) {
        for (int64_t t = 0; t < T; t++) memcpy(y + t * out, b, (size_t)out * sizeof(float));
    }
    if (T == 1) { /* decoding: a matrix-vector product; sgemm would pack all of w */
        if (!b) memset(y, 0, (size_t)out * sizeof(float));
        gemv_xw(y, x, w, in, out);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)T, (blasint)out, (blasint)in,
                1.0f, x, (blasint)in, w, (blasint)out, b ? 1.0f : 0.0f, y, (blasint)out);
}

void tril_lm_head(float *logits, const float *x, const float *wte, int64_t T, int64_t C, int64_t V)
{
    if (T == 1) {
        gemv_wx(logits, wte, x, V, C);
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
    switch (tril_cpu_best_isa()) {
#ifdef TRIL_HAVE_X86_KERNELS
    case TRIL_ISA_AVX512: tril_gelu_vec_avx512(y, x, n); return;
    case TRIL_ISA_AVX2: tril_gelu_vec_avx2(y, x, n); return;
#endif
    default: tril_gelu_vec_generic(y, x, n); return;
    }
}

void tril_gelu_backward(float *dx, const float *dy, const float *x, int64_t n)
{
    switch (tril_cpu_best_isa()) {
#ifdef TRIL_HAVE_X86_KERNELS
    case TRIL_ISA_AVX512: tril_gelu_backward_vec_avx512(dx, dy, x, n); return;
    case TRIL_ISA_AVX2: tril_gelu_backward_vec_avx2(dx, dy, x, n); return;
#endif
    default: tril_gelu_backward_vec_generic(dx, dy, x, n); return;
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

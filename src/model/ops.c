/* Fast dense ops for the model: GEMMs through BLAS (OpenBLAS, OpenMP build),
 * the element-wise passes as simple loops the compiler vectorises, threaded
 * over rows where there is enough work. */
#include <math.h>
#include <string.h>

#include "model/gemm.h"
#include "core/parallel.h"

#include "model/kernels.h"
#include "tril/cpu.h"
#include "tril/ops.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* The model's kernels for the ISA in use (chosen once per process). */
static inline const tril_model_kernels *kernels(void)
{
    return TRIL_ISA_TABLE(tril_model_kernels);
}

static void init_rows(float *y, const float *b, int64_t T, int64_t out)
{
    for (int64_t t = 0; t < T; t++) {
        if (b) memcpy(y + t * out, b, (size_t)out * sizeof(float));
        else memset(y + t * out, 0, (size_t)out * sizeof(float));
    }
}

tril_status tril_matmul(float *y, const float *x, const float *w, const float *b, int64_t T,
                        int64_t in, int64_t out)
{
    if (b) init_rows(y, b, T, out);
    return tril_sgemm(CblasNoTrans, CblasNoTrans, T, out, in,
                      1.0f, x, in, w, out, b ? 1.0f : 0.0f, y, out);
}

/* OpenBLAS's sgemv reached only a third of the memory bandwidth here. */
void tril_matvec(float *y, const float *x, const float *w, const float *b, int64_t in, int64_t out,
                 float *partials)
{
    init_rows(y, b, 1, out);
    kernels()->gemv_xw(y, x, w, in, out, partials);
}

void tril_matvec_rows(float *y, const float *x, const float *w, const float *b, int64_t n,
                      int64_t in, int64_t out, float *partials)
{
    init_rows(y, b, n, out);
    /* one row: the one-row kernel itself (the same arithmetic by design),
     * tuned for streaming */
    if (n == 1) kernels()->gemv_xw(y, x, w, in, out, partials);
    else kernels()->gemv_xw_rows(y, x, w, n, in, out, partials);
}

void tril_matvec_bf16_rows(float *y, const float *x, const uint16_t *wt, const float *b,
                           int64_t n, int64_t in, int64_t out)
{
    if (n == 1) kernels()->gemv_wx_bf16(y, wt, x, out, in);
    else kernels()->gemv_wx_bf16_rows(y, wt, x, n, out, in);
    if (b)
        for (int64_t r = 0; r < n; r++)
            for (int64_t o = 0; o < out; o++) y[r * out + o] += b[o];
}

void tril_lm_head_rows(float *logits, const float *x, const float *wte, const uint16_t *wte16,
                       int64_t n, int64_t C, int64_t V)
{
    if (n == 1 && wte16) kernels()->gemv_wx_bf16(logits, wte16, x, V, C);
    else if (n == 1) kernels()->gemv_wx(logits, wte, x, V, C);
    else if (wte16) kernels()->gemv_wx_bf16_rows(logits, wte16, x, n, V, C);
    else kernels()->gemv_wx_rows(logits, wte, x, n, V, C);
}

void tril_matvec_bf16(float *y, const float *x, const uint16_t *wt, const float *b, int64_t in,
                      int64_t out)
{
    kernels()->gemv_wx_bf16(y, wt, x, out, in);
    if (b)
        for (int64_t o = 0; o < out; o++) y[o] += b[o];
}

void tril_widen_bf16(float *dst, const uint16_t *src, int64_t n)
{
    kernels()->widen_bf16(dst, src, n);
}

tril_status tril_matmul_bf16(float *y, const float *x, const uint16_t *wt, const float *b,
                             int64_t T, int64_t in, int64_t out, float *wbuf)
{
    if (T == 1) {
        tril_matvec_bf16(y, x, wt, b, in, out);
        return TRIL_OK;
    }
    tril_widen_bf16(wbuf, wt, in * out); /* then one fp32 GEMM on the exact values */
    if (b) init_rows(y, b, T, out);
    return tril_sgemm(CblasNoTrans, CblasTrans, T, out, in,
                      1.0f, x, in, wbuf, in, b ? 1.0f : 0.0f, y, out);
}

tril_status tril_lm_head(float *logits, const float *x, const float *wte, int64_t T, int64_t C,
                         int64_t V)
{
    if (T == 1) {
        kernels()->gemv_wx(logits, wte, x, V, C);
        return TRIL_OK;
    }
    return tril_sgemm(CblasNoTrans, CblasTrans, T, V, C, 1.0f,
                      x, C, wte, C, 0.0f, logits, V);
}

tril_status tril_lm_head_bf16(float *logits, const float *x, const uint16_t *wte, int64_t T,
                              int64_t C, int64_t V, float *panel, int64_t panel_rows)
{
    if (T == 1) {
        kernels()->gemv_wx_bf16(logits, wte, x, V, C);
        return TRIL_OK;
    }
    /* vocabulary rows widened a panel at a time, each followed by its GEMM */
    for (int64_t v0 = 0; v0 < V; v0 += panel_rows) {
        const int64_t rows = V - v0 < panel_rows ? V - v0 : panel_rows;
        tril_widen_bf16(panel, wte + v0 * C, rows * C);
        tril_status st = tril_sgemm(CblasNoTrans, CblasTrans, T, rows, C,
                                    1.0f, x, C, panel, C, 0.0f, logits + v0, V);
        if (st != TRIL_OK) return st;
    }
    return TRIL_OK;
}

/* Sum of row[c] - shift (squared if `square`) over a row, in eight
 * interleaved partial sums added pairwise at the end: the compiler keeps
 * them in vector lanes, where one running sum was a chain of C dependent
 * adds (a 768-wide LayerNorm took ~3 us on one core, 25 of them a decoded
 * token of GPT-2 124M). */
static float row_sum(const float *row, int64_t C, float shift, int square)
{
    float part[8] = {0};
    int64_t c = 0;
    for (; c + 8 <= C; c += 8)
        for (int k = 0; k < 8; k++) {
            const float d = row[c + k] - shift;
            part[k] += square ? d * d : d;
        }
    for (int k = 0; c < C; c++, k++) {
        const float d = row[c] - shift;
        part[k] += square ? d * d : d;
    }
    return ((part[0] + part[4]) + (part[2] + part[6])) + ((part[1] + part[5]) + (part[3] + part[7]));
}

void tril_layernorm(float *y, const float *x, const float *w, const float *b, int64_t T, int64_t C,
                    float eps)
{
#pragma omp parallel for schedule(static) num_threads(tril_threads_for(8.0 * (double)(T * C)))
    for (int64_t t = 0; t < T; t++) {
        const float *row = x + t * C;
        float *out = y + t * C;
        const float mean = row_sum(row, C, 0.0f, 0) / (float)C;
        const float var = row_sum(row, C, mean, 1) / (float)C;
        float rstd = 1.0f / sqrtf(var + eps);
        for (int64_t c = 0; c < C; c++) out[c] = (row[c] - mean) * rstd * w[c] + b[c];
    }
}

void tril_gelu(float *y, const float *x, int64_t n) { kernels()->gelu(y, x, n); }

void tril_gelu_backward(float *dx, const float *dy, const float *x, int64_t n)
{
    kernels()->gelu_backward(dx, dy, x, n);
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

void tril_embed_bf16(float *x, const int32_t *ids, int64_t T, int64_t pos0, const uint16_t *wte,
                     const float *wpe, int64_t C)
{
    for (int64_t t = 0; t < T; t++) {
        float *row = x + t * C;
        const float *pos = wpe + (pos0 + t) * C;
        tril_widen_bf16(row, wte + (int64_t)ids[t] * C, C);
        for (int64_t c = 0; c < C; c++) row[c] += pos[c];
    }
}

double tril_softmax_xent(float *row, int64_t V, int32_t target)
{
    return kernels()->softmax_xent_row(row, V, target);
}

double tril_cross_entropy(const float *logits, int64_t V, int32_t target)
{
    double mx = -INFINITY, sum = 0.0;
    for (int64_t v = 0; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
    for (int64_t v = 0; v < V; v++) sum += exp((double)logits[v] - mx);
    return mx + log(sum) - (double)logits[target];
}

/* GELU (tanh form) and its derivative, vectorised: libm's scalar tanhf took
 * about a fifth of a GPT-2 forward pass. Compiled once per instruction set;
 * tanh(u) = 1 - 2 / (exp(2u) + 1) with the library's vector exp (exact 0 and
 * 1 at the ends, absolute error ~1e-7, which GELU scales by x / 2). */
#include <stdint.h>

#include "core/isa.h"
#include "core/simd.h"
#include "core/parallel.h"


static const float K0 = 0.7978845608028654f; /* sqrt(2/pi) */
static const float K1 = 0.044715f;

VINLINE vf vtanh(vf u) { return 1.0f - 2.0f / (vexp(u + u) + 1.0f); }

void TRIL_ISA_FN(tril_gelu_vec)(float *y, const float *x, int64_t n)
{
    const int64_t full = n / TRIL_VL * TRIL_VL;
#pragma omp parallel for schedule(static) num_threads(tril_threads_for(24.0 * (double)n))
    for (int64_t i = 0; i < full; i += TRIL_VL) {
        vf v = vload(x + i);
        vstore(y + i, 0.5f * v * (1.0f + vtanh(K0 * (v + K1 * v * v * v))));
    }
    for (int64_t i = full; i < n; i++) { /* the tail, through a padded vector */
        vf v = vbcast(x[i]);
        y[i] = (0.5f * v * (1.0f + vtanh(K0 * (v + K1 * v * v * v))))[0];
    }
}

void TRIL_ISA_FN(tril_gelu_backward_vec)(float *dx, const float *dy, const float *x,
                                                    int64_t n)
{
    const int64_t full = n / TRIL_VL * TRIL_VL;
#pragma omp parallel for schedule(static) num_threads(tril_threads_for(24.0 * (double)n))
    for (int64_t i = 0; i < full + (n > full ? TRIL_VL : 0); i += TRIL_VL) {
        float xb[TRIL_VL], gb[TRIL_VL];
        const int64_t m = n - i < TRIL_VL ? n - i : TRIL_VL;
        for (int64_t c = 0; c < TRIL_VL; c++) {
            xb[c] = c < m ? x[i + c] : 0.0f;
            gb[c] = c < m ? dy[i + c] : 0.0f;
        }
        vf v = vload(xb), th = vtanh(K0 * (v + K1 * v * v * v));
        vf grad = 0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * K0 * (1.0f + 3.0f * K1 * v * v);
        vf out = vload(gb) * grad;
        for (int64_t c = 0; c < m; c++) dx[i + c] = out[c];
    }
}

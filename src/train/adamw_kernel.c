/* AdamW's element-wise update (see adamw.c for the arithmetic and why it is
 * PyTorch's), compiled once per instruction set (src/core/isa.h):
 * the library's baseline build has no FMA instruction, and this pass over
 * params, grads and both moments (28 bytes per parameter) should run at
 * memory speed. fmaf is the exact fused result on every build (hardware FMA,
 * or libm's exact software fma on the portable one), so all builds agree
 * bit for bit. */
#include <math.h>
#include <stdint.h>

#include "train/kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif


/* The scalar form, which every build agrees with bit for bit. */
static inline void update_one(float *restrict p, const float *restrict g, float *restrict m,
                              float *restrict v, int64_t i, const tril_adamw_scalars *s)
{
    const float gi = g[i] * s->grad_scale; /* clipping, as if applied to g in place */
    const float pi = p[i] * s->decay_factor;
    /* fma(g, 1 - b1, m b1) and fma((1 - b2) g, g, v b2), as PyTorch's
     * vectorised add/addcmul kernels compute them */
    const float mi = fmaf(gi, s->one_b1, m[i] * s->beta1);
    const float vi = fmaf(s->one_b2 * gi, gi, v[i] * s->beta2);
    const float denom = sqrtf(vi) / s->bc2_sqrt + s->eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + (s->neg_step * mi) / denom; /* addcdiv: p + (value * m) / denom */
}

#if defined(__AVX512F__)
#include <immintrin.h>

/* Elements [i0, i1) with the same operations, 16 at a time. p, m and v are
 * written with non-temporal stores where all three are 64-byte aligned:
 * nothing reads them again before the next step's forward, and a normal
 * store first reads each line in (write-allocate), adding 12 of the 28
 * bytes per parameter this memory-bound pass moves. */
static void update_range(float *restrict p, const float *restrict g, float *restrict m,
                         float *restrict v, int64_t i0, int64_t i1, const tril_adamw_scalars *s)
{
    int64_t i = i0;
    for (; i < i1 && ((uintptr_t)(p + i) & 63); i++) update_one(p, g, m, v, i, s);
    const int stream = !((uintptr_t)(m + i) & 63) && !((uintptr_t)(v + i) & 63);
    const __m512 gscale = _mm512_set1_ps(s->grad_scale), decay = _mm512_set1_ps(s->decay_factor);
    const __m512 one_b1 = _mm512_set1_ps(s->one_b1), b1 = _mm512_set1_ps(s->beta1);
    const __m512 one_b2 = _mm512_set1_ps(s->one_b2), b2 = _mm512_set1_ps(s->beta2);
    const __m512 bc2_sqrt = _mm512_set1_ps(s->bc2_sqrt), eps = _mm512_set1_ps(s->eps);
    const __m512 neg_step = _mm512_set1_ps(s->neg_step);
    for (; i + 16 <= i1; i += 16) {
        const __m512 gi = _mm512_mul_ps(_mm512_loadu_ps(g + i), gscale);
        const __m512 pi = _mm512_mul_ps(_mm512_load_ps(p + i), decay);
        const __m512 mi = _mm512_fmadd_ps(gi, one_b1, _mm512_mul_ps(_mm512_loadu_ps(m + i), b1));
        const __m512 vi =
            _mm512_fmadd_ps(_mm512_mul_ps(one_b2, gi), gi, _mm512_mul_ps(_mm512_loadu_ps(v + i), b2));
        const __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), bc2_sqrt), eps);
        const __m512 pn = _mm512_add_ps(pi, _mm512_div_ps(_mm512_mul_ps(neg_step, mi), denom));
        if (stream) {
            _mm512_stream_ps(m + i, mi);
            _mm512_stream_ps(v + i, vi);
        } else {
            _mm512_storeu_ps(m + i, mi);
            _mm512_storeu_ps(v + i, vi);
        }
        _mm512_stream_ps(p + i, pn);
    }
    for (; i < i1; i++) update_one(p, g, m, v, i, s);
}
#endif

void TRIL_ISA_FN(tril_adamw_update)(float *restrict p, const float *restrict g,
                                               float *restrict m, float *restrict v, int64_t n,
                                               const tril_adamw_scalars *s)
{
#if defined(__AVX512F__)
#pragma omp parallel if (n > 32768)
    {
        int64_t t = 0, nt = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        nt = omp_get_num_threads();
#endif
        update_range(p, g, m, v, n * t / nt, n * (t + 1) / nt, s);
        _mm_sfence(); /* streamed stores are visible before the team joins */
    }
#else
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) update_one(p, g, m, v, i, s);
#endif
}

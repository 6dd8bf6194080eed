/* AdamW's element-wise update (see adamw.c for the arithmetic and why it is
 * PyTorch's), compiled once per instruction set like the model's kernels:
 * the library's baseline build has no FMA instruction, and this pass over
 * params, grads and both moments (28 bytes per parameter) should run at
 * memory speed. fmaf is the exact fused result on every build (hardware FMA,
 * or libm's exact software fma on the portable one), so all builds agree
 * bit for bit. */
#include <math.h>
#include <stdint.h>

#include "model/kernels.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

void CAT(tril_adamw_update_, TRIL_ISA_SUFFIX)(float *restrict p, const float *restrict g,
                                               float *restrict m, float *restrict v, int64_t n,
                                               const tril_adamw_scalars *s)
{
    const float decay = s->decay_factor, gscale = s->grad_scale, b1 = s->beta1, one_b1 = s->one_b1;
    const float b2 = s->beta2, one_b2 = s->one_b2, bc2_sqrt = s->bc2_sqrt, eps = s->eps;
    const float neg_step = s->neg_step;
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        const float gi = g[i] * gscale; /* clipping, as if applied to g in place */
        const float pi = p[i] * decay;
        /* fma(g, 1 - b1, m b1) and fma((1 - b2) g, g, v b2), as PyTorch's
         * vectorised add/addcmul kernels compute them */
        const float mi = fmaf(gi, one_b1, m[i] * b1);
        const float vi = fmaf(one_b2 * gi, gi, v[i] * b2);
        const float denom = sqrtf(vi) / bc2_sqrt + eps;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi + (neg_step * mi) / denom; /* addcdiv: p + (value * m) / denom */
    }
}

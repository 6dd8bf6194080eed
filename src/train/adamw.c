/* AdamW with decoupled weight decay, exactly as torch.optim.AdamW
 * (single-tensor path, amsgrad off) computes it, in the same order and the
 * same precision:
 *
 *   p *= 1 - lr * wd                     (wd = 0 where the tensor has no decay)
 *   m  = b1 m + (1 - b1) g
 *   v  = b2 v + (1 - b2) g^2
 *   p += -(lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps),  t = step + 1
 *
 * which is p -= lr * mhat / (sqrt(vhat) + eps) with mhat = m / (1 - b1^t),
 * vhat = v / (1 - b2^t). Scalars (bias corrections, step size) are computed
 * in double and rounded to float once, as PyTorch does with Python floats;
 * the element-wise work is float, with the two multiply-adds of the moments
 * fused as in PyTorch's AVX2 kernels. Element-wise and order-independent, so the
 * result does not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tril/train.h"

tril_adamw_config tril_adamw_config_default(void)
{
    tril_adamw_config c;
    c.beta1 = 0.9f;
    c.beta2 = 0.95f;
    c.eps = 1e-8f;
    c.weight_decay = 0.1f;
    return c;
}

tril_status tril_adamw_create(int64_t n, tril_adamw *opt)
{
    if (!opt) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "adamw: NULL optimizer");
    memset(opt, 0, sizeof *opt);
    if (n <= 0 || (uint64_t)n > SIZE_MAX / sizeof(float))
        return TRIL_FAIL(TRIL_ERR_SHAPE, "adamw: %lld parameters", (long long)n);
    opt->m = calloc((size_t)n, sizeof(float));
    opt->v = calloc((size_t)n, sizeof(float));
    if (!opt->m || !opt->v) {
        tril_adamw_free(opt);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "adamw: cannot allocate moments for %lld parameters",
                         (long long)n);
    }
    opt->n = n;
    return TRIL_OK;
}

void tril_adamw_free(tril_adamw *opt)
{
    if (!opt) return;
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
    opt->n = 0;
}

static void update(float *restrict p, const float *restrict g, float *restrict m,
                   float *restrict v, int64_t n, float decay_factor, float b1, float one_b1,
                   float b2, float one_b2, float bc2_sqrt, float eps, float neg_step)
{
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        const float gi = g[i];
        const float pi = p[i] * decay_factor;
        /* fma(g, 1 - b1, m b1) and fma((1 - b2) g, g, v b2), as PyTorch's
         * vectorised add/addcmul kernels compute them; the float product
         * is exact in double, so one rounding of the double sum gives the
         * fused result (up to rare double rounding). */
        const float mi = (float)((double)gi * (double)one_b1 + (double)(m[i] * b1));
        const float vi = (float)((double)(one_b2 * gi) * (double)gi + (double)(v[i] * b2));
        const float denom = sqrtf(vi) / bc2_sqrt + eps;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi + (neg_step * mi) / denom; /* addcdiv: p + (value * m) / denom */
    }
}

void tril_adamw_step(tril_adamw *opt, const tril_adamw_config *cfg, float *params,
                     const float *grads, const tril_param_info *table, size_t n_params, float lr)
{
    if (!opt || !cfg || !params || !grads || !table) return;
    const double t = (double)(opt->step + 1);
    const double bc1 = 1.0 - pow((double)cfg->beta1, t);
    const double bc2 = 1.0 - pow((double)cfg->beta2, t);
    const float neg_step = (float)(-((double)lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    const float one_b1 = (float)(1.0 - (double)cfg->beta1);
    const float one_b2 = (float)(1.0 - (double)cfg->beta2);
    for (size_t k = 0; k < n_params; k++) {
        const tril_param_info *p = &table[k];
        if (p->offset < 0 || p->numel <= 0 || p->offset + p->numel > opt->n) continue;
        const double wd = p->decay ? (double)cfg->weight_decay : 0.0;
        const float decay_factor = (float)(1.0 - (double)lr * wd);
        update(params + p->offset, grads + p->offset, opt->m + p->offset, opt->v + p->offset,
               p->numel, decay_factor, cfg->beta1, one_b1, cfg->beta2, one_b2, bc2_sqrt,
               cfg->eps, neg_step);
    }
    opt->step++;
}

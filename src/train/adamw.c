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
 * the element-wise work (adamw_kernel.c, per instruction set) is float, with
 * the two multiply-adds of the moments fused as in PyTorch's AVX2 kernels.
 * Element-wise and order-independent, so the result does not depend on the
 * thread count. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "train/kernels.h"
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
    if (n <= 0) return TRIL_FAIL(TRIL_ERR_SHAPE, "adamw: %lld parameters", (long long)n);
    return tril_adamw_create_shard(0, n, opt);
}

tril_status tril_adamw_create_shard(int64_t lo, int64_t n, tril_adamw *opt)
{
    if (!opt) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "adamw: NULL optimizer");
    memset(opt, 0, sizeof *opt);
    if (lo < 0 || n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float) || lo > INT64_MAX - n)
        return TRIL_FAIL(TRIL_ERR_SHAPE, "adamw: %lld parameters from %lld", (long long)n,
                         (long long)lo);
    /* calloc(0) may return NULL: an empty shard holds one dummy value */
    const size_t alloc = n > 0 ? (size_t)n : 1;
    opt->m = calloc(alloc, sizeof(float));
    opt->v = calloc(alloc, sizeof(float));
    if (!opt->m || !opt->v) {
        tril_adamw_free(opt);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "adamw: cannot allocate moments for %lld parameters",
                         (long long)n);
    }
    opt->n = n;
    opt->lo = lo;
    return TRIL_OK;
}

void tril_adamw_free(tril_adamw *opt)
{
    if (!opt) return;
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
    opt->n = opt->lo = 0;
}

void tril_adamw_step(tril_adamw *opt, const tril_adamw_config *cfg, float *params,
                     const float *grads, const tril_param_info *table, size_t n_params, float lr)
{
    tril_adamw_step_scaled(opt, cfg, params, grads, 1.0f, table, n_params, lr);
}

void tril_adamw_step_scaled(tril_adamw *opt, const tril_adamw_config *cfg, float *params,
                            const float *grads, float grad_scale, const tril_param_info *table,
                            size_t n_params, float lr)
{
    if (!opt || !cfg || !params || !grads || !table) return;
    const double t = (double)(opt->step + 1);
    const double bc1 = 1.0 - pow((double)cfg->beta1, t);
    const double bc2 = 1.0 - pow((double)cfg->beta2, t);
    tril_adamw_scalars s;
    s.grad_scale = grad_scale;
    s.beta1 = cfg->beta1;
    s.one_b1 = (float)(1.0 - (double)cfg->beta1);
    s.beta2 = cfg->beta2;
    s.one_b2 = (float)(1.0 - (double)cfg->beta2);
    s.bc2_sqrt = (float)sqrt(bc2);
    s.eps = cfg->eps;
    s.neg_step = (float)(-((double)lr / bc1));
    const tril_train_kernels *k = TRIL_ISA_TABLE(tril_train_kernels);
    /* each tensor's part inside [lo, hi): the whole tensor for the whole arena */
    const int64_t lo = opt->lo, hi = opt->lo + opt->n;
    for (size_t i = 0; i < n_params; i++) {
        const tril_param_info *p = &table[i];
        if (p->offset < 0 || p->numel <= 0) continue;
        const int64_t a = p->offset > lo ? p->offset : lo;
        const int64_t b = p->offset + p->numel < hi ? p->offset + p->numel : hi;
        if (a >= b) continue;
        const double wd = p->decay ? (double)cfg->weight_decay : 0.0;
        s.decay_factor = (float)(1.0 - (double)lr * wd);
        k->adamw_update(params + a, grads + (a - lo), opt->m + (a - lo), opt->v + (a - lo), b - a,
                        &s);
    }
    opt->step++;
}

double tril_adamw_step_clipped(tril_adamw *opt, const tril_adamw_config *cfg, float *params,
                               const float *grads, const tril_param_info *table, size_t n_params,
                               float lr, float max_norm)
{
    if (!opt || !grads) return NAN;
    const double norm = tril_grad_norm(grads, opt->n);
    if (!isfinite(norm)) return norm; /* nothing updated: the caller stops */
    tril_adamw_step_scaled(opt, cfg, params, grads, tril_clip_coef(norm, max_norm), table, n_params,
                           lr);
    return norm;
}

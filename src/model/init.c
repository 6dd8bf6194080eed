/* Random initialisation, GPT-2 style: N(0, 0.02) for matrices and
 * embeddings, N(0, 0.02 / sqrt(2 L)) for the projections that feed the
 * residual stream, zero biases, unit LayerNorm. */
#include <math.h>

#include "tril/gpt2.h"

/* A generator of its own, not tril_rng: it made the bundled default model,
 * and scripts/train_default_model.sh must keep reproducing that model. */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double gaussian(uint64_t *s)
{
    double u = ((splitmix(s) >> 11) + 0.5) * 0x1.0p-53, v = (splitmix(s) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = 0, m = 0;
    while (s[n]) n++;
    while (suffix[m]) m++;
    return n >= m && __builtin_memcmp(s + n - m, suffix, m) == 0;
}

tril_status tril_gpt2_init_random(tril_gpt2 *m, uint64_t seed)
{
    if (!m || !m->arena)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "init: the model needs an owned arena");
    uint64_t state = seed;
    const double resid_std = 0.02 / sqrt(2.0 * (double)m->cfg.n_layer);
    for (size_t i = 0; i < m->n_params; i++) {
        const tril_param_info *p = &m->params[i];
        float *w = m->arena + p->offset;
        int is_ln = ends_with(p->name, "ln_1.weight") || ends_with(p->name, "ln_2.weight") ||
                    ends_with(p->name, "ln_f.weight");
        double std = ends_with(p->name, "c_proj.weight") ? resid_std : 0.02;
        for (int64_t k = 0; k < p->numel; k++)
            w[k] = is_ln ? 1.0f : (p->decay ? (float)(std * gaussian(&state)) : 0.0f);
    }
    return TRIL_OK;
}

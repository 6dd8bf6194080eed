/* Random initialisation, GPT-2 style: N(0, 0.02) for matrices and
 * embeddings, N(0, 0.02 / sqrt(2 L)) for the projections that feed the
 * residual stream, zero biases, unit LayerNorm. */
#include <math.h>
#include <string.h>

#include "model/gpt2_internal.h"
#include "tril/rng.h"

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

void gpt2_random_tensor(const tril_gpt2_config *cfg, const tril_param_info *p, uint64_t *state,
                        float *w, int64_t count)
{
    const int is_ln = ends_with(p->name, "ln_1.weight") || ends_with(p->name, "ln_2.weight") ||
                      ends_with(p->name, "ln_f.weight");
    const double resid_std = 0.02 / sqrt(2.0 * (double)cfg->n_layer);
    const double std = ends_with(p->name, "c_proj.weight") ? resid_std : 0.02;
    for (int64_t k = 0; k < count; k++)
        w[k] = is_ln ? 1.0f : (p->decay ? (float)(std * tril_splitmix64_normal(state)) : 0.0f);
}

tril_status tril_gpt2_init_random(tril_gpt2 *m, uint64_t seed)
{
    if (!m || !m->arena)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "init: the model needs an owned arena");
    /* The splitmix64 stream, not tril_rng: it made the bundled default
     * model, and scripts/train_default_model.sh must keep reproducing that
     * model (tril/rng.h). Draws go in table order, two per weight. */
    uint64_t state = seed;
    for (size_t i = 0; i < m->n_params; i++)
        gpt2_random_tensor(&m->cfg, &m->params[i], &state, m->arena + m->params[i].offset,
                           m->params[i].numel);
    return TRIL_OK;
}

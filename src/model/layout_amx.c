/* The bf16 model's matrices and wte repacked in place for Intel AMX
 * (model/gemm_amx.h), where the CPU has it: decoding many sequences at once
 * (tril serve) then reads the weights once for all of them at the tile
 * unit's speed, and one sequence streams them as fast as the AVX-512 path. */
#include "model/gemm_amx.h"
#include "model/gpt2_internal.h"

#include <string.h>

/* wte is [V, C] as stored; a Conv1D matrix [in, out] is held as [out, in] */
static void lowp_dims(const tril_param_info *p, int64_t *outputs, int64_t *inputs)
{
    const int wte = strcmp(p->name, "wte.weight") == 0;
    *outputs = wte ? p->shape[0] : p->shape[1];
    *inputs = wte ? p->shape[1] : p->shape[0];
}

tril_status tril_gpt2_use_amx(tril_gpt2 *m)
{
    if (!m) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "AMX layout: NULL model");
    if (m->weight_dtype != TRIL_BF16 || !m->param_lowp || !tril_amx_bf16_usable()) return TRIL_OK;
    for (size_t i = 0; i < m->n_params; i++) {
        int64_t outputs, inputs;
        if (!m->param_lowp[i].data) continue;
        lowp_dims(&m->params[i], &outputs, &inputs);
        if (inputs % 32 != 0) return TRIL_OK; /* the tiles take 32 inputs at a time */
    }
    for (size_t i = 0; i < m->n_params; i++) {
        tril_lowp *w = &m->param_lowp[i];
        if (!w->data || w->amx) continue;
        int64_t outputs, inputs;
        lowp_dims(&m->params[i], &outputs, &inputs);
        /* the model owns its bf16 arena (lowp_arena): writable */
        const tril_status st = tril_amx_pack_bf16((uint16_t *)w->data, outputs, inputs);
        if (st != TRIL_OK) { /* out of memory: each matrix says its own layout, so the
                                model stays usable with those packed so far */
            tril_gpt2_bind_views(m);
            return st;
        }
        w->amx = 1;
    }
    tril_gpt2_bind_views(m);
    return TRIL_OK;
}

int tril_gpt2_uses_amx(const tril_gpt2 *m) { return m && m->wte_lowp.amx; }

/* The bf16 model's matrices and wte repacked in place for Intel AMX
 * (model/gemm_amx.h), where the CPU has it: decoding many sequences at once
 * (tril serve) then reads the weights once for all of them at the tile
 * unit's speed, and one sequence streams them as fast as the AVX-512 path. */
#include "model/gemm_amx.h"
#include "model/gpt2_internal.h"

#include <stdlib.h>

#include "tril/cpu.h"

tril_status tril_gpt2_use_amx(tril_gpt2 *m)
{
    if (!m) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "AMX layout: NULL model");
    if (m->weight_dtype != TRIL_BF16 || !m->param_lowp || m->wte_lowp.amx || !tril_cpu_use_amx())
        return TRIL_OK;
    int64_t widest = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        int64_t outputs, inputs;
        if (!m->param_lowp[i].data) continue;
        tril_gpt2_lowp_shape(&m->params[i], &outputs, &inputs);
        if (inputs % 32 != 0) return TRIL_OK; /* the tiles take 32 inputs at a time */
        widest = inputs > widest ? inputs : widest;
    }
    /* the scratch first, so that either every matrix is packed or none */
    uint16_t *rows = malloc((size_t)(64 * widest) * sizeof *rows);
    if (!rows) return TRIL_FAIL(TRIL_ERR_NOMEM, "AMX layout: out of memory");
    for (size_t i = 0; i < m->n_params; i++) {
        tril_lowp *w = &m->param_lowp[i];
        if (!w->data) continue;
        int64_t outputs, inputs;
        tril_gpt2_lowp_shape(&m->params[i], &outputs, &inputs);
        /* the model owns its bf16 arena (lowp_arena): writable; the shape
         * was checked above, so this cannot fail */
        (void)tril_amx_pack_bf16((uint16_t *)w->data, outputs, inputs, rows);
        w->amx = 1;
    }
    free(rows);
    tril_gpt2_bind_views(m);
    return TRIL_OK;
}

int tril_gpt2_uses_amx(const tril_gpt2 *m) { return m && m->wte_lowp.amx; }

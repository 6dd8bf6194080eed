/* What public code may know about a model (tril/gpt2.h): the struct itself
 * is private (model/gpt2_internal.h). */
#include <string.h>

#include "model/gpt2_internal.h"

const tril_gpt2_config *tril_gpt2_get_config(const tril_gpt2 *m) { return m ? &m->cfg : NULL; }

tril_gpt2_storage tril_gpt2_get_storage(const tril_gpt2 *m)
{
    if (m && m->weight_dtype == TRIL_BF16) return TRIL_GPT2_BF16;
    if (m && m->weight_dtype == TRIL_INT8) return TRIL_GPT2_INT8;
    return m && m->arena ? TRIL_GPT2_ARENA : TRIL_GPT2_MAPPED;
}

tril_dtype tril_gpt2_get_weight_dtype(const tril_gpt2 *m) { return m ? m->weight_dtype : TRIL_F32; }

tril_status tril_gpt2_set_kv_dtype(tril_gpt2 *m, tril_dtype kv_dtype)
{
    if (!m) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "KV cache: NULL model");
    if (kv_dtype != TRIL_F32 && kv_dtype != TRIL_BF16)
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "the KV cache can be fp32 or bf16, not %s",
                         tril_dtype_name(kv_dtype) ? tril_dtype_name(kv_dtype) : "?");
    m->kv_dtype = kv_dtype;
    return TRIL_OK;
}

tril_dtype tril_gpt2_get_kv_dtype(const tril_gpt2 *m) { return m ? m->kv_dtype : TRIL_F32; }

const char *tril_gpt2_get_stored_dtype(const tril_gpt2 *m) { return m ? m->stored_dtype : ""; }

const tril_param_info *tril_gpt2_get_params(const tril_gpt2 *m, size_t *count)
{
    if (count) *count = m ? m->n_params : 0;
    return m ? m->params : NULL;
}

int64_t tril_gpt2_param_index(const tril_gpt2 *m, const char *name)
{
    for (size_t i = 0; m && name && i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0) return (int64_t)i;
    return -1;
}

tril_status tril_gpt2_find_param(const tril_gpt2 *m, const char *name, tril_gpt2_tensor *out)
{
    if (!m || !name || !out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "find param: NULL argument");
    const int64_t i = tril_gpt2_param_index(m, name);
    if (i < 0)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "no parameter '%s' in this model (names as in its table: wte.weight, "
                         "wpe.weight, h.0.ln_1.weight .. h.%lld.mlp.c_proj.bias, ln_f.weight, "
                         "ln_f.bias)",
                         name, (long long)(m->cfg.n_layer - 1));
    const tril_lowp *low = m->param_lowp && m->param_lowp[i].data ? &m->param_lowp[i] : NULL;
    out->info = &m->params[i];
    out->dtype = low ? m->weight_dtype : TRIL_F32;
    /* wte keeps its [V, C] layout in bf16 / int8; the Conv1D matrices are
     * turned to [out, in] for decoding */
    out->packed = low && low->amx;
    out->transposed = low && !low->amx && low->data != m->wte_lowp.data;
    out->data = low ? low->data : (const void *)m->param_data[i];
    out->scales = low ? low->scales : NULL;
    return TRIL_OK;
}

tril_status tril_gpt2_get_arena(tril_gpt2 *m, float **data, int64_t *numel)
{
    if (!m || !data || !numel) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "arena: NULL argument");
    *data = m->arena;
    *numel = m->arena ? m->arena_numel : 0;
    if (!m->arena)
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED,
                         "the model has no writable fp32 arena (%s): load it with copy_to_arena",
                         m->weight_dtype == TRIL_BF16   ? "bf16 weights"
                         : m->weight_dtype == TRIL_INT8 ? "int8 weights"
                                                        : "weights used in place from the file");
    return TRIL_OK;
}

/* The bf16 and int8 models' matrices (tril_lowp) through one call per use,
 * whichever of the two the model holds. */
#ifndef TRIL_MODEL_LOWP_H
#define TRIL_MODEL_LOWP_H

#include "model/gpt2_internal.h"

/* Whether lowp_matmul and lowp_head widen the model's matrices into the
 * caller's wbuf / panel for T > 1: the bf16 and int8 models off AMX (the
 * tile product reads the bf16 weights as they are). */
static inline int lowp_widens(const tril_gpt2 *m)
{
    return m->weight_dtype != TRIL_F32 && !m->wte_lowp.amx;
}

/* y[T, out] = x[T, in] @ W + b, W [out, in]: a GEMV for T == 1, else one
 * fp32 GEMM through wbuf [out, in] (on AMX: the tile product, no wbuf). */
tril_status lowp_matmul(tril_dtype d, tril_lowp w, float *y, const float *x, const float *b,
                        int64_t T, int64_t in, int64_t out, float *wbuf);
/* n independent rows, each exactly the T == 1 result. */
tril_status lowp_matvec_rows(tril_dtype d, tril_lowp w, float *y, const float *x,
                             const float *b, int64_t n, int64_t in, int64_t out);
/* logits[T, V] = x @ wte^T (panels of panel_rows for T > 1). */
tril_status lowp_head(tril_dtype d, tril_lowp wte, float *logits, const float *x, int64_t T,
                      int64_t C, int64_t V, float *panel, int64_t panel_rows);
tril_status lowp_head_rows(tril_dtype d, tril_lowp wte, float *logits, const float *x,
                           int64_t n, int64_t C, int64_t V);
void lowp_embed(tril_dtype d, tril_lowp wte, float *x, const int32_t *ids, int64_t T,
                int64_t pos0, const float *wpe, int64_t C, int64_t V);

#endif

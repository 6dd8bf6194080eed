/* One entry point per use for the bf16 and int8 models (model/lowp.h). */
#include "model/lowp.h"
#include "model/gemm_amx.h"
#include "tril/ops.h"

tril_status lowp_matmul(tril_dtype d, tril_lowp w, float *y, const float *x, const float *b,
                        int64_t T, int64_t in, int64_t out, float *wbuf)
{
    if (d == TRIL_INT8) return tril_matmul_q8(y, x, w.data, w.scales, b, T, in, out, wbuf);
    if (w.amx) return tril_amx_matmul_bf16(y, x, w.data, b, T, in, out);
    return tril_matmul_bf16(y, x, w.data, b, T, in, out, wbuf);
}

tril_status lowp_matvec_rows(tril_dtype d, tril_lowp w, float *y, const float *x,
                             const float *b, int64_t n, int64_t in, int64_t out)
{
    if (d == TRIL_INT8) return tril_matvec_q8_rows(y, x, w.data, w.scales, b, n, in, out);
    if (w.amx) return tril_amx_matmul_bf16(y, x, w.data, b, n, in, out);
    tril_matvec_bf16_rows(y, x, w.data, b, n, in, out);
    return TRIL_OK;
}

tril_status lowp_head(tril_dtype d, tril_lowp wte, float *logits, const float *x, int64_t T,
                      int64_t C, int64_t V, float *panel, int64_t panel_rows)
{
    if (d == TRIL_INT8) return tril_lm_head_q8(logits, x, wte.data, wte.scales, T, C, V, panel, panel_rows);
    if (wte.amx) return tril_amx_matmul_bf16(logits, x, wte.data, NULL, T, C, V);
    return tril_lm_head_bf16(logits, x, wte.data, T, C, V, panel, panel_rows);
}

tril_status lowp_head_rows(tril_dtype d, tril_lowp wte, float *logits, const float *x,
                           int64_t n, int64_t C, int64_t V)
{
    if (d == TRIL_INT8) return tril_lm_head_q8_rows(logits, x, wte.data, wte.scales, n, C, V);
    if (wte.amx) return tril_amx_matmul_bf16(logits, x, wte.data, NULL, n, C, V);
    tril_lm_head_rows(logits, x, NULL, wte.data, n, C, V);
    return TRIL_OK;
}

void lowp_embed(tril_dtype d, tril_lowp wte, float *x, const int32_t *ids, int64_t T,
                int64_t pos0, const float *wpe, int64_t C, int64_t V)
{
    if (d == TRIL_INT8) tril_embed_q8(x, ids, T, pos0, wte.data, wte.scales, wpe, C);
    else if (wte.amx) {
        for (int64_t t = 0; t < T; t++) {
            float *row = x + t * C;
            tril_amx_bf16_row(row, wte.data, V, C, ids[t]);
            for (int64_t c = 0; c < C; c++) row[c] += wpe[(pos0 + t) * C + c];
        }
    } else tril_embed_bf16(x, ids, T, pos0, wte.data, wpe, C);
}

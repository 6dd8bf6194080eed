/* The backward oracle: plain scalar loops, one (batch, head) at a time,
 * accumulating in double. Every fast backward kernel is tested against this,
 * and this against PyTorch autograd and finite differences.
 *
 * With s_ij the (masked) scaled score, p_ij = exp(s_ij - lse_i) rebuilt from
 * the forward's lse, and D_i = dout_i . out_i:
 *   dv_j += p_ij dout_i
 *   ds_ij = p_ij (dout_i . v_j - D_i)
 *   dq_i += scale ds_ij k_j,   dk_j += scale ds_ij q_i
 * over exactly the keys the forward reads for row i (attn_row). A masked key
 * of the additive mode has score s + fill (derivative 1, the rounding taken
 * as the identity); of the boolean mode the constant fill, so it carries
 * probability (dv) but no gradient to q or k. Rows with no visible key
 * (lse = -inf) contribute nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"

static tril_status backward_head(const tril_attention_args *a, const float *dout, float *dq,
                                 float *dk, float *dv, int64_t b, int64_t h, double *acc_k,
                                 double *acc_v, double *acc_q)
{
    const int64_t H = a->heads, D = a->head_dim, Tq = a->q_len, Tk = a->kv_len;
    const float *q = a->q, *k = a->k, *v = a->v, *out = a->out;
    const double scale = a->scale;
    memset(acc_k, 0, (size_t)(Tk * D) * sizeof *acc_k);
    memset(acc_v, 0, (size_t)(Tk * D) * sizeof *acc_v);
    for (int64_t i = 0; i < Tq; i++) {
        const int64_t q_off = b * a->q_batch_stride + i * a->q_row_stride + h * D;
        const int64_t o_off = b * a->out_batch_stride + i * a->out_row_stride + h * D;
        const double lse = a->lse[(b * H + h) * Tq + i];
        const attn_row_window w = attn_row(a, b, i);
        for (int64_t d = 0; d < D; d++) acc_q[d] = 0.0;
        if (w.hi > w.lo && lse != -INFINITY) {
            double Di = 0.0;
            for (int64_t d = 0; d < D; d++) Di += (double)dout[o_off + d] * (double)out[o_off + d];
            for (int64_t j = w.read_lo; j < w.read_hi; j++) {
                const int64_t kv_off = b * a->kv_batch_stride + j * a->kv_row_stride + h * D;
                double dot = 0.0, dp = 0.0;
                for (int64_t d = 0; d < D; d++) {
                    dot += (double)q[q_off + d] * (double)k[kv_off + d];
                    dp += (double)dout[o_off + d] * (double)v[kv_off + d];
                }
                double s = dot * scale;
                const int visible = j >= w.lo && j < w.hi;
                if (!visible) s = attn_masked_score(a, (float)s);
                const double p = exp(s - lse);
                /* The boolean fill is a constant: no path back to q or k. */
                const double ds =
                    (visible || a->mask == TRIL_MASK_ADDITIVE) ? p * (dp - Di) * scale : 0.0;
                double *gk = acc_k + j * D, *gv = acc_v + j * D;
                for (int64_t d = 0; d < D; d++) {
                    gv[d] += p * (double)dout[o_off + d];
                    if (ds != 0.0) {
                        gk[d] += ds * (double)q[q_off + d];
                        acc_q[d] += ds * (double)k[kv_off + d];
                    }
                }
            }
        }
        for (int64_t d = 0; d < D; d++) dq[q_off + d] = (float)acc_q[d];
    }
    for (int64_t j = 0; j < Tk; j++) {
        const int64_t kv_off = b * a->kv_batch_stride + j * a->kv_row_stride + h * D;
        for (int64_t d = 0; d < D; d++) {
            dk[kv_off + d] = (float)acc_k[j * D + d];
            dv[kv_off + d] = (float)acc_v[j * D + d];
        }
    }
    return TRIL_OK;
}

tril_status tril_attention_backward_reference(const tril_attention_args *a, const float *dout,
                                              float *dq, float *dk, float *dv)
{
    const int64_t D = a->head_dim, Tk = a->kv_len;
    double *acc_k = malloc((size_t)(Tk * D) * sizeof *acc_k); // [Tk, D]
    double *acc_v = malloc((size_t)(Tk * D) * sizeof *acc_v); // [Tk, D]
    double *acc_q = malloc((size_t)D * sizeof *acc_q);        // [D]
    tril_status st = TRIL_OK;
    if (!acc_k || !acc_v || !acc_q)
        st = TRIL_FAIL(TRIL_ERR_NOMEM, "attention backward: cannot allocate %lld x %lld gradients",
                       (long long)Tk, (long long)D);
    for (int64_t b = 0; b < a->batch && st == TRIL_OK; b++)
        for (int64_t h = 0; h < a->heads && st == TRIL_OK; h++)
            st = backward_head(a, dout, dq, dk, dv, b, h, acc_k, acc_v, acc_q);
    free(acc_k);
    free(acc_v);
    free(acc_q);
    return st;
}

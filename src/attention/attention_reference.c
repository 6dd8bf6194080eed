/* The oracle: plain scalar loops, one query row at a time, accumulating in
 * double. Every fast kernel is tested against this. */
#include <math.h>
#include <stdlib.h>

#include "attention/attention_internal.h"

/* Element (t, h, d) of a [*, H, D] view with the given row stride. */
static float at(const void *base, tril_dtype dtype, int64_t offset)
{
    return tril_load_f32(base, dtype, (size_t)offset);
}

tril_status tril_attention_reference(const tril_attention_args *a)
{
    const int64_t H = a->heads, D = a->head_dim, Tq = a->q_len, Tk = a->kv_len;
    double *scores = malloc((size_t)Tk * sizeof *scores); // [Tk]
    double *acc = malloc((size_t)D * sizeof *acc);        // [D]
    if (!scores || !acc) {
        free(scores);
        free(acc);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "attention: cannot allocate %lld scores",
                         (long long)Tk);
    }
    for (int64_t b = 0; b < a->batch; b++) {
        for (int64_t h = 0; h < H; h++) {
            for (int64_t i = 0; i < Tq; i++) {
                const int64_t q_off = b * a->q_batch_stride + i * a->q_row_stride + h * D;
                const int64_t o_off = b * a->out_batch_stride + i * a->out_row_stride + h * D;
                float *lse = a->lse ? &a->lse[(b * H + h) * Tq + i] : NULL;
                attn_row_window w = attn_row(a, b, i);
                double mx = -INFINITY;
                for (int64_t j = w.read_lo; j < w.read_hi; j++) {
                    const int64_t k_off = attn_kv_row(a, b, j) + h * D;
                    double dot = 0.0;
                    for (int64_t d = 0; d < D; d++)
                        dot += (double)at(a->q, a->dtype, q_off + d) *
                               (double)at(a->k, a->kv_dtype, k_off + d);
                    double s = dot * (double)a->scale;
                    if (j < w.lo || j >= w.hi) s = attn_masked_score(a, (float)s);
                    scores[j] = s;
                    if (s > mx) mx = s;
                }
                for (int64_t d = 0; d < D; d++) acc[d] = 0.0;
                double sum = 0.0;
                /* No visible key (or nothing finite to normalise by): zeros
                 * and lse = -inf rather than the NaN of -inf - -inf. */
                int empty = w.hi <= w.lo || mx == -INFINITY;
                for (int64_t j = w.read_lo; j < w.read_hi && !empty; j++) {
                    double p = exp(scores[j] - mx);
                    sum += p;
                    const int64_t v_off = attn_kv_row(a, b, j) + h * D;
                    for (int64_t d = 0; d < D; d++) acc[d] += p * (double)at(a->v, a->kv_dtype, v_off + d);
                }
                for (int64_t d = 0; d < D; d++)
                    tril_store_f32(a->out, a->dtype, (size_t)(o_off + d),
                                   empty ? 0.0f : (float)(acc[d] / sum));
                if (lse) *lse = empty ? -INFINITY : (float)(mx + log(sum));
            }
        }
    }
    free(scores);
    free(acc);
    return TRIL_OK;
}

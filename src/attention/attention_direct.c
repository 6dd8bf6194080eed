/* The direct attention path for decoding: a few query rows against a long
 * KV cache. Compiled once per instruction set like attention_tiled.c. */
#include <math.h>
#include <stdlib.h>

#include "attention/attention_internal.h"
#include "attention/simd.h"
#include "attention/tile_util.h"

#ifndef TRIL_ISA_SUFFIX
#error "TRIL_ISA_SUFFIX must name the instruction set of this build"
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define VL TRIL_VL

/* Decoding (a few query rows against a long cache): packing K/V would cost
 * more than using them, since each key is read once per row. Each (batch,
 * head, row) reads its visible keys in place, VL at a time: VL scores, one
 * vector exp, then P.V. Same masks and conventions as the tiled path. */
static void key_row(const tril_attention_args *a, const void *base, int64_t off, int64_t D,
                    int64_t dp, float *buf, const float **row)
{
    if (a->dtype == TRIL_F32 && D == dp) {
        *row = (const float *)base + off; /* in place */
        return;
    }
    load_row(buf, base, a->dtype, off, D, dp, 1.0f);
    *row = buf;
}

static void run_direct_row(const tril_attention_args *a, int64_t b, int64_t h, int64_t i,
                           int64_t dp, float *scratch)
{
    const int64_t D = a->head_dim, H = a->heads;
    float *q = scratch, *acc = q + dp, *kbuf = acc + dp, *vbuf = kbuf + dp, *sc = vbuf + dp;
    const attn_row_window w = attn_row(a, b, i);
    const int structural = a->mask == TRIL_MASK_STRUCTURAL || a->mask == TRIL_MASK_NONE;
    const int64_t j_lo = structural ? w.lo : w.read_lo, j_hi = structural ? attn_max64(w.lo, w.hi) : w.read_hi;
    load_row(q, a->q, a->dtype, b * a->q_batch_stride + i * a->q_row_stride + h * D, D, dp, a->scale);
    for (int64_t d = 0; d < dp; d++) acc[d] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int64_t j0 = j_lo; j0 < j_hi; j0 += VL) {
        const int64_t n = attn_min64(VL, j_hi - j0);
        float tile_max = -INFINITY;
        for (int64_t c = 0; c < n; c++) {
            const int64_t j = j0 + c, off = b * a->kv_batch_stride + j * a->kv_row_stride + h * D;
            const float *k;
            key_row(a, a->k, off, D, dp, kbuf, &k);
            vf dot = vbcast(0.0f);
            for (int64_t d = 0; d < dp; d += VL) dot += vload(q + d) * vload(k + d);
            float sj = vhsum(dot);
            if (j < w.lo || j >= w.hi) sj = attn_masked_score(a, sj);
            sc[c] = sj;
            tile_max = sj > tile_max ? sj : tile_max;
        }
        for (int64_t c = n; c < VL; c++) sc[c] = -INFINITY;
        const float m_new = tile_max > m ? tile_max : m;
        if (m_new == -INFINITY) continue;
        const float alpha = vexp(vbcast(m - m_new))[0];
        vf pv = vexp(vload(sc) - vbcast(m_new));
        l = l * alpha + vhsum(pv);
        m = m_new;
        vstore(sc, pv);
        for (int64_t d = 0; d < dp; d += VL) vstore(acc + d, vload(acc + d) * vbcast(alpha));
        for (int64_t c = 0; c < n; c++) {
            const float *v;
            key_row(a, a->v, b * a->kv_batch_stride + (j0 + c) * a->kv_row_stride + h * D, D, dp, vbuf, &v);
            const vf pc = vbcast(sc[c]);
            for (int64_t d = 0; d < dp; d += VL) vstore(acc + d, vload(acc + d) + pc * vload(v + d));
        }
    }
    const int empty = w.hi <= w.lo || m == -INFINITY || !(l > 0.0f);
    const float inv = empty ? 0.0f : 1.0f / l;
    const int64_t o_off = b * a->out_batch_stride + i * a->out_row_stride + h * D;
    for (int64_t d = 0; d < D; d++)
        tril_store_f32(a->out, a->dtype, (size_t)(o_off + d), empty ? 0.0f : acc[d] * inv);
    if (a->lse) a->lse[(b * H + h) * a->q_len + i] = empty ? -INFINITY : m + logf(l);
}

/* Each OpenMP thread's row scratch, kept between calls (one call per layer
 * per generated token). */
static _Thread_local tril_workspace row_scratch;

void CAT(tril_attention_direct_workspace_free_, TRIL_ISA_SUFFIX)(void) { workspace_release(&row_scratch); }

tril_status CAT(tril_attention_direct_, TRIL_ISA_SUFFIX)(const tril_attention_args *a)
{
    const int64_t dp = (a->head_dim + VL - 1) / VL * VL;
    const int64_t units = a->batch * a->heads * a->q_len;
    int failed = 0;
#pragma omp parallel reduction(| : failed)
    {
        float *scratch = workspace_get(&row_scratch, (size_t)(4 * dp + VL));
        if (!scratch) failed = 1;
#pragma omp for schedule(static)
        for (int64_t u = 0; u < units; u++) {
            if (!scratch) continue;
            const int64_t i = u % a->q_len, bh = u / a->q_len;
            run_direct_row(a, bh / a->heads, bh % a->heads, i, dp, scratch);
        }
    }
    return failed ? TRIL_FAIL(TRIL_ERR_NOMEM, "attention: out of memory") : TRIL_OK;
}

/* Helpers shared by the per-ISA attention kernels (included by each build). */
#ifndef TRIL_TILE_UTIL_H
#define TRIL_TILE_UTIL_H

#include <math.h>
#include <stdlib.h>

#include "attention/attention_internal.h"

/* 64-byte aligned floats, rounded up to whole cache lines. */
static inline void *alloc_floats(size_t n) { return aligned_alloc(64, ((n * 4 + 63) / 64) * 64); }

/* A per-thread buffer that only grows (declare it _Thread_local): kernels
 * called once per layer per token must not allocate (and fault in fresh
 * pages) on every call. */
typedef struct {
    float *data;
    size_t floats;
} tril_workspace;

static inline float *workspace_get(tril_workspace *w, size_t floats)
{
    if (floats > w->floats) {
        free(w->data);
        w->data = alloc_floats(floats);
        w->floats = w->data ? floats : 0;
    }
    return w->data;
}

static inline void workspace_release(tril_workspace *w)
{
    free(w->data);
    w->data = NULL;
    w->floats = 0;
}

/* Reads `n` elements of a view into fp32, zero-filling up to `padded`. */
static inline void load_row(float *dst, const void *src, tril_dtype dtype, int64_t offset, int64_t n,
                     int64_t padded, float mul)
{
    if (dtype == TRIL_F32) {
        const float *p = (const float *)src + offset;
        for (int64_t d = 0; d < n; d++) dst[d] = p[d] * mul;
    } else {
        for (int64_t d = 0; d < n; d++) dst[d] = tril_load_f32(src, dtype, (size_t)(offset + d)) * mul;
    }
    for (int64_t d = n; d < padded; d++) dst[d] = 0.0f;
}

/* The end of row (b, h, i) in every fast kernel, written once: out = acc / l,
 * exactly +0 for a row that saw nothing (no visible key in [lo, hi), max
 * still -inf, or l not > 0: never 0/0, nor acc * 0 keeping acc's sign), and
 * lse = m + log l (-inf for an empty row). acc holds head_dim unnormalised
 * values `stride` floats apart (1 row-major; the transposed kernel keeps
 * O^T); for fp32 it may be the output row itself. The oracle keeps its own
 * double-precision finish: it must not share code with what it checks. */
static inline void attn_finish_row(const tril_attention_args *a, int64_t b, int64_t h, int64_t i,
                                   int64_t lo, int64_t hi, const float *acc, int64_t stride,
                                   float m, float l)
{
    const int empty = hi <= lo || m == -INFINITY || !(l > 0.0f);
    const float inv = empty ? 0.0f : 1.0f / l;
    const int64_t D = a->head_dim;
    const int64_t o_off = b * a->out_batch_stride + i * a->out_row_stride + h * D;
    if (a->dtype == TRIL_F32) {
        float *out = (float *)a->out + o_off;
        for (int64_t d = 0; d < D; d++) out[d] = empty ? 0.0f : acc[d * stride] * inv;
    } else {
        for (int64_t d = 0; d < D; d++)
            tril_store_f32(a->out, a->dtype, (size_t)(o_off + d),
                           empty ? 0.0f : acc[d * stride] * inv);
    }
    if (a->lse) a->lse[(b * a->heads + h) * a->q_len + i] = empty ? -INFINITY : m + logf(l);
}

/* Query rows up to which the direct (unpacked) decode path is used. */
#define TRIL_DIRECT_MAX_ROWS 4

#endif

/* Helpers shared by the per-ISA attention kernels (included by each build). */
#ifndef TRIL_TILE_UTIL_H
#define TRIL_TILE_UTIL_H

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

/* Query rows up to which the direct (unpacked) decode path is used. */
#define TRIL_DIRECT_MAX_ROWS 4

#endif

/* io/safetensors_internal.h - what the safetensors reader
 * (safetensors_read.c: the image, mmap, queries), header validator
 * (safetensors_header.c) and writer (safetensors_write.c) share; not part of
 * the public API. */
#ifndef TRIL_IO_SAFETENSORS_INTERNAL_H
#define TRIL_IO_SAFETENSORS_INTERNAL_H

#include <stdint.h>

#include "tril/safetensors.h"

typedef struct {
    char *key;
    char *value;
} st_meta;

struct tril_safetensors {
    void *map; /* the mapped file, or NULL for a parsed buffer */
    size_t map_size;
    tril_st_tensor *tensors; /* in order of data offset; names owned here */
    size_t count;
    const tril_st_tensor **by_name; /* sorted by name, for find() */
    st_meta *meta;                  /* sorted by key */
    size_t meta_count;
};

/* Every reader message starts with the file (or "safetensors buffer"). */
#define ST_FAIL(where, code, fmt, ...) TRIL_FAIL((code), "%s: " fmt, (where), ##__VA_ARGS__)

struct cJSON;
/* Validates the parsed header object `root` against a data section of
 * `data_size` bytes and fills st's tensors (sorted by offset, `data` left
 * NULL), name index and metadata. On failure st holds what was allocated so
 * far, for tril_safetensors_close. */
tril_status st_parse_header(const struct cJSON *root, const char *where, uint64_t data_size,
                            tril_safetensors *st);

/* Product of the dims into *numel; -1 if a dim is negative or the product
 * overflows int64 (a shape of zero dims is a scalar: 1 element). */
static inline int st_shape_numel(int32_t ndim, const int64_t *shape, int64_t *numel)
{
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(n, shape[i], &n)) return -1;
    }
    *numel = n;
    return 0;
}

/* numel * element size into *nbytes; -1 on overflow or a bad dtype. */
static inline int st_nbytes(tril_st_dtype dtype, int64_t numel, uint64_t *nbytes)
{
    size_t size = tril_st_dtype_size(dtype);
    if (size == 0 || numel < 0) return -1;
    return __builtin_mul_overflow((uint64_t)numel, (uint64_t)size, nbytes) ? -1 : 0;
}

#endif

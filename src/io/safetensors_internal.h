/* io/safetensors_internal.h - helpers shared by the safetensors reader and
 * writer (not part of the public API). */
#ifndef TRIL_IO_SAFETENSORS_INTERNAL_H
#define TRIL_IO_SAFETENSORS_INTERNAL_H

#include <stdint.h>

#include "tril/safetensors.h"

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

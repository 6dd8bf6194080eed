/* What the one-row GEMVs (gemv.c) and their several-row forms
 * (gemv_rows.c) share, so both decide alike. */
#ifndef TRIL_MODEL_GEMV_INTERNAL_H
#define TRIL_MODEL_GEMV_INTERNAL_H

#include <stdint.h>

#include "core/parallel.h"

/* Below this many weights one pass on one thread (the block split, and so
 * the rounding, depends only on the shape, never on the thread count). */
#define GEMV_PARALLEL_MIN 32768

/* Threads worth a pass over `bytes` of weights: from 400 KB per thread,
 * a lower bar than core/parallel.h's, because these passes hand out blocks
 * dynamically (a thread the machine delays holds up one block, not half the
 * matrix) and one core alone cannot draw the memory bandwidth. Each of
 * `rows` rows adds its FMAs to the same weight traffic. */
#define GEMV_MIN_BYTES_PER_THREAD 4.0e5

static inline int gemv_threads_rows(int64_t bytes, int64_t rows)
{
    return tril_threads_for((double)bytes * (double)(rows > 1 ? rows : 1) *
                            (TRIL_PARALLEL_MIN_FLOPS_PER_THREAD / GEMV_MIN_BYTES_PER_THREAD));
}

#endif

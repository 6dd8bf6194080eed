/* When a loop is worth a parallel region.
 *
 * Opening a region costs a few microseconds while every thread has a core of
 * its own, but up to a scheduler time slice (milliseconds) when one of them
 * shares its core with another process: the region ends only when its slowest
 * member has arrived. So a region is opened only for work that keeps each
 * extra thread busy well beyond that: about 16 MFLOP (~150 us on one core)
 * per thread. Smaller work runs on the calling thread alone. (At 4 MFLOP a
 * small model's eval still ran 2.8x slower beside a busy core; at 16 it ran
 * 1.2x slower, and alone no slower: docs/BENCHMARKS.md, "Shared cores".) */
#ifndef TRIL_CORE_PARALLEL_H
#define TRIL_CORE_PARALLEL_H

#include <stdint.h>

#include "tril/cpu.h"

/* Floating-point operations (2 per multiply-add) that pay for one extra
 * thread; element-wise passes count a few operations per element, and a
 * byte read from memory counts as 10 (about the ratio of the FMA rate to the
 * memory bandwidth on the machines measured). */
#define TRIL_PARALLEL_MIN_FLOPS_PER_THREAD 1.6e7
#define TRIL_FLOPS_PER_BYTE 10.0
/* A byte that streams from memory (a GEMV's weights, a decoding step's
 * cached keys and values) counts for more: one core alone cannot draw the
 * memory bandwidth, so a second thread pays from about 400 KB each. */
#define TRIL_STREAM_MIN_BYTES_PER_THREAD 4.0e5

/* TRIL_PARALLEL_MIN_FLOPS from the environment (read once; tests set 0 to
 * run every parallel path on small shapes), else the default above. */
double tril_parallel_min_flops(void);

/* Threads worth using for `flops` of work: 1 .. the current setting. */
static inline int tril_threads_for(double flops)
{
    const int max = tril_get_num_threads();
    if (max <= 1) return 1;
    const double min = tril_parallel_min_flops();
    if (min <= 0.0) return max;
    const double fit = flops / min;
    if (fit < 2.0) return 1;
    return fit >= (double)max ? max : (int)fit;
}

/* Threads worth a pass that streams `bytes` from memory, one per
 * `per_thread` bytes. */
static inline int tril_threads_for_bytes(double bytes, double per_thread)
{
    return tril_threads_for(bytes * (TRIL_PARALLEL_MIN_FLOPS_PER_THREAD / per_thread));
}

/* ... one per TRIL_STREAM_MIN_BYTES_PER_THREAD. */
static inline int tril_threads_for_streamed(double bytes)
{
    return tril_threads_for_bytes(bytes, TRIL_STREAM_MIN_BYTES_PER_THREAD);
}

/* The next work item for the calling thread, counting up from 0 through a
 * counter the team shares (0 before the region). A thread takes its next
 * item before working on the current one and holds it, so it knows which
 * data to prefetch past the end of the current one; the items next in
 * memory are likely the other threads'. Which thread takes an item must
 * not change that item's result. */
static inline int64_t tril_take_item(int64_t *taken)
{
    return __atomic_fetch_add(taken, 1, __ATOMIC_RELAXED);
}

#endif

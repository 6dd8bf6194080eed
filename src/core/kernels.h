/* The core layer's per-ISA kernels (src/core/isa.h): the machine-limit
 * probes that benchmarks print their figures against (peak.c). */
#ifndef TRIL_CORE_KERNELS_H
#define TRIL_CORE_KERNELS_H

#include <stdint.h>

#include "core/isa.h"

/* How a streaming pass fetches ahead of its loads (stream_pass). */
enum tril_stream_fetch {
    TRIL_STREAM_FETCH_NONE,  /* the hardware prefetchers alone */
    TRIL_STREAM_FETCH_L2,    /* into L2 TRIL_PREFETCH_BYTES ahead */
    TRIL_STREAM_FETCH_L2_L1, /* into L2, then L1 (simd.h: the AMX products, the one-row GEMVs) */
    TRIL_STREAM_FETCH_KINDS
};

typedef struct {
    /* fp32 FMA rate of this ISA's vectors on all threads, GFLOP/s. */
    double (*peak_gflops)(double seconds);
    /* One streaming read of buf[n] on all threads, fetched ahead as
     * `prefetch` (enum tril_stream_fetch) says: its seconds. */
    double (*stream_pass)(const float *buf, int64_t n, int prefetch);
} tril_core_kernels;

TRIL_ISA_DECLARE_TABLES(tril_core_kernels, tril_core_kernels);

#endif

/* The core layer's per-ISA kernels (src/core/isa.h): the machine-limit
 * probes that benchmarks print their figures against (peak.c). */
#ifndef TRIL_CORE_KERNELS_H
#define TRIL_CORE_KERNELS_H

#include <stdint.h>

#include "core/isa.h"

typedef struct {
    /* fp32 FMA rate of this ISA's vectors on all threads, GFLOP/s. */
    double (*peak_gflops)(double seconds);
    /* Streaming read rate of buf[n] on all threads, GB/s. */
    double (*stream_gbps)(const float *buf, int64_t n, double seconds);
} tril_core_kernels;

TRIL_ISA_DECLARE_TABLES(tril_core_kernels, tril_core_kernels);

#endif

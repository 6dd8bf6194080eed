/* The core layer's per-ISA kernels (src/core/isa.h): the machine-limit
 * probes that benchmarks print their figures against (peak.c). */
#ifndef TRIL_CORE_KERNELS_H
#define TRIL_CORE_KERNELS_H

#include <stdint.h>

#include "core/isa.h"

typedef struct {
    /* fp32 FMA rate of this ISA's vectors on all threads, GFLOP/s. */
    double (*peak_gflops)(double seconds);
    /* One streaming read of buf[n] on all threads, with or without L2
     * prefetch: its seconds. */
    double (*stream_pass)(const float *buf, int64_t n, int prefetch);
} tril_core_kernels;

TRIL_ISA_DECLARE_TABLES(tril_core_kernels, tril_core_kernels);

#endif

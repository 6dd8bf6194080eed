/* Timing and machine-limit helpers for the benchmarks. */
#ifndef TRIL_BENCH_UTIL_H
#define TRIL_BENCH_UTIL_H

#include <stdint.h>

/* Monotonic wall clock in seconds. */
double bench_now(void);
/* Median of n values (reorders them). */
double bench_median(double *values, int n);
/* The machine's fp32 compute limit measured now: GFLOP/s of independent
 * vector FMAs on all OpenMP threads (no memory traffic). */
double bench_peak_gflops(void);

#endif

/* tril/timing.h - wall-clock timing and robust summaries for benchmarks. */
#ifndef TRIL_TIMING_H
#define TRIL_TIMING_H

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic wall clock in seconds. */
double tril_now(void);
/* Median of n >= 1 values (sorts them in place). */
double tril_median(double *values, int n);
/* Peak resident set size of this process so far, in bytes (0 if unknown). */
long long tril_peak_rss_bytes(void);
/* Starts the peak over from the current RSS (Linux), so a benchmark can
 * report its steady state apart from a load's transient. 0 on success,
 * -1 where unsupported (the peak then stays the process-wide one). */
int tril_reset_peak_rss(void);

#ifdef __cplusplus
}
#endif
#endif

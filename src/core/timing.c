/* Wall-clock timing, medians and peak memory for the benchmarks. */
#define _POSIX_C_SOURCE 200809L
#include "tril/timing.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

double tril_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double tril_median(double *values, int n)
{
    if (n <= 0) return 0.0;
    qsort(values, (size_t)n, sizeof *values, cmp_double);
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

long long tril_peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (long long)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

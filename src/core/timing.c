/* Wall-clock timing, medians and peak memory for the benchmarks. */
#define _POSIX_C_SOURCE 200809L
#include "tril/timing.h"

#include <stdio.h>
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

/* VmHWM of /proc/self/status (Linux), in bytes; -1 where there is none. */
static long long proc_hwm_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lld kB", &kib) == 1) break;
    fclose(f);
    return kib < 0 ? -1 : kib * 1024;
}

long long tril_peak_rss_bytes(void)
{
    long long hwm = proc_hwm_bytes();
    if (hwm >= 0) return hwm; /* follows tril_reset_peak_rss, unlike ru_maxrss */
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (long long)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

int tril_reset_peak_rss(void)
{
    /* "5" resets the peak RSS (Linux >= 4.0, proc(5) clear_refs) */
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

/* Timing and the machine's measured compute limit. Compiled for the host CPU
 * (-march=native) so the FMA loop uses the widest vectors it has. */
#include "bench_util.h"

#include <stdlib.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

double bench_now(void)
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

double bench_median(double *values, int n)
{
    qsort(values, (size_t)n, sizeof *values, cmp_double);
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

#if defined(__AVX512F__)
#define VL 16
#elif defined(__AVX2__)
#define VL 8
#else
#define VL 4
#endif
typedef float vf __attribute__((vector_size(VL * 4)));
#define CHAINS 12 /* independent FMA chains: enough to hide FMA latency */

/* `iters` rounds of CHAINS vector FMAs; the result is returned so the work
 * cannot be optimised away. */
static float fma_loop(long iters, float seed)
{
    vf acc[CHAINS];
    vf mul = (vf){0} + 0.999999f, add = (vf){0} + 1e-7f * seed;
    for (int c = 0; c < CHAINS; c++) acc[c] = (vf){0} + seed * (float)c;
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * mul + add;
    float s = 0.0f;
    for (int c = 0; c < CHAINS; c++)
        for (int l = 0; l < VL; l++) s += acc[c][l];
    return s;
}

double bench_peak_gflops(void)
{
    const long iters = 20000000;
    double best = 0.0;
    volatile float sink = 0.0f;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = bench_now();
        int threads = 1;
        float total = 0.0f;
#pragma omp parallel reduction(+ : total)
        {
#pragma omp single
            {
#ifdef _OPENMP
                threads = omp_get_num_threads();
#endif
            }
            total += fma_loop(iters, 1.0f);
        }
        double dt = bench_now() - t0;
        sink = total;
        double gflops = 2.0 * VL * CHAINS * (double)iters * threads / dt * 1e-9;
        if (gflops > best) best = gflops;
    }
    (void)sink;
    return best;
}

/* The machine's fp32 compute limit, measured: independent vector FMAs on all
 * OpenMP threads, no memory traffic. Compiled once per instruction set (like
 * the attention kernels) so each build uses its own vector width. */
#include <time.h>

#include "core/isa.h"
#include "core/kernels.h"
#include "core/simd.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define CHAINS 12 /* independent FMA chains: enough to hide FMA latency */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* `iters` rounds of CHAINS vector FMAs; the sum is returned so the work
 * cannot be optimised away. */
static float fma_loop(long iters, float seed)
{
    vf acc[CHAINS];
    const vf mul = vbcast(0.999999f), add = vbcast(1e-7f * seed);
    for (int c = 0; c < CHAINS; c++) acc[c] = vbcast(seed * (float)c);
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * mul + add;
    vf s = acc[0];
    for (int c = 1; c < CHAINS; c++) s += acc[c];
    return vhsum(s);
}

double TRIL_ISA_FN(tril_peak_gflops)(double seconds)
{
    const long iters = 2000000;
    double best = 0.0, spent = 0.0;
    volatile float sink = 0.0f;
    do {
        int threads = 1;
        float total = 0.0f;
        double t0 = now_seconds();
#pragma omp parallel reduction(+ : total)
        {
#ifdef _OPENMP
#pragma omp single
            threads = omp_get_num_threads();
#endif
            total += fma_loop(iters, 1.0f);
        }
        double dt = now_seconds() - t0;
        spent += dt;
        sink = total;
        double gflops = 2.0 * TRIL_VL * CHAINS * (double)iters * threads / dt * 1e-9;
        if (gflops > best) best = gflops;
    } while (spent < seconds);
    (void)sink;
    return best;
}

/* Sum of a buffer with independent vector accumulators: a pure streaming
 * read (the memory-bandwidth limit that decoding is bound by). `prefetch`
 * picks how it is fetched ahead (enum tril_stream_fetch): not at all, into
 * L2 alone (vprefetch_l2), or into L2 and then L1 as the one-row GEMVs and
 * the AMX products do (vprefetch_ahead); the limit is the best of the three. */
static float stream_sum(const float *x, int64_t n, int prefetch)
{
    vf acc[8];
    for (int c = 0; c < 8; c++) acc[c] = vbcast(0.0f);
    int64_t i = 0;
    for (; i + 8 * TRIL_VL <= n; i += 8 * TRIL_VL) {
        const char *at = (const char *)(x + i);
        if (prefetch == TRIL_STREAM_FETCH_L2)
            for (int k = 0; k < 8 * TRIL_VL * 4; k += 64) vprefetch_l2(at + TRIL_PREFETCH_BYTES + k);
        else if (prefetch == TRIL_STREAM_FETCH_L2_L1)
            for (int k = 0; k < 8 * TRIL_VL * 4; k += 64) vprefetch_ahead(at + k);
        for (int c = 0; c < 8; c++) acc[c] += vload(x + i + c * TRIL_VL);
    }
    for (int c = 1; c < 8; c++) acc[0] += acc[c];
    float s = vhsum(acc[0]);
    for (; i < n; i++) s += x[i];
    return s;
}

/* where a read's sum goes, so that the read cannot be optimised away */
volatile float TRIL_ISA_FN(tril_stream_sink);

double TRIL_ISA_FN(tril_stream_pass)(const float *buf, int64_t n, int prefetch)
{
    float total = 0.0f;
    const double t0 = now_seconds();
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int64_t part = 0; part < 64; part++) {
        int64_t lo = n * part / 64, hi = n * (part + 1) / 64;
        total += stream_sum(buf + lo, hi - lo, prefetch);
    }
    const double dt = now_seconds() - t0;
    TRIL_ISA_FN(tril_stream_sink) = total;
    return dt;
}

/* tril/cpu.h - CPU feature detection and thread control. */
#ifndef TRIL_CPU_H
#define TRIL_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TRIL_ISA_GENERIC = 0, /* portable C (GCC/Clang vector extensions) */
    TRIL_ISA_AVX2 = 1,    /* x86-64-v3: AVX2 + FMA + F16C */
    TRIL_ISA_AVX512 = 2   /* x86-64-v4: AVX-512 F/BW/DQ/VL */
} tril_isa;

/* 1 if this build contains kernels for `isa` and this CPU can run them. */
int tril_cpu_supports(tril_isa isa);
/* The best ISA usable here, decided on the first call. The TRIL_ISA
 * environment variable ("generic", "avx2", "avx512"), read at that first
 * call, lowers it, e.g. to test fallbacks. */
tril_isa tril_cpu_best_isa(void);
const char *tril_isa_name(tril_isa isa);

/* The machine's fp32 compute limit in GFLOP/s, measured now: independent
 * FMAs of the best ISA's vectors on all threads, repeated for about
 * `seconds` and the best rate kept. Benchmarks print results against it. */
double tril_cpu_peak_gflops(double seconds);

/* The machine's streaming read bandwidth in GB/s, measured now on all
 * threads over a 256 MiB buffer (best of repeats for about `seconds`). */
double tril_cpu_stream_gbps(double seconds);

/* Threads used by tril's parallel loops (OpenMP). n <= 0 keeps OpenMP's
 * default ($OMP_NUM_THREADS, else all cores). */
void tril_set_num_threads(int n);
int tril_get_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif /* TRIL_CPU_H */

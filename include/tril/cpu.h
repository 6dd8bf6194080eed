/* tril/cpu.h - CPU feature detection and thread control. */
#ifndef TRIL_CPU_H
#define TRIL_CPU_H

#include "tril/error.h"

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
/* Checks TRIL_ISA: unset, empty, or one of the names above; anything else
 * is TRIL_ERR_INVALID_ARG naming the value (kernels would otherwise run the
 * generic build). TRIL_VNNI and TRIL_AMX too: unset, empty, "0" or "1". The library's
 * entry points that run kernels (attention, model load, training) return
 * this error; a program may ask first. */
tril_status tril_cpu_check_isa_env(void);
/* Whether the int8 kernels use AVX-512 VNNI: the CPU has it and TRIL_VNNI
 * is not "0" (read once). */
int tril_cpu_use_vnni(void);
/* Whether bf16 weights may use Intel AMX: the CPU has AMX-BF16, TRIL_ISA
 * allows AVX-512, TRIL_AMX is not "0", and Linux granted this process the
 * tile state (asked at the first call; read once). */
int tril_cpu_use_amx(void);

/* The machine's fp32 compute limit in GFLOP/s, measured now: independent
 * FMAs of the best ISA's vectors on all threads, repeated for about
 * `seconds` and the best rate kept. Benchmarks print results against it. */
double tril_cpu_peak_gflops(double seconds);

/* The machine's streaming read bandwidth in GB/s, measured now on all
 * threads over a 256 MiB buffer (best of repeats for about `seconds`). */
double tril_cpu_stream_gbps(double seconds);

/* The same read, one measurement at a time, to take in turns with the work
 * it is the limit of: on a shared machine the bandwidth moves from one
 * minute to the next, and a best-of taken apart is not the bandwidth the
 * work had. The probe holds its 256 MiB buffer until freed. */
typedef struct tril_stream_probe tril_stream_probe;
tril_status tril_stream_probe_create(tril_stream_probe **out);
/* GB/s of one read of the buffer on all threads: the best of three passes,
 * one fetched ahead into L2, one into L2 and then L1, one left to the
 * hardware prefetchers. */
double tril_stream_probe_run(tril_stream_probe *probe);
void tril_stream_probe_free(tril_stream_probe *probe);

/* Threads used by tril's parallel loops (OpenMP). n <= 0 keeps OpenMP's
 * default ($OMP_NUM_THREADS, else all cores). */
void tril_set_num_threads(int n);
int tril_get_num_threads(void);

/* TRIL_NUM_THREADS from the environment into *out: 0 if unset, else the
 * count in [1, 1024]; anything else is TRIL_ERR_INVALID_ARG quoting it (*out
 * = 0). */
tril_status tril_num_threads_from_env(int *out);

/* Environment settings the OpenMP and OpenBLAS runtimes read only when the
 * process starts, which tril needs on this machine:
 *  - a bounded spin before a waiting thread sleeps (GOMP_SPINCOUNT), unless
 *    OMP_WAIT_POLICY or GOMP_SPINCOUNT is already set: GNU OpenMP's default
 *    spins up to 300,000 pauses (milliseconds on recent Intel cores) at every
 *    barrier, so beside another busy process a thread burns the core its
 *    team mate needs;
 *  - OPENBLAS_CORETYPE, unless set, when OpenBLAS did not recognise this CPU
 *    and fell back to a kernel below the ISA the CPU has (e.g. OpenBLAS
 *    0.3.21 runs SSE3 "Prescott" GEMMs on Emerald Rapids: 4x slower).
 * Writes up to `max` of them into `vars` and returns how many are needed.
 * A program applies them by setting them and re-executing itself (the tril
 * program does this at start); a program embedding libtril can set them
 * before it starts. */
typedef struct {
    const char *name;
    char value[32];
} tril_env_setting;
int tril_runtime_env_advice(tril_env_setting *vars, int max);

#ifdef __cplusplus
}
#endif
#endif /* TRIL_CPU_H */

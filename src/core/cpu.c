/* CPU feature detection (run-time kernel selection) and thread count. */
#include "tril/cpu.h"
#include "tril/timing.h"

#include "core/kernels.h"
#include "core/parallel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(TRIL_HAVE_X86_KERNELS)
#include <cpuid.h>
#endif
#if defined(TRIL_HAVE_X86_KERNELS) && defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(TRIL_HAVE_X86_KERNELS)
/* clang's __builtin_cpu_supports does not know "f16c": ask cpuid. */
static int has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

static int cpu_has(tril_isa isa)
{
    switch (isa) {
    case TRIL_ISA_GENERIC: return 1;
#if defined(TRIL_HAVE_X86_KERNELS) && (defined(__GNUC__) || defined(__clang__))
    case TRIL_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    case TRIL_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
               cpu_has(TRIL_ISA_AVX2);
#else
    default: return 0;
#endif
    }
    return 0;
}

/* TRIL_ISA lowers the ISA (tests, fallbacks). Unset or empty: no cap; a
 * value that names no ISA is an error (tril_cpu_check_isa_env), not "no
 * limit", and until a caller reports it kernels run the generic build. */
static int env_cap(tril_isa *cap)
{
    const char *text = getenv("TRIL_ISA");
    *cap = TRIL_ISA_AVX512;
    if (!text || !*text) return 0;
    for (int i = TRIL_ISA_GENERIC; i <= TRIL_ISA_AVX512; i++)
        if (strcmp(text, tril_isa_name((tril_isa)i)) == 0) {
            *cap = (tril_isa)i;
            return 0;
        }
    *cap = TRIL_ISA_GENERIC;
    return -1;
}

/* TRIL_VNNI and TRIL_AMX: unset, empty or "1" (use the feature where the
 * CPU has it) or "0" (do not); anything else is an error rather than a
 * guess (tril_cpu_check_isa_env). */
static int switch_env_ok(const char *name)
{
    const char *text = getenv(name);
    return !text || !*text || strcmp(text, "0") == 0 || strcmp(text, "1") == 0;
}

static inline int switch_env_off(const char *name)
{
    const char *text = getenv(name);
    return text && strcmp(text, "0") == 0;
}

int tril_cpu_use_vnni(void)
{
#if defined(TRIL_HAVE_X86_KERNELS) && (defined(__GNUC__) || defined(__clang__))
    static _Atomic int on = -1;
    int v = on;
    if (v < 0) {
        __builtin_cpu_init();
        on = v = __builtin_cpu_supports("avx512vnni") && !switch_env_off("TRIL_VNNI");
    }
    return v;
#else
    return 0;
#endif
}

int tril_cpu_use_amx(void)
{
#if defined(TRIL_HAVE_X86_KERNELS) && defined(__x86_64__) && defined(__linux__) && \
    (defined(__GNUC__) || defined(__clang__))
    static _Atomic int on = -1;
    int v = on;
    if (v < 0) {
        unsigned a, b, c, d;
        /* AMX-TILE and AMX-BF16; then Linux hands the 8 KB of tile state
         * only to a process that asks for it */
        v = !switch_env_off("TRIL_AMX") && tril_cpu_best_isa() >= TRIL_ISA_AVX512 &&
            __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 24 & 1) && (d >> 22 & 1) &&
            syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
        on = v;
    }
    return v;
#else
    return 0;
#endif
}

tril_status tril_cpu_check_isa_env(void)
{
    /* Asked at every attention call: read the environment once. */
    static _Atomic int bad = -1, bad_vnni = -1, bad_amx = -1;
    int b = bad, bv = bad_vnni, ba = bad_amx;
    tril_isa cap;
    if (b < 0) bad = b = env_cap(&cap) != 0;
    if (bv < 0) bad_vnni = bv = !switch_env_ok("TRIL_VNNI");
    if (ba < 0) bad_amx = ba = !switch_env_ok("TRIL_AMX");
    if (b)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "TRIL_ISA='%s' names no instruction set (use generic, avx2 or avx512, "
                         "or leave it unset for the best this CPU has)",
                         getenv("TRIL_ISA"));
    if (bv)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "TRIL_VNNI='%s' is neither 0 (int8 kernels without AVX-512 VNNI) nor 1 "
                         "(with it where the CPU has it; also what unset means)",
                         getenv("TRIL_VNNI"));
    if (ba)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "TRIL_AMX='%s' is neither 0 (bf16 weights without Intel AMX) nor 1 (on "
                         "AMX where the CPU has it; also what unset means)",
                         getenv("TRIL_AMX"));
    return TRIL_OK;
}

int tril_cpu_supports(tril_isa isa) { return cpu_has(isa); }

double tril_cpu_stream_gbps(double seconds)
{
    tril_stream_probe *probe;
    if (tril_stream_probe_create(&probe) != TRIL_OK) return 0.0;
    double best = 0.0;
    const double t0 = tril_now();
    do {
        const double gbps = tril_stream_probe_run(probe);
        if (gbps > best) best = gbps;
    } while (tril_now() - t0 < seconds);
    tril_stream_probe_free(probe);
    return best;
}

double tril_cpu_peak_gflops(double seconds)
{
    return TRIL_ISA_TABLE(tril_core_kernels)->peak_gflops(seconds);
}

tril_isa tril_cpu_best_isa(void)
{
    /* Asked before every kernel call (each GEMV, GELU, attention): decide
     * once per process instead of reading the environment and cpuid each
     * time. Every thread would compute the same value, so the race to store
     * it is harmless; the atomic makes it defined. */
    static _Atomic int best = -1;
    int isa = best;
    if (isa >= 0) return (tril_isa)isa;
    isa = TRIL_ISA_GENERIC;
    tril_isa cap;
    (void)env_cap(&cap);
    for (int c = (int)cap; c > TRIL_ISA_GENERIC; c--)
        if (cpu_has((tril_isa)c)) {
            isa = c;
            break;
        }
    best = isa;
    return (tril_isa)isa;
}

const char *tril_isa_name(tril_isa isa)
{
    switch (isa) {
    case TRIL_ISA_GENERIC: return "generic";
    case TRIL_ISA_AVX2: return "avx2";
    case TRIL_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

double tril_parallel_min_flops(void)
{
    static _Atomic double cached = -1.0;
    double v = cached;
    if (v >= 0.0) return v;
    v = TRIL_PARALLEL_MIN_FLOPS_PER_THREAD;
    const char *text = getenv("TRIL_PARALLEL_MIN_FLOPS");
    if (text && *text) {
        char *end = NULL;
        const double parsed = strtod(text, &end);
        if (end != text && *end == '\0' && parsed >= 0.0 && parsed < 1e18) v = parsed;
    }
    cached = v;
    return v;
}

void tril_set_num_threads(int n)
{
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n); /* else OpenMP's default: OMP_NUM_THREADS or all cores */
#else
    (void)n;
#endif
}

int tril_get_num_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

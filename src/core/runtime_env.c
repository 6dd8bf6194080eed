/* Settings the OpenMP and OpenBLAS runtimes read once at process start
 * (see tril_runtime_env_advice in tril/cpu.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "tril/cpu.h"
#include "tril/error.h"

/* Spins of GNU OpenMP's wait loop (one `pause` each: ~10-140 cycles by CPU)
 * before a waiting thread sleeps: tens of microseconds, enough to bridge
 * the gap between two back-to-back regions while the threads have cores,
 * short enough not to burn a shared core for a time slice. Measured in
 * docs/BENCHMARKS.md ("Shared cores"). */
#define TRIL_GOMP_SPINCOUNT "1000"

tril_status tril_num_threads_from_env(int *out)
{
    if (!out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "TRIL_NUM_THREADS: NULL argument");
    *out = 0;
    const char *text = getenv("TRIL_NUM_THREADS");
    if (!text || !*text) return TRIL_OK;
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < 1 || v > 1024)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "TRIL_NUM_THREADS must be an integer in [1, 1024], got '%s'", text);
    *out = (int)v;
    return TRIL_OK;
}

/* OpenBLAS core names whose sgemm uses at least AVX2 + FMA. */
static int openblas_core_is_vector(const char *core)
{
    static const char *const fast[] = {"haswell", "zen", "skylakex", "cooperlake",
                                       "sapphirerapids", "excavator"};
    char lower[64];
    size_t n = 0;
    for (; core[n] && n + 1 < sizeof lower; n++) lower[n] = (char)tolower((unsigned char)core[n]);
    lower[n] = '\0';
    for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++)
        if (strcmp(lower, fast[i]) == 0) return 1;
    return 0;
}

static void put(tril_env_setting *vars, int max, int *count, const char *name, const char *value)
{
    if (*count < max) {
        vars[*count].name = name;
        snprintf(vars[*count].value, sizeof vars[*count].value, "%s", value);
    }
    (*count)++;
}

int tril_runtime_env_advice(tril_env_setting *vars, int max)
{
    int count = 0;
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"))
        put(vars, max, &count, "GOMP_SPINCOUNT", TRIL_GOMP_SPINCOUNT);
#if defined(__x86_64__)
    if (!getenv("OPENBLAS_CORETYPE")) {
        const tril_isa isa = tril_cpu_best_isa();
        const char *core = openblas_get_corename();
        if (isa >= TRIL_ISA_AVX2 && core && !openblas_core_is_vector(core))
            put(vars, max, &count, "OPENBLAS_CORETYPE",
                isa == TRIL_ISA_AVX512 ? "SKYLAKEX" : "HASWELL");
    }
#endif
    return count;
}

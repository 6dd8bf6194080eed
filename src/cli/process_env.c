/* Process start-up: the runtime settings that must exist before the OpenMP
 * and OpenBLAS runtimes start (they read them once, when the program is
 * loaded), and the default thread count from TRIL_NUM_THREADS. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cblas.h>

#include "cli/cli.h"
#include "tril/cpu.h"
#include "tril/error.h"

/* Set in the re-executed process: its settings are in place. */
#define APPLIED_MARK "TRIL_RUNTIME_ENV"

int cli_prepare_process(char **argv)
{
    if (!getenv(APPLIED_MARK)) {
        tril_env_setting vars[8];
        const int n = tril_runtime_env_advice(vars, 8);
        if (n > 0 && n <= 8) {
            int ok = 1;
            for (int i = 0; i < n && ok; i++) ok = setenv(vars[i].name, vars[i].value, 1) == 0;
            /* The runtimes are already running in this image: start a fresh
             * one that reads the settings. If that fails, run on as we are
             * (correct, only slower beside other busy processes). */
            if (ok && setenv(APPLIED_MARK, "1", 1) == 0) execv("/proc/self/exe", argv);
            if (getenv("TRIL_DEBUG"))
                fprintf(stderr, "tril: note: could not restart with the runtime settings\n");
        }
    }
    if (tril_cpu_check_isa_env() != TRIL_OK) {
        fprintf(stderr, "tril: %s\n", tril_last_error());
        return CLI_USAGE;
    }
    int threads;
    if (tril_num_threads_from_env(&threads) != TRIL_OK) {
        fprintf(stderr, "tril: %s\n", tril_last_error());
        return CLI_USAGE;
    }
    if (threads > 0) tril_set_num_threads(threads);
    return CLI_OK;
}

void cli_print_runtime(void)
{
    const char *wait = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    printf("kernels: %s (int8 %s AVX-512 VNNI, bf16 %s Intel AMX), threads: %d\n",
           tril_isa_name(tril_cpu_best_isa()),
           tril_cpu_best_isa() >= TRIL_ISA_AVX512 && tril_cpu_use_vnni() ? "with" : "without",
           tril_cpu_use_amx() ? "on" : "not on", tril_get_num_threads());
    printf("openblas: %s (%s)\n", openblas_get_corename(), openblas_get_config());
    printf("openmp wait: OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s\n", wait ? wait : "(unset)",
           spin ? spin : "(unset)");
}

/* Causal attention benchmark: the scalar oracle against the SIMD kernels for
 * H=12, D=64 and T in {256, 1024, 4096} (or the T values given), fp32.
 * FLOPs count the causal half only: 2*H*T*T*D (QK^T and PV over j <= i).
 * Prints medians, GFLOP/s, the speed-up and the fraction of the machine's
 * compute limit measured in the same run, and the SIMD backward's median
 * (bwd_ms: dq, dk, dv from the forward's lse, about 5/2 the forward's FLOPs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tril/attention.h"
#include "tril/cpu.h"
#include "tril/rng.h"
#include "tril/timing.h"

static float *random_floats(size_t n, unsigned seed)
{
    float *x = malloc(n * sizeof *x);
    if (!x) return NULL;
    tril_rng rng;
    tril_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) x[i] = (float)tril_rng_uniform(&rng) * 2.0f - 1.0f;
    return x;
}

static double time_kernel(tril_attention_args *a, tril_attn_kernel kernel, int reps)
{
    double t[16];
    if (tril_attention_forward(a, kernel) != TRIL_OK) { /* warm-up */
        fprintf(stderr, "bench: %s\n", tril_last_error());
        exit(1);
    }
    for (int r = 0; r < reps; r++) {
        double t0 = tril_now();
        tril_attention_forward(a, kernel);
        t[r] = tril_now() - t0;
    }
    return tril_median(t, reps) * 1e3;
}

/* The SIMD backward, after one forward that writes the lse it needs. */
static double time_backward(tril_attention_args *a, size_t n, int reps)
{
    double t[16];
    float *lse = malloc((size_t)(a->heads * a->q_len) * sizeof *lse);
    float *dout = random_floats(n, 4), *grads = malloc(3 * n * sizeof *grads);
    if (!lse || !dout || !grads) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    a->lse = lse;
    if (tril_attention_forward(a, TRIL_ATTN_SIMD) != TRIL_OK ||
        tril_attention_backward(a, dout, grads, grads + n, grads + 2 * n, TRIL_ATTN_SIMD) != TRIL_OK) {
        fprintf(stderr, "bench: %s\n", tril_last_error());
        exit(1);
    }
    for (int r = 0; r < reps; r++) {
        double t0 = tril_now();
        tril_attention_backward(a, dout, grads, grads + n, grads + 2 * n, TRIL_ATTN_SIMD);
        t[r] = tril_now() - t0;
    }
    a->lse = NULL;
    free(lse);
    free(dout);
    free(grads);
    return tril_median(t, reps) * 1e3;
}

int main(int argc, char **argv)
{
    const int64_t H = 12, D = 64;
    int64_t seqs[8] = {256, 1024, 4096};
    int n_seqs = 3;
    if (argc > 1) {
        n_seqs = 0;
        for (int i = 1; i < argc && n_seqs < 8; i++) seqs[n_seqs++] = atoll(argv[i]);
    }
    double peak = tril_cpu_peak_gflops(1.0);
    printf("# threads=%d isa=%s limit_gflops=%.1f (measured FMA peak)\n", tril_get_num_threads(),
           tril_isa_name(tril_cpu_best_isa()), peak);
    printf("%-6s %12s %12s %12s %12s %9s %9s %10s\n", "T", "oracle_ms", "oracle_gf/s", "simd_ms",
           "simd_gf/s", "speedup", "of_limit", "bwd_ms");
    for (int s = 0; s < n_seqs; s++) {
        const int64_t T = seqs[s];
        const size_t n = (size_t)(T * H * D);
        float *q = random_floats(n, 1), *k = random_floats(n, 2), *v = random_floats(n, 3);
        float *out = malloc(n * sizeof *out);
        if (!q || !k || !v || !out) {
            fprintf(stderr, "bench: out of memory\n");
            return 1;
        }
        tril_attention_args a = tril_attention_args_init();
        a.batch = 1;
        a.heads = H;
        a.head_dim = D;
        a.q_len = a.kv_len = T;
        a.q = q;
        a.k = k;
        a.v = v;
        a.out = out;
        const double flops = 2.0 * H * (double)T * T * D;
        double oracle_ms = time_kernel(&a, TRIL_ATTN_REFERENCE, T >= 4096 ? 1 : 3);
        double simd_ms = time_kernel(&a, TRIL_ATTN_SIMD, T >= 4096 ? 5 : 15);
        double simd_gf = flops / simd_ms * 1e-6;
        double bwd_ms = time_backward(&a, n, T >= 4096 ? 5 : 15);
        printf("%-6lld %12.2f %12.2f %12.3f %12.1f %8.1fx %8.1f%% %10.3f\n", (long long)T, oracle_ms,
               flops / oracle_ms * 1e-6, simd_ms, simd_gf, oracle_ms / simd_ms,
               100.0 * simd_gf / peak, bwd_ms);
        free(q);
        free(k);
        free(v);
        free(out);
    }
    return 0;
}

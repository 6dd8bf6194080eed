/* tril bench: one line of key=value figures per run, measured against the
 * machine's own limit taken in the same run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tril/attention.h"
#include "tril/cpu.h"
#include "tril/rng.h"
#include "tril/timing.h"

#define CMD "bench"

void cmd_bench_help(void)
{
    printf("usage: tril bench forward --model M --tokens N [--repeats R] [--threads N]\n"
           "       tril bench decode --model M --position P [--repeats R] [--threads N]\n"
           "       tril bench train --model M --batch B --seq T [--repeats R] [--threads N]\n"
           "       tril bench attention --seq T --heads H --head-dim D [options]\n\n"
           "M is a model folder or a config name with random weights: gpt2-124m,\n"
           "gpt2-355m, gpt2-774m, gpt2-1558m (no checkpoint needed).\n\n"
           "forward: one prefill of N random tokens with logits for every position;\n"
           "  prints ms, GFLOP/s (2 x params x N + attention) and the fraction of the\n"
           "  measured FMA limit (limit_gflops).\n"
           "decode: fills the KV cache to position P, then times one-token steps;\n"
           "  prints ms_per_token and the bandwidth of what each token reads (weights\n"
           "  and the KV cache so far) against the measured streaming limit\n"
           "  (limit_gbps).\n"
           "forward/decode take --dtype fp32|bf16 (bf16 weights: half the bytes).\n"
           "train: one optimizer step (forward, backward, AdamW) on B x T random tokens;\n"
           "  prints ms_per_step, tokens/s and GFLOP/s (6 x params x B x T + attention)\n"
           "  against limit_gflops.\n\n"
           "Times causal self-attention (Tq = Tk = T, random fp32 data) and prints one\n"
           "line of key=value figures: median ms over the repeats after a warm-up,\n"
           "GFLOP/s counting the causal half (2*B*H*T*T*D), the machine's measured\n"
           "FMA limit (limit_gflops) and the fraction of it reached, and peak RSS.\n\n"
           "  --seq T          sequence length (>= 1)\n"
           "  --heads H        heads (>= 1)\n"
           "  --head-dim D     head dimension (>= 1)\n"
           "  --batch B        sequences (default 1)\n"
           "  --kernel K       auto | reference | tiled | tiled-generic | tiled-avx2 |\n"
           "                   tiled-avx512 (default auto)\n"
           "  --dtype DT       storage: fp32 | fp16 | bf16 (default fp32)\n"
           "  --repeats N      timed runs (default 10)\n"
           "  --threads N      OpenMP threads (default: all cores)\n");
}

typedef struct {
    int64_t seq, heads, head_dim, batch, repeats, threads;
    tril_attn_kernel kernel;
    tril_dtype dtype;
} attention_opts;

static int parse_attention(int argc, char **argv, attention_opts *o)
{
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        int64_t *target = NULL, lo = 1, hi = INT64_MAX;
        if (strcmp(arg, "--seq") == 0) target = &o->seq;
        else if (strcmp(arg, "--heads") == 0) target = &o->heads;
        else if (strcmp(arg, "--head-dim") == 0) target = &o->head_dim;
        else if (strcmp(arg, "--batch") == 0) target = &o->batch;
        else if (strcmp(arg, "--repeats") == 0) { target = &o->repeats; hi = 1000; }
        else if (strcmp(arg, "--threads") == 0) { target = &o->threads; hi = 1024; }
        else if (strcmp(arg, "--kernel") != 0 && strcmp(arg, "--dtype") != 0) return cli_unknown(CMD, arg);
        if (!(val = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        if (target) {
            if (cli_parse_i64(CMD, arg, val, lo, hi, target)) return CLI_USAGE;
        } else if (strcmp(arg, "--kernel") == 0) {
            if (tril_attn_kernel_parse(val, &o->kernel)) {
                fprintf(stderr, "tril bench: unknown kernel '%s' (see 'tril bench --help')\n", val);
                return CLI_USAGE;
            }
        } else if (tril_dtype_parse(val, &o->dtype)) {
            fprintf(stderr, "tril bench: unknown dtype '%s' (fp32, fp16 or bf16)\n", val);
            return CLI_USAGE;
        }
    }
    if (o->seq <= 0 || o->heads <= 0 || o->head_dim <= 0) {
        fprintf(stderr, "tril bench attention: --seq, --heads and --head-dim are required\n");
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int bench_attention(int argc, char **argv)
{
    attention_opts o = {-1, -1, -1, 1, 10, 0, TRIL_ATTN_AUTO, TRIL_F32};
    int rc = parse_attention(argc, argv, &o);
    if (rc != CLI_OK) return rc;
    tril_set_num_threads((int)o.threads);
    tril_attention_args a = tril_attention_args_init();
    a.batch = o.batch;
    a.heads = o.heads;
    a.head_dim = o.head_dim;
    a.q_len = a.kv_len = o.seq;
    a.dtype = o.dtype;
    a.q = a.k = a.v = a.out = (void *)1; /* shapes first: no allocation for nonsense */
    if (tril_attention_validate(&a) != TRIL_OK) return cli_lib_error(CMD, "invalid attention shape");
    const size_t n = (size_t)(o.batch * o.seq * o.heads * o.head_dim), es = tril_dtype_size(o.dtype);
    void *q = malloc(n * es), *k = malloc(n * es), *v = malloc(n * es), *out = malloc(n * es);
    if (!q || !k || !v || !out) {
        free(q); free(k); free(v); free(out);
        fprintf(stderr, "tril bench: cannot allocate 4 x %zu bytes\n", n * es);
        return CLI_FAIL;
    }
    tril_rng rng; /* fixed data: every run times the same problem */
    tril_rng_seed(&rng, 12345);
    for (size_t i = 0; i < n; i++) {
        float x = (float)tril_rng_uniform(&rng) * 2.0f - 1.0f;
        tril_store_f32(q, o.dtype, i, x);
        tril_store_f32(k, o.dtype, i, -x);
        tril_store_f32(v, o.dtype, i, x * 0.5f);
    }
    a.q = q; a.k = k; a.v = v; a.out = out;
    double times[1000];
    rc = CLI_OK;
    if (tril_attention_forward(&a, o.kernel) != TRIL_OK) { /* warm-up */
        rc = cli_lib_error(CMD, "attention failed");
    } else {
        for (int64_t r = 0; r < o.repeats; r++) {
            double t0 = tril_now();
            tril_attention_forward(&a, o.kernel);
            times[r] = tril_now() - t0;
        }
        double ms = tril_median(times, (int)o.repeats) * 1e3;
        double gflops = 2.0 * (double)o.batch * o.heads * (double)o.seq * o.seq * o.head_dim / ms * 1e-6;
        double rss_mb = tril_peak_rss_bytes() / 1048576.0; /* before the probe's buffers */
        double limit = tril_cpu_peak_gflops(0.5);
        printf("bench=attention kernel=%s dtype=%s batch=%lld seq=%lld heads=%lld head_dim=%lld "
               "threads=%d ms=%.3f gflops=%.1f limit_gflops=%.1f of_limit=%.3f peak_rss_mb=%.1f\n",
               tril_attn_kernel_name(o.kernel), tril_dtype_name(o.dtype), (long long)o.batch,
               (long long)o.seq, (long long)o.heads, (long long)o.head_dim, tril_get_num_threads(),
               ms, gflops, limit, gflops / limit, rss_mb);
    }
    free(q); free(k); free(v); free(out);
    return rc;
}

int cmd_bench_forward(int argc, char **argv);
int cmd_bench_decode(int argc, char **argv);
int cmd_bench_train(int argc, char **argv);

int cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "tril bench: say what to time: forward, decode, train or attention (see 'tril bench --help')\n");
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "attention") == 0) return bench_attention(argc, argv);
    if (strcmp(argv[1], "forward") == 0) return cmd_bench_forward(argc, argv);
    if (strcmp(argv[1], "decode") == 0) return cmd_bench_decode(argc, argv);
    if (strcmp(argv[1], "train") == 0) return cmd_bench_train(argc, argv);
    fprintf(stderr, "tril bench: unknown benchmark '%s' (see 'tril bench --help')\n", argv[1]);
    return CLI_USAGE;
}

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

typedef struct {
    int64_t seq, heads, head_dim, batch, repeats;
    int threads;
    tril_attn_kernel kernel;
    tril_dtype dtype;
} attention_opts;

static int parse_kernel(const char *cmd, const char *opt, const char *text, void *field)
{
    if (tril_attn_kernel_parse(text, field) == 0) return 0;
    fprintf(stderr, "tril %s: %s: unknown kernel '%s' (see 'tril bench --help')\n", cmd, opt, text);
    return -1;
}

static int parse_dtype(const char *cmd, const char *opt, const char *text, void *field)
{
    if (tril_dtype_parse(text, field) == 0 && *(tril_dtype *)field != TRIL_INT8) return 0;
    fprintf(stderr, "tril %s: %s: unknown dtype '%s' (fp32, fp16 or bf16)\n", cmd, opt, text);
    return -1;
}

static const cli_custom kernel_arg = {"kernel", sizeof(tril_attn_kernel), "auto", parse_kernel};
static const cli_custom dtype_arg = {"dtype", sizeof(tril_dtype), "fp32", parse_dtype};

#define F(field) CLI_FIELD(attention_opts, field)
static const cli_opt attention_options[] = {
    {"--seq", "T", CLI_ARG_INT, CLI_REQUIRED, F(seq), .imin = 1, .imax = INT64_MAX,
     .help = "sequence length (>= 1)"},
    {"--heads", "H", CLI_ARG_INT, CLI_REQUIRED, F(heads), .imin = 1, .imax = INT64_MAX,
     .help = "heads (>= 1)"},
    {"--head-dim", "D", CLI_ARG_INT, CLI_REQUIRED, F(head_dim), .imin = 1, .imax = INT64_MAX,
     .help = "head dimension (>= 1)"},
    {"--batch", "B", CLI_ARG_INT, 0, F(batch), .imin = 1, .imax = INT64_MAX,
     .help = "sequences (default 1)"},
    {"--kernel", "K", CLI_ARG_CUSTOM, 0, F(kernel), .custom = &kernel_arg,
     .help = "auto | reference | simd | simd-generic | simd-avx2 |\n"
             "simd-avx512 (default auto)"},
    {"--dtype", "DT", CLI_ARG_CUSTOM, 0, F(dtype), .custom = &dtype_arg,
     .help = "storage: fp32 | fp16 | bf16 (default fp32)"},
    {"--repeats", "N", CLI_ARG_INT, 0, F(repeats), .imin = 1, .imax = 1000,
     .help = "timed runs (default 10)"},
    {"--threads", "N", CLI_ARG_CUSTOM, 0, F(threads), .custom = &cli_threads_arg,
     .help = "OpenMP threads (default: all cores)"},
};
#undef F

const cli_spec cmd_bench_attention_spec = {"bench attention", NULL, NULL, CLI_OPTS(attention_options)};

void cmd_bench_help(void)
{
    fputs("usage: tril bench forward --model M --tokens N [--repeats R] [--threads N]\n"
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
          "  and the KV cache so far) against the measured streaming limit: a\n"
          "  read of 256 MiB after every token, limit_gbps the best of them\n"
          "  (of_limit = gbps / limit_gbps), paired_of_limit the median of each\n"
          "  token's rate over the read right after it (what a shared machine's\n"
          "  drifting bandwidth leaves comparable), paired_limit_gbps their median;\n"
          "  then the same tokens back to back (b2b_ms_per_token), the peak RSS while\n"
          "  decoding and while loading, and load_s (seconds to load or make the model).\n"
          "forward/decode take --dtype fp32|bf16|int8 (bf16: half the bytes; int8: a quarter).\n"
          "train: one optimizer step (forward, backward, AdamW) on B x T random tokens;\n"
          "  prints ms_per_step, tokens/s and GFLOP/s (6 x params x B x T + attention)\n"
          "  against limit_gflops.\n"
          "attention: times causal self-attention (Tq = Tk = T, random fp32 data) and\n"
          "  prints one line of key=value figures: median ms over the repeats after a\n"
          "  warm-up, GFLOP/s counting the causal half (2*B*H*T*T*D), the machine's\n"
          "  measured FMA limit (limit_gflops) and the fraction of it reached, and\n"
          "  peak RSS.\n",
          stdout);
    const cli_spec *const specs[] = {&cmd_bench_forward_spec, &cmd_bench_decode_spec,
                                     &cmd_bench_train_spec, &cmd_bench_attention_spec};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        printf("\n%s options:\n", specs[i]->name + strlen("bench "));
        cli_print_options(specs[i]);
    }
}

static int bench_attention(int argc, char **argv)
{
    attention_opts o = {.batch = 1, .repeats = 10, .kernel = TRIL_ATTN_AUTO, .dtype = TRIL_F32};
    int rc = cli_parse(&cmd_bench_attention_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
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
    /* From here argv[0] is the benchmark, as the parser expects. */
    if (strcmp(argv[1], "attention") == 0) return bench_attention(argc - 1, argv + 1);
    if (strcmp(argv[1], "forward") == 0) return cmd_bench_forward(argc - 1, argv + 1);
    if (strcmp(argv[1], "decode") == 0) return cmd_bench_decode(argc - 1, argv + 1);
    if (strcmp(argv[1], "train") == 0) return cmd_bench_train(argc - 1, argv + 1);
    if (argv[1][0] == '-') return cli_unknown(CMD, argv[1]);
    fprintf(stderr, "tril bench: unknown benchmark '%s' (see 'tril bench --help')\n", argv[1]);
    return CLI_USAGE;
}

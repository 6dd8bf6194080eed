/* tril bench forward / decode / train: the model-level benchmarks, on a
 * model folder or random weights of a named GPT-2 size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tril/cpu.h"
#include "tril/gpt2.h"
#include "tril/ops.h"
#include "tril/rng.h"
#include "tril/timing.h"
#include "tril/train.h"

#define CMD "bench"

typedef struct {
    const char *model;
    int64_t tokens, position, batch, seq, repeats;
    int threads;
    tril_dtype dtype;
    int kv_dtype;
    double load_peak_mb; /* peak RSS up to the model being ready */
    double load_s;       /* seconds to load (or make) the model */
} model_opts;

/* The model is ready: remember the peak so far (loading may convert
 * through a temporary fp32 copy) and measure the run's own peak from here. */
static void model_ready(model_opts *o)
{
    o->load_peak_mb = tril_peak_rss_bytes() / 1048576.0;
    tril_reset_peak_rss();
}

/* The three model benchmarks share their options but each requires its own. */
#define F(field) CLI_FIELD(model_opts, field)
#define MODEL_OPT                                                                              \
    {"--model", "M", CLI_ARG_STRING, CLI_REQUIRED, F(model),                                   \
     .help = "a model folder or a config name (gpt2-124m, ...)"}
#define COMMON_OPTS(default_repeats, dtype_help)                                               \
    {"--repeats", "R", CLI_ARG_INT, 0, F(repeats), .imin = 1, .imax = 1000,                    \
     .help = "timed runs (default " default_repeats ")"},                                      \
    {"--threads", "N", CLI_ARG_CUSTOM, 0, F(threads), .custom = &cli_threads_arg,              \
     .help = "OpenMP threads (default: all cores)"},                                           \
    {"--dtype", "fp32|bf16|int8", CLI_ARG_CUSTOM, 0, F(dtype), .custom = &cli_weight_dtype_arg,     \
     .help = dtype_help}

static const cli_opt forward_options[] = {
    MODEL_OPT,
    {"--tokens", "N", CLI_ARG_INT, CLI_REQUIRED, F(tokens), .imin = 1, .imax = 1 << 20,
     .help = "tokens in the prefill"},
    COMMON_OPTS("3", "weights (default fp32)"),
    {"--kv-dtype", "auto|fp32|bf16", CLI_ARG_CUSTOM, 0, F(kv_dtype), .custom = &cli_kv_dtype_arg,
     .help = CLI_KV_DTYPE_HELP},
};
static const cli_opt decode_options[] = {
    MODEL_OPT,
    {"--position", "P", CLI_ARG_INT, CLI_REQUIRED, F(position), .imin = 0, .imax = 1 << 20,
     .help = "tokens in the KV cache before the timed steps"},
    COMMON_OPTS("20", "weights (default fp32)"),
    {"--kv-dtype", "auto|fp32|bf16", CLI_ARG_CUSTOM, 0, F(kv_dtype), .custom = &cli_kv_dtype_arg,
     .help = CLI_KV_DTYPE_HELP},
};
static const cli_opt train_options[] = {
    MODEL_OPT,
    {"--batch", "B", CLI_ARG_INT, CLI_REQUIRED, F(batch), .imin = 1, .imax = 1 << 20,
     .help = "sequences per step"},
    {"--seq", "T", CLI_ARG_INT, CLI_REQUIRED, F(seq), .imin = 1, .imax = 1 << 20,
     .help = "tokens per sequence"},
    COMMON_OPTS("5", "fp32 only: training runs in fp32"),
};
#undef COMMON_OPTS
#undef MODEL_OPT
#undef F

const cli_spec cmd_bench_forward_spec = {"bench forward", NULL, NULL, CLI_OPTS(forward_options)};
const cli_spec cmd_bench_decode_spec = {"bench decode", NULL, NULL, CLI_OPTS(decode_options)};
const cli_spec cmd_bench_train_spec = {"bench train", NULL, NULL, CLI_OPTS(train_options)};

/* A model folder, or random weights for a named config. */
static int bench_model(const char *spec, tril_dtype dtype, int kv, tril_gpt2 **m)
{
    int rc = CLI_OK;
    tril_gpt2_config cfg;
    if (tril_gpt2_config_by_name(spec, &cfg) == TRIL_OK) {
        if (tril_gpt2_create_random(&cfg, 1, dtype, m) != TRIL_OK || tril_gpt2_use_amx(*m) != TRIL_OK)
            rc = cli_lib_error(CMD, "cannot create the model");
    } else {
        tril_gpt2_load_opts opts = {.weight_dtype = dtype, .amx = 1};
        if (tril_gpt2_load(spec, &opts, m) != TRIL_OK) return cli_lib_error(CMD, "cannot load the model");
    }
    if (rc == CLI_OK && tril_gpt2_set_kv_dtype(*m, cli_kv_dtype(kv, dtype)) != TRIL_OK)
        rc = cli_lib_error(CMD, "cannot set the KV cache's dtype");
    return rc;
}

/* Threads, then the model, then whether `positions` fit its context. */
static int open_bench(model_opts *o, const char *what, int64_t positions, tril_gpt2 **m)
{
    const double t0 = tril_now();
    int rc = bench_model(o->model, o->dtype, o->kv_dtype, m);
    o->load_s = tril_now() - t0;
    if (rc != CLI_OK) return rc;
    const int64_t P = tril_gpt2_get_config(*m)->n_positions;
    if (positions > P) {
        fprintf(stderr, "tril bench %s: %lld positions exceed the model's context (%lld)\n", what,
                (long long)positions, (long long)P);
        tril_gpt2_free(*m);
        *m = NULL;
        return CLI_USAGE;
    }
    model_ready(o);
    return CLI_OK;
}

/* Fixed ids (a fixed seed): runs time the same work. */
static void random_ids(int32_t *ids, int64_t n, int64_t vocab)
{
    tril_rng rng;
    tril_rng_seed(&rng, 88172645463325252ull);
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)tril_rng_below(&rng, (uint64_t)vocab);
}

/* What forward and decode both time: the model, a state, random ids and
 * room for logits. */
typedef struct {
    tril_gpt2 *m;
    tril_gpt2_state *s;
    int32_t *ids;  // [n_ids]
    float *logits; // [logit_rows, V]
} infer_run;

static void close_infer(infer_run *r)
{
    tril_gpt2_state_free(r->s);
    free(r->ids);
    free(r->logits);
    tril_gpt2_free(r->m);
}

/* The model, then a state for `positions` tokens taking up to max_batch per
 * call, n_ids random ids and logit_rows rows of logits. */
static int open_infer(model_opts *o, const char *what, int64_t positions, int64_t max_batch,
                      int64_t n_ids, int64_t logit_rows, infer_run *r)
{
    memset(r, 0, sizeof *r);
    int rc = open_bench(o, what, positions, &r->m);
    if (rc != CLI_OK) return rc;
    const int64_t V = tril_gpt2_get_config(r->m)->vocab_size;
    r->ids = malloc((size_t)n_ids * sizeof *r->ids);
    r->logits = malloc((size_t)(logit_rows * V) * sizeof *r->logits);
    if (!r->ids || !r->logits || tril_gpt2_state_create(r->m, positions, max_batch, &r->s) != TRIL_OK) {
        close_infer(r);
        return cli_lib_error(CMD, "out of memory");
    }
    random_ids(r->ids, n_ids, V);
    return CLI_OK;
}

int cmd_bench_forward(int argc, char **argv)
{
    model_opts o = {.repeats = 3, .dtype = TRIL_F32};
    int rc = cli_parse(&cmd_bench_forward_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    infer_run run;
    if ((rc = open_infer(&o, "forward", o.tokens, o.tokens, o.tokens, o.tokens, &run)) != CLI_OK)
        return rc;
    tril_gpt2 *m = run.m;
    const tril_gpt2_config *c = tril_gpt2_get_config(m);
    double times[1000];
    for (int64_t r = -1; r < o.repeats; r++) { /* r = -1: warm-up */
        tril_gpt2_state_reset(run.s);
        double t0 = tril_now();
        if (tril_gpt2_forward(m, run.s, run.ids, o.tokens, NULL, run.logits) != TRIL_OK) {
            rc = cli_lib_error(CMD, "forward failed");
            goto done;
        }
        if (r >= 0) times[r] = tril_now() - t0;
    }
    double ms = tril_median(times, (int)o.repeats) * 1e3;
    const double T = (double)o.tokens;
    double flops = 2.0 * (double)tril_gpt2_num_params(c) * T - 2.0 * (double)c->n_positions * c->n_embd * T +
                   2.0 * (double)c->n_layer * T * T * c->n_embd; /* matmuls + causal attention */
    double rss_mb = tril_peak_rss_bytes() / 1048576.0;
    double limit = tril_cpu_peak_gflops(0.5);
    printf("bench=forward model=%s tokens=%lld threads=%d ms=%.1f gflops=%.1f limit_gflops=%.1f "
           "of_limit=%.3f peak_rss_mb=%.1f load_peak_rss_mb=%.1f\n",
           o.model, (long long)o.tokens, tril_get_num_threads(), ms, flops / ms * 1e-6, limit,
           flops / ms * 1e-6 / limit, rss_mb, o.load_peak_mb);
done:
    close_infer(&run);
    return rc;
}

/* Bytes of weights one decoded token reads: each tensor in the dtype the
 * model holds it in (int8: plus a 4-byte scale per 32), wpe's one row. */
static double token_weight_bytes(const tril_gpt2 *m)
{
    size_t count;
    const tril_param_info *p = tril_gpt2_get_params(m, &count);
    double bytes = 0.0;
    for (size_t i = 0; i < count; i++) {
        tril_gpt2_tensor t;
        if (tril_gpt2_find_param(m, p[i].name, &t) != TRIL_OK) continue;
        const double n = strcmp(p[i].name, "wpe.weight") == 0 ? (double)p[i].shape[1] : (double)p[i].numel;
        bytes += n * (double)tril_dtype_size(t.dtype) + (t.scales ? n / TRIL_Q8_BLOCK * 2.0 : 0.0);
    }
    return bytes;
}

/* The cache emptied and refilled with the first `position` ids. */
static int refill(const model_opts *o, infer_run *run)
{
    tril_gpt2_state_reset(run->s);
    if (o->position > 0 &&
        tril_gpt2_forward(run->m, run->s, run->ids, o->position, run->logits, NULL) != TRIL_OK)
        return cli_lib_error(CMD, "prefill failed");
    return CLI_OK;
}

/* Decoding step r after the prefill (the id at position + r); its seconds
 * into *seconds. */
static int timed_token(const model_opts *o, infer_run *run, int64_t r, double *seconds)
{
    const double t0 = tril_now();
    if (tril_gpt2_forward(run->m, run->s, run->ids + o->position + r, 1, run->logits, NULL) != TRIL_OK)
        return cli_lib_error(CMD, "decode failed");
    *seconds = tril_now() - t0;
    return CLI_OK;
}

int cmd_bench_decode(int argc, char **argv)
{
    model_opts o = {.repeats = 20, .dtype = TRIL_F32};
    int rc = cli_parse(&cmd_bench_decode_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    const int64_t steps = o.repeats + 1;
    const int64_t prefill = o.position > 0 ? o.position : 1;
    infer_run run;
    if ((rc = open_infer(&o, "decode", o.position + steps, prefill, o.position + steps, 1, &run)) !=
        CLI_OK)
        return rc;
    tril_gpt2 *m = run.m;
    const tril_gpt2_config *c = tril_gpt2_get_config(m);
    const tril_dtype dtype = tril_gpt2_get_weight_dtype(m);
    if ((rc = refill(&o, &run)) != CLI_OK) goto done;
    /* what one token reads: every weight once (in the dtype the model
     * holds it in) but wpe's one row, and the keys and values cached so far
     * (in the cache's dtype) */
    const tril_dtype kv = tril_gpt2_get_kv_dtype(m);
    const double bytes = token_weight_bytes(m) + 2.0 * (double)c->n_layer * (double)(o.position + 1) *
                                                     (double)c->n_embd * (double)tril_dtype_size(kv);
    /* Each token is followed by a measurement of the streaming limit, so
     * the two share the minute's conditions (a shared machine's bandwidth
     * drifts by a third within minutes). The token's weights are then never
     * left in the last-level cache by the token before. */
    double times[1001], limits[1001], ratios[1001], rss_mb = 0.0;
    tril_stream_probe *probe = NULL;
    for (int64_t r = 0; r < steps; r++) { /* step 0 is the warm-up */
        if ((rc = timed_token(&o, &run, r, &times[r])) != CLI_OK) goto done;
        if (r == 0) { /* the warm-up: no limit to pair it with */
            rss_mb = tril_peak_rss_bytes() / 1048576.0; /* before the probe's 256 MiB */
            if (tril_stream_probe_create(&probe) != TRIL_OK) {
                rc = cli_lib_error(CMD, "cannot measure the streaming limit");
                goto done;
            }
            continue;
        }
        limits[r] = tril_stream_probe_run(probe);
        ratios[r] = bytes / times[r] * 1e-9 / limits[r];
    }
    double ms = tril_median(times + 1, (int)o.repeats) * 1e3, limit = 0.0;
    for (int64_t r = 1; r < steps; r++) limit = limits[r] > limit ? limits[r] : limit;
    /* Then tokens back to back, as generation runs them: a model that
     * nearly fits the last-level cache finds part of its weights still
     * there from the token before (so these can pass the limit). The same
     * positions again, from the same prefill. */
    double b2b[1001];
    if ((rc = refill(&o, &run)) != CLI_OK) goto done;
    for (int64_t r = 0; r < steps; r++) /* step 0 is the warm-up */
        if ((rc = timed_token(&o, &run, r, &b2b[r])) != CLI_OK) goto done;
    const double b2b_ms = tril_median(b2b + 1, (int)o.repeats) * 1e3;
    if (printf("bench=decode model=%s dtype=%s kv_dtype=%s position=%lld threads=%d ms_per_token=%.2f "
               "gbps=%.1f limit_gbps=%.1f of_limit=%.3f paired_limit_gbps=%.1f paired_of_limit=%.3f "
               "b2b_ms_per_token=%.2f b2b_gbps=%.1f peak_rss_mb=%.1f load_peak_rss_mb=%.1f "
               "load_s=%.2f\n",
               o.model, tril_dtype_name(dtype), tril_dtype_name(kv), (long long)o.position,
               tril_get_num_threads(), ms,
               bytes / ms * 1e-6, limit, bytes / ms * 1e-6 / limit,
               tril_median(limits + 1, (int)o.repeats), tril_median(ratios + 1, (int)o.repeats),
               b2b_ms, bytes / b2b_ms * 1e-6, rss_mb, o.load_peak_mb, o.load_s) < 0)
        rc = cli_lib_error(CMD, "cannot write the result");
done:
    tril_stream_probe_free(probe);
    close_infer(&run);
    return rc;
}

int cmd_bench_train(int argc, char **argv)
{
    model_opts o = {.repeats = 5, .dtype = TRIL_F32};
    int rc = cli_parse(&cmd_bench_train_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    if (o.dtype != TRIL_F32) { /* before loading anything */
        fprintf(stderr, "tril bench train: training runs in fp32 (no --dtype bf16)\n");
        return CLI_USAGE;
    }
    tril_gpt2 *m;
    if ((rc = open_bench(&o, "train", o.seq, &m)) != CLI_OK) return rc;
    if (tril_gpt2_get_storage(m) != TRIL_GPT2_ARENA) { /* mapped in place, read-only: train a copy */
        tril_gpt2 *copy;
        tril_gpt2_load_opts opts = {.copy_to_arena = 1, .weight_dtype = TRIL_F32};
        tril_gpt2_free(m);
        if (tril_gpt2_load(o.model, &opts, &copy) != TRIL_OK) return cli_lib_error(CMD, "cannot load");
        m = copy;
        model_ready(&o);
    }
    const tril_gpt2_config *c = tril_gpt2_get_config(m);
    const int64_t B = o.batch, T = o.seq, N = B * T;
    tril_trainer *t = NULL;
    tril_adamw opt = {0};
    float *params = NULL, *grads = NULL;
    int64_t n_params = 0;
    size_t n_table;
    const tril_param_info *table = tril_gpt2_get_params(m, &n_table);
    int32_t *ids = malloc((size_t)(N + 1) * sizeof *ids);
    if (tril_gpt2_get_arena(m, &params, &n_params) == TRIL_OK)
        grads = calloc((size_t)n_params, sizeof *grads);
    if (!ids || !grads || tril_trainer_create(m, B, T, 1, &t) != TRIL_OK ||
        tril_adamw_create(n_params, &opt) != TRIL_OK) {
        rc = cli_lib_error(CMD, "cannot set up training");
        goto done;
    }
    random_ids(ids, N + 1, c->vocab_size);
    tril_adamw_config ac = tril_adamw_config_default();
    double times[1001];
    for (int64_t r = -1; r < o.repeats; r++) { /* r = -1: warm-up */
        double t0 = tril_now();
        float loss;
        memset(grads, 0, (size_t)n_params * sizeof *grads);
        if (tril_trainer_forward(t, ids, ids + 1, B, T, &loss) != TRIL_OK ||
            tril_trainer_backward(t, grads, 1.0f) != TRIL_OK) {
            rc = cli_lib_error(CMD, "training step failed");
            goto done;
        }
        tril_adamw_step_clipped(&opt, &ac, params, grads, table, n_table, 1e-4f, 1.0f);
        if (r >= 0) times[r] = tril_now() - t0;
    }
    double ms = tril_median(times, (int)o.repeats) * 1e3;
    double flops = 6.0 * (double)tril_gpt2_num_params(c) * N +
                   3.0 * 2.0 * (double)c->n_layer * B * (double)T * T * c->n_embd;
    double rss_mb = tril_peak_rss_bytes() / 1048576.0;
    double limit = tril_cpu_peak_gflops(0.5);
    printf("bench=train model=%s batch=%lld seq=%lld threads=%d ms_per_step=%.1f tokens_per_s=%.0f "
           "gflops=%.1f limit_gflops=%.1f of_limit=%.3f peak_rss_mb=%.1f load_peak_rss_mb=%.1f\n",
           o.model, (long long)B, (long long)T, tril_get_num_threads(), ms, N / ms * 1e3,
           flops / ms * 1e-6, limit, flops / ms * 1e-6 / limit, rss_mb, o.load_peak_mb);
done:
    tril_adamw_free(&opt);
    tril_trainer_free(t);
    free(grads);
    free(ids);
    tril_gpt2_free(m);
    return rc;
}

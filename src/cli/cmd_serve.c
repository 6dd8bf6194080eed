/* tril serve: an OpenAI-compatible HTTP server over the engine (continuous
 * batching). This file: the options, start-up, the signal wait and the
 * drain; serve_http.c is the HTTP side, serve_engine.c the engine thread,
 * serve_api.c the JSON, docs/SERVING.md the whole story. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/serve.h"
#include "tril/cpu.h"

#define CMD "serve"

#define F(field) CLI_FIELD(serve_opts, field)
static const cli_opt options[] = {
    {"--model", "DIR", CLI_ARG_PATH, 0, F(model),
     .help = "Hugging Face GPT-2 folder; default: the bundled model"},
    {"--dtype", "fp32|bf16|int8", CLI_ARG_CUSTOM, 0, F(dtype), .custom = &cli_weight_dtype_arg,
     .help = "weights: bf16 halves what each step reads (default fp32)"},
    {"--kv-dtype", "auto|fp32|bf16", CLI_ARG_CUSTOM, 0, F(kv_dtype), .custom = &cli_kv_dtype_arg,
     .help = CLI_KV_DTYPE_HELP},
    {"--threads", "N", CLI_ARG_CUSTOM, 0, F(threads), .custom = &cli_threads_arg,
     .help = "compute threads of the engine (default: $TRIL_NUM_THREADS,\nelse all cores)"},
    {"--host", "ADDR", CLI_ARG_STRING, 0, F(host), .section = "network",
     .help = "address to listen on (default 127.0.0.1: this machine only;\n"
             "0.0.0.0 or :: for every interface)"},
    {"--port", "N", CLI_ARG_INT, 0, F(port), .imin = 0, .imax = 65535,
     .help = "TCP port (default 8080; 0: a free one, printed at start)"},
    {"--api-key", "KEY", CLI_ARG_STRING, 0, F(api_key),
     .help = "require 'Authorization: Bearer KEY' (401 otherwise) on every\n"
             "endpoint but /health"},
    {"--max-connections", "N", CLI_ARG_INT, 0, F(max_connections), .imin = 1, .imax = 4096,
     .help = "connections served at once, one thread each (default 64);\n"
             "more wait in the listen backlog"},
    {"--max-body-kb", "N", CLI_ARG_INT, 0, F(max_body_kb), .imin = 1, .imax = 1 << 20,
     .help = "largest request body, in KB (default 1024): 413 beyond"},
    {"--read-timeout", "S", CLI_ARG_INT, 0, F(read_timeout_s), .imin = 1, .imax = 3600,
     .help = "a request's headers and body must arrive within S seconds\n"
             "(and an idle connection is closed after S) (default 10)"},
    {"--slots", "N", CLI_ARG_INT, 0, F(slots), .imin = 1, .imax = 4096, .section = "engine",
     .help = "sequences generated at once (default 8)"},
    {"--prefill-chunk", "N", CLI_ARG_INT, 0, F(prefill_chunk), .imin = 1, .imax = 1 << 20,
     .help = "prompt tokens per sequence per step (default 256), so\n"
             "long prompts do not stall running streams"},
    {"--kv-memory", "MB", CLI_ARG_INT, 0, F(kv_memory_mb), .imin = 0, .imax = 1 << 24,
     .help = "KV cache pool in MB; 0: enough for every slot at full\n"
             "context (default 0); requests wait while it is full"},
    {"--kv-block-tokens", "N", CLI_ARG_INT, 0, F(kv_block_tokens), .imin = 1, .imax = 256,
     .help = "tokens per KV cache block (default 16)"},
    {"--max-queue", "N", CLI_ARG_INT, 0, F(max_queue), .imin = 0, .imax = 1 << 20,
     .help = "completions waiting for a slot (default 64); beyond: 429\n"
             "(0: none wait, only free slots take new ones)"},
    {"--timeout", "S", CLI_ARG_INT, 0, F(timeout_s), .imin = 0, .imax = INT32_MAX,
     .help = "a completion ends after S seconds, queue included, with\n"
             "finish_reason \"length\" (default 600; 0: never)"},
    {"--shutdown-timeout", "S", CLI_ARG_INT, 0, F(shutdown_timeout_s), .imin = 0, .imax = 3600,
     .help = "on SIGTERM/SIGINT, let running completions finish for up\n"
             "to S seconds, then end them (default 10)"},
};
#undef F

const cli_spec cmd_serve_spec = {
    CMD,
    "usage: tril serve [--model DIR] [--host ADDR] [--port N] [--slots N] [--threads N]\n"
    "                  [--dtype fp32|bf16|int8] [--kv-dtype auto|fp32|bf16] [--api-key KEY] [--prefill-chunk N]\n"
    "                  [--kv-memory MB] [--max-queue N] [--timeout S] [options]\n\n"
    "Serves the model over HTTP with OpenAI's completions API: POST /v1/completions\n"
    "(streaming as server-sent events), GET /v1/models, GET /health, GET /metrics\n"
    "(Prometheus), POST /tokenize, POST /detokenize. Requests are batched\n"
    "continuously: new ones join between steps, and each one's tokens are those\n"
    "'tril generate' gives alone with the same parameters.\n",
    "SIGTERM or SIGINT stops accepting, lets running completions finish (see\n"
    "--shutdown-timeout) and exits 0. docs/SERVING.md describes the API.\n",
    CLI_OPTS(options),
};

/* The model's name in the API: the folder's last component. */
static void model_name(const char *arg, char *out, size_t size)
{
    char dir[PATH_MAX];
    if (cli_model_dir(arg, dir, sizeof dir) != TRIL_OK) snprintf(dir, sizeof dir, "model");
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = '\0';
    const char *base = strrchr(dir, '/');
    snprintf(out, size, "%s", base && base[1] ? base + 1 : dir);
}

static int wait_signal(const sigset_t *set, long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    const int sig = sigtimedwait(set, NULL, &t);
    return sig > 0 ? sig : 0;
}

static int64_t live_count(srv *s)
{
    pthread_mutex_lock(&s->lock);
    const int64_t n = s->live;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Stops accepting, lets what runs finish until the deadline, then cancels
 * the rest and waits for the engine thread to end them. */
static void drain(srv *s, const sigset_t *set)
{
    pthread_mutex_lock(&s->lock);
    s->draining = 1;
    pthread_mutex_unlock(&s->lock);
    serve_http_quiesce(s);
    const double deadline = serve_now() + (double)s->o.shutdown_timeout_s;
    int cancelled = 0;
    double give_up = 0;
    for (;;) {
        const int64_t live = live_count(s);
        if (live == 0) break;
        const double now = serve_now();
        if (!cancelled && now >= deadline) {
            fprintf(stderr, "tril serve: ending %lld unfinished completion(s)\n", (long long)live);
            pthread_mutex_lock(&s->lock);
            s->cancel_all = 1;
            pthread_cond_signal(&s->inbox_cv);
            pthread_mutex_unlock(&s->lock);
            cancelled = 1;
            give_up = now + 30; /* one step ends them; a step is not that long */
        }
        if (cancelled && now >= give_up) break;
        if (wait_signal(set, 50) && !cancelled) {
            fprintf(stderr, "tril serve: second signal: ending what runs now\n");
            pthread_mutex_lock(&s->lock);
            s->cancel_all = 1;
            pthread_cond_signal(&s->inbox_cv);
            pthread_mutex_unlock(&s->lock);
            cancelled = 1;
            give_up = serve_now() + 30;
        }
        serve_http_watchdog(s);
    }
}

int cmd_serve(int argc, char **argv)
{
    serve_opts o = {.host = "127.0.0.1", .port = 8080, .slots = 8, .prefill_chunk = 256,
                    .kv_memory_mb = 0, .kv_block_tokens = 16, .max_queue = 64, .timeout_s = 600,
                    .max_connections = 64, .max_body_kb = 1024, .read_timeout_s = 10,
                    .shutdown_timeout_s = 10, .dtype = TRIL_F32};
    int rc = cli_parse(&cmd_serve_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    if (o.api_key && !o.api_key[0]) {
        fprintf(stderr, "tril serve: --api-key must not be empty\n");
        return CLI_USAGE;
    }
    if (!o.host[0]) {
        fprintf(stderr, "tril serve: --host must not be empty\n");
        return CLI_USAGE;
    }
    srv *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "tril serve: out of memory\n");
        return CLI_FAIL;
    }
    s->o = o;
    s->compute_threads = tril_get_num_threads();
    s->started = (int64_t)time(NULL);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->inbox_cv, NULL);
    pthread_mutex_init(&s->tok_lock, NULL);
    pthread_mutex_init(&s->conn_lock, NULL);
    pthread_cond_init(&s->conn_cv, NULL);
    s->listen_fd = -1;
    serve_metrics_init(&s->metrics, o.slots);
    model_name(o.model, s->model_name, sizeof s->model_name);

    /* Signals are taken by sigtimedwait in this thread alone: blocked here
     * before any thread starts, so every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[256];
    pthread_t engine_thread;
    int engine_started = 0;
    rc = CLI_FAIL;
    if (serve_http_start(s, err, sizeof err)) {
        fprintf(stderr, "tril serve: %s\n", err);
        goto done;
    }
    const int v6 = strchr(o.host, ':') != NULL;
    fprintf(stderr, "tril serve: listening on http://%s%s%s:%u (loading the model)\n", v6 ? "[" : "",
            o.host, v6 ? "]" : "", serve_http_port(s));

    if (cli_load_model_as(CMD, o.model, o.dtype, o.kv_dtype, &s->model, &s->tok) != CLI_OK) goto done;
    const tril_gpt2_config *mc = tril_gpt2_get_config(s->model);
    s->n_ctx = mc->n_positions;
    s->vocab = tril_tokenizer_vocab_size(s->tok) < mc->vocab_size ? tril_tokenizer_vocab_size(s->tok)
                                                                   : mc->vocab_size;
    s->eot = tril_tokenizer_eot(s->tok);
    tril_engine_config ec = tril_engine_config_default();
    ec.slots = o.slots;
    ec.prefill_chunk = o.prefill_chunk;
    ec.kv_block_tokens = o.kv_block_tokens;
    ec.kv_memory_bytes = o.kv_memory_mb << 20;
    /* The engine's queue also holds what its next step admits into free
     * slots; who may wait beyond those is counted at submission. */
    ec.max_queue = o.max_queue + o.slots;
    if (tril_engine_create(s->model, &ec, &s->engine) != TRIL_OK) {
        cli_lib_error(CMD, "cannot start the engine");
        goto done;
    }
    tril_engine_stats pool; /* before the engine thread: nothing else touches it yet */
    tril_engine_get_stats(s->engine, &pool);
    if (pthread_create(&engine_thread, NULL, serve_engine_main, s) != 0) {
        fprintf(stderr, "tril serve: cannot start the engine thread\n");
        goto done;
    }
    engine_started = 1;
    pthread_mutex_lock(&s->lock);
    s->ready = 1;
    pthread_mutex_unlock(&s->lock);
    fprintf(stderr,
            "tril serve: ready: model %s (context %lld), %lld slots, %d compute threads, "
            "weights %s, KV cache %s (%lld tokens)\n",
            s->model_name, (long long)s->n_ctx, (long long)o.slots, s->compute_threads,
            tril_dtype_name(tril_gpt2_get_weight_dtype(s->model)),
            tril_dtype_name(tril_gpt2_get_kv_dtype(s->model)),
            (long long)(pool.kv_blocks_total * pool.kv_block_tokens));

    int sig = 0, fatal = 0;
    while (!sig && !fatal) {
        sig = wait_signal(&set, 200);
        serve_http_watchdog(s);
        pthread_mutex_lock(&s->lock);
        fatal = s->fatal;
        pthread_mutex_unlock(&s->lock);
    }
    if (sig)
        fprintf(stderr, "tril serve: %s: finishing running completions (up to %lld s)\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)o.shutdown_timeout_s);
    drain(s, &set);
    rc = fatal ? CLI_FAIL : CLI_OK;

done:
    if (engine_started) {
        pthread_mutex_lock(&s->lock);
        s->stop_engine = 1;
        pthread_cond_signal(&s->inbox_cv);
        pthread_mutex_unlock(&s->lock);
        pthread_join(engine_thread, NULL);
    }
    serve_http_stop(s); /* waits for the connection threads */
    tril_engine_free(s->engine);
    tril_tokenizer_free(s->tok);
    tril_gpt2_free(s->model);
    serve_metrics_destroy(&s->metrics);
    pthread_cond_destroy(&s->conn_cv);
    pthread_mutex_destroy(&s->conn_lock);
    pthread_mutex_destroy(&s->tok_lock);
    pthread_cond_destroy(&s->inbox_cv);
    pthread_mutex_destroy(&s->lock);
    free(s);
    if (rc == CLI_OK) fprintf(stderr, "tril serve: stopped\n");
    return rc;
}

/* tril serve: counters and histograms, and their Prometheus text (/metrics). */
#include <string.h>

#include "cli/serve.h"

static void hist_init(serve_hist *h, const double *bounds, int n)
{
    memset(h, 0, sizeof *h);
    h->n = n;
    memcpy(h->bounds, bounds, (size_t)n * sizeof *bounds);
}

void serve_metrics_init(serve_metrics *m, int64_t slots)
{
    static const double ttft[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    static const double itl[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
    static const double rows[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    hist_init(&m->ttft, ttft, (int)(sizeof ttft / sizeof ttft[0]));
    hist_init(&m->itl, itl, (int)(sizeof itl / sizeof itl[0]));
    hist_init(&m->rows, rows, (int)(sizeof rows / sizeof rows[0]));
    m->slots = slots;
}

void serve_metrics_destroy(serve_metrics *m) { pthread_mutex_destroy(&m->lock); }

void serve_metrics_response(serve_metrics *m, unsigned code)
{
    pthread_mutex_lock(&m->lock);
    m->by_code[code < 600 ? code : 0]++;
    pthread_mutex_unlock(&m->lock);
}

void serve_hist_observe(serve_hist *h, double v)
{
    int i = 0;
    while (i < h->n && v > h->bounds[i]) i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

static void hist_render(sbuf *o, const char *name, const char *help, const serve_hist *h)
{
    sbuf_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < h->n; i++) {
        cum += h->counts[i];
        sbuf_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cum);
    }
    cum += h->counts[h->n];
    sbuf_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    sbuf_printf(o, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

static void gauge(sbuf *o, const char *name, const char *help, long long v)
{
    sbuf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, v);
}

static void counter(sbuf *o, const char *name, const char *help, unsigned long long v)
{
    sbuf_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

int serve_metrics_render(serve_metrics *m, sbuf *o)
{
    pthread_mutex_lock(&m->lock);
    sbuf_addstr(o, "# HELP tril_http_requests_total HTTP responses by status code.\n"
                   "# TYPE tril_http_requests_total counter\n");
    for (unsigned c = 100; c < 600; c++)
        if (m->by_code[c])
            sbuf_printf(o, "tril_http_requests_total{code=\"%u\"} %llu\n", c,
                        (unsigned long long)m->by_code[c]);
    counter(o, "tril_prompt_tokens_total", "Prompt tokens of the completions served.",
            (unsigned long long)m->prompt_tokens);
    counter(o, "tril_generation_tokens_total", "Tokens generated.",
            (unsigned long long)m->generated_tokens);
    static const char *const reasons[4] = {"stop", "length", "cancelled", "error"};
    sbuf_addstr(o, "# HELP tril_requests_finished_total Completions ended, by how.\n"
                   "# TYPE tril_requests_finished_total counter\n");
    for (int i = 0; i < 4; i++)
        sbuf_printf(o, "tril_requests_finished_total{reason=\"%s\"} %llu\n", reasons[i],
                    (unsigned long long)m->finished[i]);
    gauge(o, "tril_queue_depth", "Completions waiting for a slot (the server's inbox included).",
          (long long)(m->engine.queued + m->inbox));
    gauge(o, "tril_active_slots", "Sequences in a slot.", (long long)m->engine.active);
    gauge(o, "tril_slots", "Sequence slots (--slots).", (long long)m->slots);
    gauge(o, "tril_kv_blocks_used", "KV cache blocks held by sequences.",
          (long long)m->engine.kv_blocks_used);
    gauge(o, "tril_kv_blocks_total", "KV cache blocks in the pool.",
          (long long)m->engine.kv_blocks_total);
    gauge(o, "tril_kv_block_tokens", "Tokens per KV cache block.",
          (long long)m->engine.kv_block_tokens);
    counter(o, "tril_engine_steps_total", "Engine steps run.", (unsigned long long)m->engine.steps);
    hist_render(o, "tril_batch_rows", "Rows (tokens) run by one engine step.", &m->rows);
    hist_render(o, "tril_time_to_first_token_seconds",
                "From a completion's arrival to its first generated token.", &m->ttft);
    hist_render(o, "tril_inter_token_latency_seconds", "Between consecutive generated tokens.",
                &m->itl);
    pthread_mutex_unlock(&m->lock);
    return o->failed ? -1 : 0;
}

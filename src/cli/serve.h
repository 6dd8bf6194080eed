/* tril serve: the private pieces of the HTTP front end (docs/SERVING.md).
 *
 * Threads:
 *  - main (cmd_serve.c): starts libmicrohttpd, loads the model, then waits
 *    for SIGINT/SIGTERM while it watches the connections still reading
 *    their request (the read deadline); on a signal it drains and stops.
 *  - one thread per connection (libmicrohttpd's): parses, validates,
 *    queues a request into the inbox and streams its output. Never touches
 *    the engine or the model.
 *  - the engine thread (serve_engine.c): owns the engine (and through it
 *    the model and the compute threads). Takes requests and cancellations
 *    from the inbox between steps, runs tril_engine_step and turns its
 *    events into each request's text, then wakes the connection threads.
 *
 * One mutex (srv.lock) guards the inbox and every request's shared state;
 * each request has its own condition variable. */
#ifndef TRIL_CLI_SERVE_H
#define TRIL_CLI_SERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "tril/dtype.h"
#include "tril/engine.h"
#include "tril/gpt2.h"
#include "tril/tokenizer.h"

/* ---- options ------------------------------------------------------------- */

typedef struct {
    const char *model, *host, *api_key;
    int64_t port, slots, prefill_chunk, kv_memory_mb, kv_block_tokens, max_queue;
    int64_t timeout_s, max_connections, max_body_kb, read_timeout_s, shutdown_timeout_s;
    int threads;
    tril_dtype dtype;
    int kv_dtype;
} serve_opts;

/* ---- small helpers (serve_util.c) ----------------------------------------- */

/* A growable byte buffer; `failed` sticks after an allocation failure. */
typedef struct {
    char *p;
    size_t n, cap;
    int failed;
} sbuf;

int sbuf_add(sbuf *b, const void *data, size_t len); /* 0, or -1 (failed set) */
int sbuf_addstr(sbuf *b, const char *s);
int sbuf_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void sbuf_free(sbuf *b);

/* A value no other call of this process shares (k: a per-call counter)
 * and unlikely to repeat across runs: the clock and k through splitmix64.
 * For request ids and the seed of a request that gives none. */
uint64_t serve_unique_u64(uint64_t k);

/* Monotonic seconds. */
double serve_now(void);

/* Appends the valid UTF-8 of in[0..len) to out, each invalid byte as U+FFFD.
 * An incomplete sequence at the end is left for later unless `final`.
 * Returns the number of bytes of `in` consumed. */
size_t serve_utf8_take(const char *in, size_t len, int final, sbuf *out);
/* 1 if in[0..len) is valid UTF-8 without NUL bytes. */
int serve_utf8_valid(const char *in, size_t len);

/* Compares two strings in time that depends only on their lengths. */
int serve_secret_equal(const char *a, const char *b);

/* ---- metrics (serve_metrics.c) --------------------------------------------- */

#define SERVE_HIST_MAX 16
typedef struct {
    int n;                          /* bounds */
    double bounds[SERVE_HIST_MAX];  /* upper bounds, increasing */
    uint64_t counts[SERVE_HIST_MAX + 1];
    double sum;
    uint64_t count;
} serve_hist;

typedef struct {
    pthread_mutex_t lock;
    uint64_t by_code[600];          /* HTTP responses by status code */
    uint64_t prompt_tokens, generated_tokens;
    uint64_t finished[4];           /* stop, length, cancelled, error */
    serve_hist ttft, itl, rows;
    tril_engine_stats engine;       /* the engine thread's latest copy */
    int64_t inbox;                  /* waiting for the engine thread */
    int64_t slots;
} serve_metrics;

void serve_metrics_init(serve_metrics *m, int64_t slots);
void serve_metrics_destroy(serve_metrics *m);
void serve_metrics_response(serve_metrics *m, unsigned code);
void serve_hist_observe(serve_hist *h, double v); /* caller holds m->lock */
/* The Prometheus text exposition of everything; -1 if out of memory. */
int serve_metrics_render(serve_metrics *m, sbuf *out);

/* ---- requests --------------------------------------------------------------- */

#define SERVE_MAX_STOP 4

/* A completion request as parsed from its JSON (serve_api.c). */
typedef struct {
    int32_t *prompt; /* malloc'd ids */
    int64_t n_prompt;
    int64_t max_tokens;
    tril_sampler_config sampling;
    char *stop[SERVE_MAX_STOP];
    size_t stop_len[SERVE_MAX_STOP];
    int n_stop;
    int stream, echo, include_usage, return_token_ids;
    int logprobs; /* -1: none; else top-N, 0..TRIL_ENGINE_MAX_LOGPROBS */
} serve_params;

void serve_params_free(serve_params *p);

/* One generated token, for logprobs. */
typedef struct {
    int32_t id;
    float logprob;
    size_t text_offset; /* in the completion text */
    size_t top;         /* index of its n_top entries in the request's top arrays */
} serve_token;

typedef enum { REQ_PENDING = 0, REQ_RUNNING, REQ_DONE } serve_req_state;
typedef enum { FIN_LENGTH = 0, FIN_STOP } serve_finish;

typedef struct serve_req serve_req;
struct serve_req {
    /* fixed once queued */
    struct srv *s;
    serve_params p;
    char id[48];
    int64_t created;
    double t_arrival;
    char *prompt_text; /* the prompt as text (echo), valid UTF-8 */
    size_t prompt_text_len;

    /* under s->lock */
    int refs;
    int queued;          /* counted in s->live until its last release */
    serve_req_state state;
    int http_status;     /* != 0: refused or failed with this status */
    char err_msg[256];
    const char *err_type, *err_code;
    int abandoned;       /* the client went away */
    sbuf text;           /* generated text, valid UTF-8 */
    size_t visible;      /* how much of it may be shown (stop strings held back) */
    serve_token *toks;
    size_t n_toks, cap_toks;
    int32_t *top_ids;
    float *top_lps;
    size_t n_tops, cap_tops;
    serve_finish finish;
    int64_t prompt_tokens, completion_tokens;
    pthread_cond_t cv;
    serve_req *next_inbox;

    /* the engine thread's */
    uint64_t eid;
    int cancel_sent, stop_hit, timed_out;
    double deadline;      /* 0: none */
    sbuf raw;             /* generated bytes not yet turned into text */
    double t_last;        /* when the last token came */
    serve_req *live_prev, *live_next;
};

/* ---- the server ---------------------------------------------------------------- */

typedef struct srv {
    serve_opts o;
    /* set before the HTTP side sees them as ready (under lock: ready) */
    tril_gpt2 *model;
    tril_tokenizer *tok;
    tril_engine *engine;
    char model_name[128];
    int64_t n_ctx, vocab;
    int32_t eot;
    int64_t started; /* wall-clock seconds */
    int compute_threads;

    pthread_mutex_t lock;
    pthread_cond_t inbox_cv;
    serve_req *inbox_head, *inbox_tail;
    int64_t inbox_len;
    int64_t live;          /* requests queued, running, or with a response
                              still being sent: until both the engine thread
                              and the HTTP side have released them (a drain
                              that stopped at the engine's end cut streams
                              before their last events) */
    int ready;             /* model loaded, engine running */
    int draining;          /* SIGTERM: refuse new work */
    int cancel_all;        /* the drain deadline passed */
    int stop_engine;       /* the engine thread should return */
    int fatal;             /* the engine failed */
    uint64_t seq;          /* for ids and default seeds */

    pthread_mutex_t tok_lock; /* encode is not thread-safe */

    pthread_mutex_t conn_lock; /* the connection list, the accept thread's state */
    pthread_cond_t conn_cv;    /* a connection closed */
    struct serve_conn *conns;
    int64_t n_conns;       /* reported open by libmicrohttpd */
    int64_t n_pending;     /* accepted, not reported yet */
    double pending_since;
    int listen_fd;
    int accept_stop;
    int accept_started;
    pthread_t accept_thread;

    serve_metrics metrics;
    struct MHD_Daemon *daemon;
} srv;

/* A TCP connection (libmicrohttpd's socket context). */
typedef struct serve_conn {
    int fd;
    double since;  /* when it started reading its current request */
    int reading;   /* 1 until the request's body is complete */
    int killed;
    struct serve_conn *prev, *next;
} serve_conn;

/* serve_engine.c */
void *serve_engine_main(void *arg);
/* Takes a reference for the caller; refs start at 1 for the engine side. */
void serve_req_release(srv *s, serve_req *r); /* caller holds s->lock */

/* serve_api.c: the JSON side. Each returns 0, or an HTTP status with the
 * OpenAI error filled into err (param may stay NULL). */
typedef struct {
    char message[256];
    const char *type, *param, *code;
} serve_error;
int serve_parse_completion(srv *s, const char *body, size_t len, serve_params *out,
                           serve_error *err);
/* Appends the JSON of a whole completion (non-streaming). */
int serve_completion_json(srv *s, serve_req *r, sbuf *out);
/* Appends SSE chunks for what is new since *sent_text / *sent_toks
 * (caller holds s->lock); final: the last chunk, usage and [DONE]. */
int serve_stream_chunks(srv *s, serve_req *r, size_t *sent_text, size_t *sent_toks, int first,
                        int final, sbuf *out);
int serve_error_json(const serve_error *e, sbuf *out);
int serve_tokenize_json(srv *s, const char *body, size_t len, sbuf *out, serve_error *err);
int serve_detokenize_json(srv *s, const char *body, size_t len, sbuf *out, serve_error *err);
int serve_models_json(srv *s, sbuf *out);

/* serve_http.c: the listening socket, the accept thread (it accepts only
 * while fewer than --max-connections are open: the rest wait in the listen
 * backlog) and libmicrohttpd. quiesce stops accepting (SIGTERM). */
int serve_http_start(srv *s, char *errbuf, size_t errlen);
void serve_http_quiesce(srv *s);
void serve_http_stop(srv *s);
/* Closes connections that took longer than --read-timeout to send their
 * request (called by the main thread a few times a second). */
void serve_http_watchdog(srv *s);
unsigned serve_http_port(srv *s);

#endif

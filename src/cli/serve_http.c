/* tril serve: the HTTP side on libmicrohttpd, one thread per connection.
 * These threads parse, check and queue requests, then wait for the engine
 * thread's output (condition variable, woken per token) and send it: a
 * whole JSON response, or server-sent events. They never touch the engine. */
#define _GNU_SOURCE /* POLLRDHUP */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cli/serve.h"

typedef enum {
    EP_HEALTH,
    EP_MODELS,
    EP_METRICS,
    EP_COMPLETIONS,
    EP_TOKENIZE,
    EP_DETOKENIZE,
} endpoint;

static const struct {
    const char *path;
    int post;  /* 1: POST, 0: GET (and HEAD) */
    int open;  /* 1: no API key needed */
    endpoint ep;
} routes[] = {
    {"/health", 0, 1, EP_HEALTH},
    {"/v1/models", 0, 0, EP_MODELS},
    {"/metrics", 0, 0, EP_METRICS},
    {"/v1/completions", 1, 0, EP_COMPLETIONS},
    {"/tokenize", 1, 0, EP_TOKENIZE},
    {"/detokenize", 1, 0, EP_DETOKENIZE},
};

/* One HTTP request (libmicrohttpd's per-request context). */
typedef struct {
    srv *s;
    struct MHD_Connection *mhd;
    serve_conn *conn;
    endpoint ep;
    int responded; /* a response was queued before the body was read */
    int too_large;
    sbuf body;
    serve_req *req;
    /* streaming */
    sbuf out;
    size_t out_pos, sent_text, sent_toks;
    int sent_first, sent_final;
} http_req;

/* ---- connections -------------------------------------------------------------- */

static void conn_reading(srv *s, serve_conn *c, int reading)
{
    if (!c) return;
    pthread_mutex_lock(&s->conn_lock);
    c->reading = reading;
    if (reading) c->since = serve_now();
    pthread_mutex_unlock(&s->conn_lock);
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    srv *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        serve_conn *c = calloc(1, sizeof *c);
        *socket_context = c;
        pthread_mutex_lock(&s->conn_lock);
        if (s->n_pending) s->n_pending--; /* the accept thread counted it so far */
        pthread_mutex_unlock(&s->conn_lock);
        if (!c) return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci ? ci->connect_fd : -1;
        c->since = serve_now();
        c->reading = 1;
        pthread_mutex_lock(&s->conn_lock);
        c->next = s->conns;
        if (s->conns) s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        pthread_mutex_unlock(&s->conn_lock);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        serve_conn *c = *socket_context;
        if (!c) return;
        /* Unlinked before libmicrohttpd closes the socket: the watchdog
         * never shuts down a descriptor that may have been reused. */
        pthread_mutex_lock(&s->conn_lock);
        if (c->prev) c->prev->next = c->next;
        else s->conns = c->next;
        if (c->next) c->next->prev = c->prev;
        s->n_conns--;
        pthread_cond_signal(&s->conn_cv);
        pthread_mutex_unlock(&s->conn_lock);
        free(c);
        *socket_context = NULL;
    }
}

void serve_http_watchdog(srv *s)
{
    const double now = serve_now();
    pthread_mutex_lock(&s->conn_lock);
    for (serve_conn *c = s->conns; c; c = c->next) {
        if (!c->reading || c->killed || c->fd < 0) continue;
        if (now - c->since > (double)s->o.read_timeout_s) {
            /* libmicrohttpd's thread sees the end of the stream and closes it. */
            shutdown(c->fd, SHUT_RDWR);
            c->killed = 1;
        }
    }
    pthread_mutex_unlock(&s->conn_lock);
}

/* 1 once the client has closed or reset its side. */
static int client_gone(const serve_conn *c)
{
    if (!c || c->fd < 0) return 0;
    struct pollfd p = {c->fd, POLLRDHUP, 0};
    if (poll(&p, 1, 0) < 0) return 0;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* ---- responses ---------------------------------------------------------------- */

static int is_draining(srv *s)
{
    pthread_mutex_lock(&s->lock);
    const int d = s->draining;
    pthread_mutex_unlock(&s->lock);
    return d;
}

/* Queues a response with this body; extra headers as name, value pairs,
 * NULL-terminated. */
static enum MHD_Result respond(struct MHD_Connection *c, http_req *h, unsigned status,
                               const char *ctype, const sbuf *body, ...)
{
    srv *s = h->s;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        body ? body->n : 0, body && body->p ? body->p : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    int ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) == MHD_YES;
    va_list ap;
    va_start(ap, body);
    for (const char *name; ok && (name = va_arg(ap, const char *));) {
        const char *value = va_arg(ap, const char *);
        ok = MHD_add_response_header(resp, name, value) == MHD_YES;
    }
    va_end(ap);
    if (ok && is_draining(s)) ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
    enum MHD_Result ret = ok ? MHD_queue_response(c, status, resp) : MHD_NO;
    MHD_destroy_response(resp);
    if (ret == MHD_YES) serve_metrics_response(&s->metrics, status);
    conn_reading(s, h->conn, 0);
    h->responded = 1;
    return ret;
}

static enum MHD_Result respond_json(struct MHD_Connection *c, http_req *h, unsigned status,
                                    const sbuf *body)
{
    if (body->failed) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n";
        sbuf b = {(char *)oom, sizeof oom - 1, sizeof oom, 0};
        return respond(c, h, 500, "application/json", &b, NULL);
    }
    return respond(c, h, status, "application/json", body, NULL);
}

/* An OpenAI-style error; extra headers as in respond(). */
static enum MHD_Result respond_error(struct MHD_Connection *c, http_req *h, unsigned status,
                                     const serve_error *e, const char *h1, const char *v1)
{
    sbuf b = {0};
    serve_error_json(e, &b);
    enum MHD_Result ret;
    if (b.failed) ret = respond_json(c, h, status, &b);
    else ret = respond(c, h, status, "application/json", &b, h1, v1, NULL);
    sbuf_free(&b);
    return ret;
}

static enum MHD_Result error_msg(struct MHD_Connection *c, http_req *h, unsigned status,
                                 const char *type, const char *code, const char *msg)
{
    serve_error e = {{0}, type, NULL, code};
    snprintf(e.message, sizeof e.message, "%s", msg);
    const char *h1 = NULL, *v1 = NULL;
    if (status == 429 || status == 503) {
        h1 = MHD_HTTP_HEADER_RETRY_AFTER;
        v1 = "1";
    } else if (status == 401) {
        h1 = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
        v1 = "Bearer";
    }
    return respond_error(c, h, status, &e, h1, v1);
}

/* ---- the endpoints ------------------------------------------------------------ */

/* 0 ready, else the status to answer with (503 while loading or draining). */
static int not_ready(srv *s)
{
    pthread_mutex_lock(&s->lock);
    const int r = s->ready && !s->draining && !s->fatal ? 0 : 503;
    pthread_mutex_unlock(&s->lock);
    return r;
}

static enum MHD_Result unavailable(struct MHD_Connection *c, http_req *h)
{
    srv *s = h->s;
    pthread_mutex_lock(&s->lock);
    const int loading = !s->ready && !s->draining && !s->fatal;
    pthread_mutex_unlock(&s->lock);
    return error_msg(c, h, 503, "server_error", loading ? "model_loading" : "shutting_down",
                     loading ? "the model is loading; try again shortly"
                             : "the server is shutting down");
}

static enum MHD_Result do_health(struct MHD_Connection *c, http_req *h)
{
    srv *s = h->s;
    pthread_mutex_lock(&s->lock);
    const char *state = s->fatal ? "error" : s->draining ? "shutting down" : s->ready ? "ok" : "loading";
    pthread_mutex_unlock(&s->lock);
    sbuf b = {0};
    sbuf_printf(&b, "{\"status\":\"%s\"}\n", state);
    enum MHD_Result r = respond_json(c, h, strcmp(state, "ok") == 0 ? 200 : 503, &b);
    sbuf_free(&b);
    return r;
}

static enum MHD_Result do_get(struct MHD_Connection *c, http_req *h)
{
    srv *s = h->s;
    if (h->ep == EP_HEALTH) return do_health(c, h);
    sbuf b = {0};
    enum MHD_Result r;
    if (h->ep == EP_METRICS) {
        serve_metrics_render(&s->metrics, &b);
        if (b.failed) r = respond_json(c, h, 500, &b);
        else r = respond(c, h, 200, "text/plain; version=0.0.4; charset=utf-8", &b, NULL);
    } else {
        if (not_ready(s)) return unavailable(c, h);
        serve_models_json(s, &b);
        r = respond_json(c, h, 200, &b);
    }
    sbuf_free(&b);
    return r;
}

static enum MHD_Result do_tokens(struct MHD_Connection *c, http_req *h)
{
    srv *s = h->s;
    if (not_ready(s)) return unavailable(c, h);
    sbuf b = {0};
    serve_error e = {{0}, NULL, NULL, NULL};
    const char *body = h->body.p ? h->body.p : "";
    const int rc = h->ep == EP_TOKENIZE ? serve_tokenize_json(s, body, h->body.n, &b, &e)
                                        : serve_detokenize_json(s, body, h->body.n, &b, &e);
    enum MHD_Result r = rc ? respond_error(c, h, (unsigned)rc, &e, NULL, NULL) : respond_json(c, h, 200, &b);
    sbuf_free(&b);
    return r;
}

/* 200 ms from now on CLOCK_REALTIME, for pthread_cond_timedwait: how long a
 * waiting thread sleeps before it looks at its connection again. */
static struct timespec wait_deadline(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Waits on the request until `until` says so, noticing a client that hangs
 * up. Returns 0, or -1 if the client went away (the request is then marked
 * abandoned, for the engine thread to cancel). */
static int wait_req(srv *s, http_req *h, int (*until)(const serve_req *))
{
    serve_req *r = h->req;
    pthread_mutex_lock(&s->lock);
    while (!until(r)) {
        struct timespec ts = wait_deadline();
        pthread_cond_timedwait(&r->cv, &s->lock, &ts);
        if (until(r)) break;
        pthread_mutex_unlock(&s->lock);
        const int gone = client_gone(h->conn);
        pthread_mutex_lock(&s->lock);
        if (gone) {
            r->abandoned = 1;
            pthread_cond_signal(&s->inbox_cv);
            pthread_mutex_unlock(&s->lock);
            return -1;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int taken(const serve_req *r) { return r->state != REQ_PENDING; }
static int finished(const serve_req *r) { return r->state == REQ_DONE; }

/* Restarts libmicrohttpd's idle clock (--read-timeout) on a connection: the
 * time spent waiting for tokens inside the content reader is not the
 * client's idleness. Setting the timeout when it is 0 resets the clock. */
static void touch(http_req *h)
{
    MHD_set_connection_option(h->mhd, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    MHD_set_connection_option(h->mhd, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)h->s->o.read_timeout_s);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    http_req *h = cls;
    srv *s = h->s;
    serve_req *r = h->req;
    for (;;) {
        if (h->out_pos < h->out.n) {
            size_t n = h->out.n - h->out_pos;
            if (n > max) n = max;
            memcpy(buf, h->out.p + h->out_pos, n);
            h->out_pos += n;
            touch(h);
            return (ssize_t)n;
        }
        h->out.n = 0;
        h->out_pos = 0;
        if (h->sent_final) return MHD_CONTENT_READER_END_OF_STREAM;
        pthread_mutex_lock(&s->lock);
        const int final = r->state == REQ_DONE;
        if (final || r->visible > h->sent_text || (!h->sent_first && r->p.echo)) {
            serve_stream_chunks(s, r, &h->sent_text, &h->sent_toks, !h->sent_first, final, &h->out);
            h->sent_first = 1;
            h->sent_final = final;
            pthread_mutex_unlock(&s->lock);
            if (h->out.failed) return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        struct timespec ts = wait_deadline();
        const int woken = pthread_cond_timedwait(&r->cv, &s->lock, &ts) == 0;
        pthread_mutex_unlock(&s->lock);
        if (!woken && client_gone(h->conn)) {
            pthread_mutex_lock(&s->lock);
            r->abandoned = 1;
            pthread_cond_signal(&s->inbox_cv);
            pthread_mutex_unlock(&s->lock);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
}

static serve_req *req_new(srv *s, serve_params *p)
{
    serve_req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    if (pthread_cond_init(&r->cv, NULL)) {
        free(r);
        return NULL;
    }
    r->s = s;
    r->p = *p;
    memset(p, 0, sizeof *p);
    r->refs = 1;
    r->created = (int64_t)time(NULL);
    r->t_arrival = serve_now();
    pthread_mutex_lock(&s->lock);
    const uint64_t k = ++s->seq;
    pthread_mutex_unlock(&s->lock);
    const uint64_t x = serve_unique_u64(k);
    snprintf(r->id, sizeof r->id, "cmpl-%016llx%08llx", (unsigned long long)x, (unsigned long long)k);
    if (r->p.echo) {
        char *text = NULL;
        size_t len = 0;
        sbuf t = {0};
        if (tril_tokenizer_decode(s->tok, r->p.prompt, (size_t)r->p.n_prompt, &text, &len) == TRIL_OK)
            serve_utf8_take(text, len, 1, &t);
        free(text);
        r->prompt_text = t.p;
        r->prompt_text_len = t.n;
        if (t.failed || !t.p) {
            sbuf_free(&t);
            r->prompt_text = NULL;
            r->prompt_text_len = 0;
        }
    }
    return r;
}

static enum MHD_Result do_completion(struct MHD_Connection *c, http_req *h)
{
    srv *s = h->s;
    if (not_ready(s)) return unavailable(c, h);
    serve_params p;
    serve_error e = {{0}, NULL, NULL, NULL};
    const int rc = serve_parse_completion(s, h->body.p ? h->body.p : "", h->body.n, &p, &e);
    if (rc) return respond_error(c, h, (unsigned)rc, &e, NULL, NULL);
    serve_req *r = req_new(s, &p);
    if (!r) {
        serve_params_free(&p);
        return error_msg(c, h, 500, "server_error", NULL, "out of memory");
    }
    h->req = r; /* released when the request completes */
    pthread_mutex_lock(&s->lock);
    if (!s->ready || s->draining || s->fatal) {
        pthread_mutex_unlock(&s->lock);
        return unavailable(c, h);
    }
    if (s->inbox_len >= s->o.max_queue + s->o.slots) {
        pthread_mutex_unlock(&s->lock);
        return error_msg(c, h, 429, "rate_limit_exceeded", "queue_full",
                         "the server's queue is full; try again later");
    }
    r->refs++; /* the engine thread's */
    if (s->inbox_tail) s->inbox_tail->next_inbox = r;
    else s->inbox_head = r;
    s->inbox_tail = r;
    s->inbox_len++;
    s->live++;
    r->queued = 1;
    pthread_cond_signal(&s->inbox_cv);
    pthread_mutex_unlock(&s->lock);

    if (wait_req(s, h, taken)) return MHD_NO;
    pthread_mutex_lock(&s->lock);
    const int refused = r->state == REQ_DONE && r->http_status;
    pthread_mutex_unlock(&s->lock);
    if (!r->p.stream || refused) {
        if (!refused && wait_req(s, h, finished)) return MHD_NO;
        /* The request is done (or refused): nothing changes it any more. */
        if (r->http_status)
            return error_msg(c, h, (unsigned)r->http_status, r->err_type, r->err_code, r->err_msg);
        sbuf b = {0};
        pthread_mutex_lock(&s->lock);
        serve_completion_json(s, r, &b);
        pthread_mutex_unlock(&s->lock);
        enum MHD_Result ret = respond_json(c, h, 200, &b);
        sbuf_free(&b);
        return ret;
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, h, NULL);
    if (!resp) return MHD_NO;
    int ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream") == MHD_YES &&
             MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") == MHD_YES &&
             MHD_add_response_header(resp, "X-Accel-Buffering", "no") == MHD_YES;
    enum MHD_Result ret = ok ? MHD_queue_response(c, 200, resp) : MHD_NO;
    MHD_destroy_response(resp);
    if (ret == MHD_YES) serve_metrics_response(&s->metrics, 200);
    conn_reading(s, h->conn, 0);
    h->responded = 1;
    return ret;
}

/* ---- the access handler ----------------------------------------------------------- */

static int authorized(srv *s, struct MHD_Connection *c)
{
    if (!s->o.api_key) return 1;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) return 0;
    auth += 7;
    while (*auth == ' ') auth++;
    return serve_secret_equal(auth, s->o.api_key);
}

static enum MHD_Result first_call(srv *s, struct MHD_Connection *c, http_req *h, const char *url,
                                  const char *method)
{
    int route = -1;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(url, routes[i].path) == 0) route = (int)i;
    if (route < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "no endpoint %.100s (see docs/SERVING.md)", url);
        return error_msg(c, h, 404, "invalid_request_error", "not_found", msg);
    }
    const int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    const int is_post = strcmp(method, "POST") == 0;
    if (routes[route].post ? !is_post : !is_get) {
        serve_error e = {{0}, "invalid_request_error", NULL, "method_not_allowed"};
        snprintf(e.message, sizeof e.message, "%s takes %s, not %.20s", routes[route].path,
                 routes[route].post ? "POST" : "GET", method);
        return respond_error(c, h, 405, &e, MHD_HTTP_HEADER_ALLOW, routes[route].post ? "POST" : "GET, HEAD");
    }
    if (!routes[route].open && !authorized(s, c))
        return error_msg(c, h, 401, "invalid_request_error", "invalid_api_key",
                         "Incorrect or missing API key: send 'Authorization: Bearer KEY'");
    h->ep = routes[route].ep;
    if (!routes[route].post) return do_get(c, h);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        const unsigned long long n = strtoull(cl, &end, 10);
        if (errno || end == cl || n > (unsigned long long)s->o.max_body_kb * 1024ull) h->too_large = 1;
    }
    if (h->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "the request body is larger than %lld KB (--max-body-kb)",
                 (long long)s->o.max_body_kb);
        return error_msg(c, h, 413, "invalid_request_error", "request_too_large", msg);
    }
    return MHD_YES; /* the body comes next */
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    srv *s = cls;
    http_req *h = *con_cls;
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h) return MHD_NO;
        h->s = s;
        h->mhd = c;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        h->conn = ci ? ci->socket_context : NULL;
        *con_cls = h;
        return first_call(s, c, h, url, method);
    }
    if (*upload_size) {
        const size_t limit = (size_t)s->o.max_body_kb * 1024;
        if (!h->responded && !h->too_large) {
            if (*upload_size > limit - h->body.n) {
                h->too_large = 1;
                sbuf_free(&h->body);
            } else {
                sbuf_add(&h->body, upload, *upload_size);
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (h->responded) return MHD_YES;
    conn_reading(s, h->conn, 0);
    if (h->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "the request body is larger than %lld KB (--max-body-kb)",
                 (long long)s->o.max_body_kb);
        return error_msg(c, h, 413, "invalid_request_error", "request_too_large", msg);
    }
    if (h->body.failed) return error_msg(c, h, 500, "server_error", NULL, "out of memory");
    if (h->ep == EP_COMPLETIONS) return do_completion(c, h);
    return do_tokens(c, h);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    srv *s = cls;
    http_req *h = *con_cls;
    if (!h) return;
    if (h->req) {
        pthread_mutex_lock(&s->lock);
        if (h->req->state != REQ_DONE) { /* the client left before the end */
            h->req->abandoned = 1;
            pthread_cond_signal(&s->inbox_cv);
        }
        serve_req_release(s, h->req);
        pthread_mutex_unlock(&s->lock);
    }
    conn_reading(s, h->conn, 1); /* the next request on this connection */
    sbuf_free(&h->body);
    sbuf_free(&h->out);
    free(h);
    *con_cls = NULL;
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    fprintf(stderr, "tril serve: http: %s\n", msg);
}

/* ---- the daemon ------------------------------------------------------------------ */

/* Accepts while fewer than --max-connections are open and hands each one to
 * libmicrohttpd; at the limit it waits for one to close, and new clients
 * wait in the listen backlog (libmicrohttpd's own limit would accept and
 * drop them). */
static void *accept_main(void *arg)
{
    srv *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->conn_lock);
        for (;;) {
            /* A connection libmicrohttpd dropped before it ever reported it
             * (it started no thread for it) would hold its place forever:
             * none stays pending for seconds. */
            if (s->n_pending && serve_now() - s->pending_since > 5) s->n_pending = 0;
            if (s->accept_stop || s->n_conns + s->n_pending < s->o.max_connections) break;
            struct timespec ts = wait_deadline();
            pthread_cond_timedwait(&s->conn_cv, &s->conn_lock, &ts);
        }
        const int stop = s->accept_stop;
        pthread_mutex_unlock(&s->conn_lock);
        if (stop) break;
        struct pollfd p = {s->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        const int fd = accept4(s->listen_fd, (struct sockaddr *)&addr, &len, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                struct timespec t = {0, 100 * 1000000L}; /* out of descriptors: let some close */
                nanosleep(&t, NULL);
            }
            continue;
        }
        pthread_mutex_lock(&s->conn_lock);
        s->n_pending++; /* until libmicrohttpd reports it started */
        s->pending_since = serve_now();
        pthread_mutex_unlock(&s->conn_lock);
        /* It closes the socket itself when it cannot take it. */
        if (MHD_add_connection(s->daemon, fd, (const struct sockaddr *)&addr, len) != MHD_YES) {
            pthread_mutex_lock(&s->conn_lock);
            if (s->n_pending) s->n_pending--;
            pthread_mutex_unlock(&s->conn_lock);
        }
    }
    return NULL;
}

static int listen_on(srv *s, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%lld", (long long)s->o.port);
    const int g = getaddrinfo(s->o.host, port, &hints, &res);
    if (g != 0 || !res) {
        snprintf(err, errlen, "--host %s: %s", s->o.host, g ? gai_strerror(g) : "no address");
        if (res) freeaddrinfo(res);
        return -1;
    }
    const int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    const int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, errlen, "cannot listen on %s port %lld: %s", s->o.host, (long long)s->o.port,
                 strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    s->listen_fd = fd;
    return 0;
}

int serve_http_start(srv *s, char *err, size_t errlen)
{
    s->listen_fd = -1;
    if (listen_on(s, err, errlen)) return -1;
    /* libmicrohttpd's own limit must never be reached: libmicrohttpd 0.9.75
     * hangs (a mutex left locked) when a connection handed to it with
     * MHD_add_connection meets its limit. The accept thread keeps to
     * --max-connections, counting a connection from its accept, and a
     * closed connection leaves libmicrohttpd's count a little after ours. */
    const unsigned backstop = (unsigned)s->o.max_connections * 4 + 64;
    s->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
            MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET,
        0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_log, s,
        MHD_OPTION_CONNECTION_LIMIT, backstop, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)s->o.read_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot start the HTTP daemon");
        close(s->listen_fd);
        s->listen_fd = -1;
        return -1;
    }
    if (pthread_create(&s->accept_thread, NULL, accept_main, s) != 0) {
        snprintf(err, errlen, "cannot start the accept thread");
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
        close(s->listen_fd);
        s->listen_fd = -1;
        return -1;
    }
    s->accept_started = 1;
    return 0;
}

unsigned serve_http_port(srv *s)
{
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    if (s->listen_fd < 0 || getsockname(s->listen_fd, (struct sockaddr *)&a, &len) != 0) return 0;
    if (a.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&a)->sin_port);
    if (a.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
    return 0;
}

void serve_http_quiesce(srv *s)
{
    if (s->accept_started) {
        pthread_mutex_lock(&s->conn_lock);
        s->accept_stop = 1;
        pthread_cond_signal(&s->conn_cv);
        pthread_mutex_unlock(&s->conn_lock);
        pthread_join(s->accept_thread, NULL);
        s->accept_started = 0;
    }
    if (s->listen_fd >= 0) close(s->listen_fd); /* clients still in the backlog are refused */
    s->listen_fd = -1;
}

void serve_http_stop(srv *s)
{
    serve_http_quiesce(s);
    if (s->daemon) MHD_stop_daemon(s->daemon); /* waits for the connection threads */
    s->daemon = NULL;
}

/* tril serve: the engine thread. It alone calls the engine: it takes new
 * requests and cancellations from the inbox between steps, runs the steps,
 * and turns each token into text (UTF-8 completed across tokens, stop
 * strings held back until they cannot match) that the connection threads
 * then format and send. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/serve.h"
#include "tril/attention.h"
#include "tril/cpu.h"

static void req_free(serve_req *r)
{
    serve_params_free(&r->p);
    free(r->prompt_text);
    sbuf_free(&r->text);
    sbuf_free(&r->raw);
    free(r->toks);
    free(r->top_ids);
    free(r->top_lps);
    pthread_cond_destroy(&r->cv);
    free(r);
}

void serve_req_release(srv *s, serve_req *r)
{
    if (--r->refs > 0) return;
    if (r->queued) s->live--;
    req_free(r);
}

/* ---- the engine thread's list of requests it has taken ------------------- */

typedef struct {
    serve_req *head;
} live_list;

static void live_add(live_list *l, serve_req *r)
{
    r->live_prev = NULL;
    r->live_next = l->head;
    if (l->head) l->head->live_prev = r;
    l->head = r;
}

static void live_remove(live_list *l, serve_req *r)
{
    if (r->live_prev) r->live_prev->live_next = r->live_next;
    else l->head = r->live_next;
    if (r->live_next) r->live_next->live_prev = r->live_prev;
    r->live_prev = r->live_next = NULL;
}

typedef struct {
    srv *s;
    live_list live;
} engine_ctx;

/* Ends a request the engine never took (caller holds s->lock). */
static void refuse_locked(srv *s, serve_req *r, int status, const char *type, const char *code,
                          const char *msg)
{
    r->http_status = status;
    r->err_type = type;
    r->err_code = code;
    snprintf(r->err_msg, sizeof r->err_msg, "%s", msg);
    r->state = REQ_DONE;
    pthread_cond_broadcast(&r->cv);
    serve_req_release(s, r);
}

/* ---- stop strings ------------------------------------------------------------- */

/* The earliest place at or after `from` where a stop string starts in
 * text[0..n), or (size_t)-1. */
static size_t find_stop(const serve_req *r, const char *text, size_t n, size_t from)
{
    size_t best = (size_t)-1;
    for (int i = 0; i < r->p.n_stop; i++) {
        const size_t k = r->p.stop_len[i];
        if (k == 0 || k > n) continue;
        for (size_t at = from; at + k <= n && at < best; at++)
            if (memcmp(text + at, r->p.stop[i], k) == 0) {
                best = at;
                break;
            }
    }
    return best;
}

/* How many bytes at the end of text[0..n) could be the start of a stop
 * string (and so may not be shown yet). */
static size_t stop_hold(const serve_req *r, const char *text, size_t n)
{
    size_t hold = 0;
    for (int i = 0; i < r->p.n_stop; i++) {
        const size_t k = r->p.stop_len[i];
        for (size_t m = (k - 1 < n ? k - 1 : n); m > hold; m--)
            if (memcmp(text + n - m, r->p.stop[i], m) == 0) {
                hold = m;
                break;
            }
    }
    return hold;
}

/* After text grew: finds a stop string (the text then ends before it) or
 * moves `visible` up to what cannot begin one. Caller holds s->lock. */
static void update_visible(serve_req *r, int final)
{
    if (r->stop_hit) return;
    const size_t at = find_stop(r, r->text.p, r->text.n, r->visible);
    if (at != (size_t)-1) {
        r->text.n = at;
        if (r->text.p) r->text.p[at] = '\0';
        r->visible = at;
        r->stop_hit = 1;
        return;
    }
    const size_t hold = final ? 0 : stop_hold(r, r->text.p, r->text.n);
    if (r->text.n - hold > r->visible) r->visible = r->text.n - hold;
}

/* ---- events --------------------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int on_token(srv *s, serve_req *r, const tril_engine_event *ev)
{
    const double now = serve_now();
    const char *bytes = "";
    size_t len = 0;
    if (tril_tokenizer_token_bytes(s->tok, ev->token, &bytes, &len) != TRIL_OK) len = 0;
    sbuf add = {0};
    int oom = 0;
    size_t offset;
    if (sbuf_add(&r->raw, bytes, len)) oom = 1;
    const size_t used = oom ? 0 : serve_utf8_take(r->raw.p, r->raw.n, 0, &add);
    if (add.failed) oom = 1;

    pthread_mutex_lock(&s->lock);
    /* where this token's bytes begin: after the text and the bytes still pending */
    offset = r->text.n + r->raw.n - len;
    int cancel = r->stop_hit || r->abandoned;
    if (!r->stop_hit && !oom) {
        const int n_top = ev->n_top > 0 ? ev->n_top : 0;
        if (grow((void **)&r->toks, &r->cap_toks, r->n_toks + 1, sizeof *r->toks) ||
            grow((void **)&r->top_ids, &r->cap_tops, r->n_tops + (size_t)n_top + 1, sizeof(int32_t)))
            oom = 1;
        else {
            /* both top arrays share cap_tops: grow the second to the same size */
            float *lp = realloc(r->top_lps, r->cap_tops * sizeof *lp);
            if (!lp) oom = 1;
            else r->top_lps = lp;
        }
        if (!oom) {
            serve_token *t = &r->toks[r->n_toks++];
            t->id = ev->token;
            t->logprob = ev->logprob;
            t->text_offset = offset;
            t->top = r->n_tops;
            for (int i = 0; i < n_top; i++) {
                r->top_ids[r->n_tops + (size_t)i] = ev->top_ids[i];
                r->top_lps[r->n_tops + (size_t)i] = ev->top_logprobs[i];
            }
            r->n_tops += (size_t)n_top;
            if (sbuf_add(&r->text, add.p, add.n)) oom = 1;
            else update_visible(r, 0);
        }
        r->prompt_tokens = ev->prompt_tokens;
        r->completion_tokens = ev->completion_tokens;
        if (r->stop_hit) cancel = 1;
    }
    if (oom && !r->http_status) {
        r->http_status = 500;
        r->err_type = "server_error";
        r->err_code = NULL;
        snprintf(r->err_msg, sizeof r->err_msg, "out of memory");
        cancel = 1;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&s->lock);
    sbuf_free(&add);
    if (!oom && used) {
        memmove(r->raw.p, r->raw.p + used, r->raw.n - used);
        r->raw.n -= used;
    }

    pthread_mutex_lock(&s->metrics.lock);
    if (r->t_last == 0) serve_hist_observe(&s->metrics.ttft, now - r->t_arrival);
    else serve_hist_observe(&s->metrics.itl, now - r->t_last);
    s->metrics.generated_tokens++;
    pthread_mutex_unlock(&s->metrics.lock);
    r->t_last = now;
    return cancel;
}

static void on_done(engine_ctx *c, serve_req *r, const tril_engine_event *ev)
{
    srv *s = c->s;
    sbuf add = {0};
    if (!r->stop_hit && r->raw.n) serve_utf8_take(r->raw.p, r->raw.n, 1, &add);
    r->raw.n = 0;
    int which;
    pthread_mutex_lock(&s->lock);
    if (!r->stop_hit && add.n) sbuf_add(&r->text, add.p, add.n);
    update_visible(r, 1);
    if (ev->reason == TRIL_FINISH_STOP || r->stop_hit) r->finish = FIN_STOP;
    else r->finish = FIN_LENGTH; /* the budget, the context, --timeout or the drain deadline */
    if (ev->reason == TRIL_FINISH_ERROR && !r->http_status) {
        r->http_status = 500;
        r->err_type = "server_error";
        r->err_code = NULL;
        snprintf(r->err_msg, sizeof r->err_msg, "generation failed: %s: %s",
                 tril_status_name(ev->status), tril_last_error());
    }
    r->prompt_tokens = ev->prompt_tokens;
    r->completion_tokens = ev->completion_tokens;
    r->state = REQ_DONE;
    pthread_cond_broadcast(&r->cv);
    which = r->http_status ? 3
            : (ev->reason == TRIL_FINISH_CANCELLED && !r->stop_hit && !r->timed_out) ? 2
            : r->finish == FIN_STOP ? 0
                                    : 1;
    live_remove(&c->live, r);
    pthread_mutex_lock(&s->metrics.lock);
    s->metrics.finished[which]++;
    s->metrics.prompt_tokens += (uint64_t)(ev->prompt_tokens > 0 ? ev->prompt_tokens : 0);
    pthread_mutex_unlock(&s->metrics.lock);
    serve_req_release(s, r);
    pthread_mutex_unlock(&s->lock);
    sbuf_free(&add);
}

static int on_event(const tril_engine_event *ev, void *ctx)
{
    engine_ctx *c = ctx;
    serve_req *r = ev->user;
    if (ev->kind == TRIL_ENGINE_TOKEN) return on_token(c->s, r, ev);
    on_done(c, r, ev);
    return 0;
}

/* ---- the loop ---------------------------------------------------------------------- */

static void submit(engine_ctx *c, serve_req *r)
{
    srv *s = c->s;
    tril_engine_request q = {
        .prompt = r->p.prompt,
        .n_prompt = r->p.n_prompt,
        .max_tokens = r->p.max_tokens,
        .sampling = r->p.sampling,
        .eot = s->eot,
        .logprobs = r->p.logprobs > 0 ? r->p.logprobs : 0,
        .user = r,
    };
    uint64_t id = 0;
    /* Waiting for a slot: the queued beyond those the free slots take at
     * the next step. */
    tril_engine_stats stats;
    tril_engine_get_stats(s->engine, &stats);
    const int64_t free_slots = s->o.slots - stats.active;
    const int64_t waiting = stats.queued - (free_slots > 0 ? free_slots : 0);
    const tril_status st = waiting >= s->o.max_queue
                               ? TRIL_FAIL(TRIL_ERR_BUSY, "the queue is full")
                               : tril_engine_submit(s->engine, &q, &id);
    pthread_mutex_lock(&s->lock);
    if (st == TRIL_OK) {
        r->eid = id;
        r->deadline = s->o.timeout_s > 0 ? r->t_arrival + (double)s->o.timeout_s : 0;
        if (r->state == REQ_PENDING) r->state = REQ_RUNNING;
        pthread_cond_broadcast(&r->cv);
        live_add(&c->live, r);
    } else if (st == TRIL_ERR_BUSY) {
        refuse_locked(s, r, 429, "rate_limit_exceeded", "queue_full",
                      "the server's queue is full; try again later");
    } else if (st == TRIL_ERR_INVALID_ARG || st == TRIL_ERR_RANGE) {
        refuse_locked(s, r, 400, "invalid_request_error", NULL, tril_last_error());
    } else {
        refuse_locked(s, r, 500, "server_error", NULL, tril_last_error());
    }
    pthread_mutex_unlock(&s->lock);
}

static void publish_stats(srv *s, int stepped)
{
    tril_engine_stats st;
    tril_engine_get_stats(s->engine, &st);
    pthread_mutex_lock(&s->lock);
    const int64_t inbox = s->inbox_len;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_lock(&s->metrics.lock);
    s->metrics.engine = st;
    s->metrics.inbox = inbox;
    if (stepped && st.last_step_rows > 0) serve_hist_observe(&s->metrics.rows, (double)st.last_step_rows);
    pthread_mutex_unlock(&s->metrics.lock);
}

/* Every request the engine thread holds ends with this status (shutdown,
 * or the engine failed). Caller holds s->lock. */
static void fail_all_locked(engine_ctx *c, int status, const char *msg)
{
    srv *s = c->s;
    while (c->live.head) {
        serve_req *r = c->live.head;
        live_remove(&c->live, r);
        refuse_locked(s, r, status, "server_error", NULL, msg);
    }
    while (s->inbox_head) {
        serve_req *r = s->inbox_head;
        s->inbox_head = r->next_inbox;
        refuse_locked(s, r, status, "server_error", NULL, msg);
    }
    s->inbox_tail = NULL;
    s->inbox_len = 0;
}

void *serve_engine_main(void *arg)
{
    engine_ctx c = {arg, {NULL}};
    srv *s = c.s;
    /* OpenMP's thread count is per thread: this one runs the compute. */
    tril_set_num_threads(s->compute_threads);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        if (s->stop_engine) break;
        serve_req *in = s->inbox_head;
        s->inbox_head = s->inbox_tail = NULL;
        s->inbox_len = 0;
        const int busy = tril_engine_busy(s->engine);
        if (!in && !busy && !c.live.head) {
            pthread_mutex_unlock(&s->lock);
            publish_stats(s, 0);
            pthread_mutex_lock(&s->lock);
            if (!s->inbox_head && !s->stop_engine) pthread_cond_wait(&s->inbox_cv, &s->lock);
            continue;
        }
        /* What to cancel, decided under the lock. */
        const double now = serve_now();
        serve_req *to_cancel[256];
        int n_cancel = 0;
        for (serve_req *r = c.live.head; r && n_cancel < 256; r = r->live_next) {
            if (r->cancel_sent) continue;
            const int late = r->deadline > 0 && now >= r->deadline;
            if (r->abandoned || s->cancel_all || late) {
                if (late) r->timed_out = 1;
                to_cancel[n_cancel++] = r;
                r->cancel_sent = 1;
            }
        }
        /* New requests: those nobody waits for any more are dropped here. */
        serve_req *take = NULL, **tail = &take;
        while (in) {
            serve_req *r = in;
            in = r->next_inbox;
            r->next_inbox = NULL;
            if (r->abandoned) refuse_locked(s, r, 499, "server_error", NULL, "client gone");
            else if (s->cancel_all)
                refuse_locked(s, r, 503, "server_error", "shutting_down", "the server is shutting down");
            else {
                *tail = r;
                tail = &r->next_inbox;
            }
        }
        pthread_mutex_unlock(&s->lock);

        while (take) {
            serve_req *r = take;
            take = r->next_inbox;
            r->next_inbox = NULL;
            submit(&c, r);
        }
        for (int i = 0; i < n_cancel; i++) tril_engine_cancel(s->engine, to_cancel[i]->eid);
        int stepped = 0;
        if (tril_engine_busy(s->engine)) {
            const tril_status st = tril_engine_step(s->engine, on_event, &c);
            stepped = 1;
            if (st != TRIL_OK) {
                fprintf(stderr, "tril serve: the engine failed: %s: %s\n", tril_status_name(st),
                        tril_last_error());
                pthread_mutex_lock(&s->lock);
                fail_all_locked(&c, 500, "the engine failed");
                s->fatal = 1;
                break;
            }
        }
        publish_stats(s, stepped);
        pthread_mutex_lock(&s->lock);
    }
    /* Still holding s->lock. Whatever is left ends now. */
    fail_all_locked(&c, 503, "the server is shutting down");
    s->ready = 0;
    pthread_mutex_unlock(&s->lock);
    /* The attention kernels' per-thread buffers of this thread and its
     * OpenMP team would otherwise outlive it. */
    tril_attention_free_workspace();
    return NULL;
}

/* The engine's scheduling: a FIFO queue, slots, the KV block pool, and each
 * step's row layout, sampling and events (tril/engine.h). The model work of
 * a step is engine_forward.c's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/big_alloc.h"
#include "model/engine_internal.h"
#include "model/lowp.h"
#include "model/sampler_internal.h"
#include "tril/cpu.h"
#include "tril/ops.h"

tril_engine_config tril_engine_config_default(void)
{
    tril_engine_config c;
    c.slots = 8;
    c.prefill_chunk = 256;
    c.kv_block_tokens = 16;
    c.kv_memory_bytes = 0;
    c.max_queue = 64;
    return c;
}

/* zeroed, on a cache line (the kernels load rows as vectors) */
static void *alloc_n(int64_t n, size_t size) { return n > 0 ? tril_line_alloc((size_t)n, size, 1) : NULL; }

void tril_engine_free(tril_engine *e)
{
    if (!e) return;
    for (int64_t i = 0; e->seqs && i < e->cfg.slots; i++) {
        free(e->seqs[i].prompt);
        free(e->seqs[i].blocks);
        tril_sampler_free(e->seqs[i].sampler);
    }
    for (int64_t i = 0; e->queue && i < e->q_count; i++) {
        engine_pending *p = e->queue[(e->q_head + i) % e->cfg.max_queue];
        free(p->prompt);
        free(p);
    }
    free(e->queue);
    free(e->seqs);
    free(e->k_pool);
    free(e->v_pool);
    free(e->free_blocks);
    free(e->ids);
    free(e->x);
    free(e->ln);
    free(e->qkv);
    free(e->att);
    free(e->proj);
    free(e->fc);
    free(e->partials);
    free(e->wbuf);
    free(e->head_in);
    free(e->logits);
    free(e->lp_weights);
    free(e->lp_block_sums);
    free(e->order);
    free(e);
}

tril_status tril_engine_create(const tril_gpt2 *model, const tril_engine_config *cfg,
                               tril_engine **out)
{
    if (!model || !out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "engine: NULL argument");
    tril_status st = tril_cpu_check_isa_env();
    if (st != TRIL_OK) return st;
    const tril_engine_config c = cfg ? *cfg : tril_engine_config_default();
    const tril_gpt2_config *mc = &model->cfg;
    if (c.slots < 1 || c.slots > 4096 || c.prefill_chunk < 1 || c.kv_block_tokens < 1 ||
        c.kv_block_tokens > mc->n_positions || c.kv_memory_bytes < 0 || c.max_queue < 1 ||
        c.max_queue > (1 << 24))
        return TRIL_FAIL(TRIL_ERR_RANGE,
                         "engine: slots %lld (1..4096), prefill chunk %lld (>= 1), KV block %lld "
                         "tokens (1..%lld), KV memory %lld bytes (>= 0), queue %lld (1..2^24)",
                         (long long)c.slots, (long long)c.prefill_chunk,
                         (long long)c.kv_block_tokens, (long long)mc->n_positions,
                         (long long)c.kv_memory_bytes, (long long)c.max_queue);
    tril_engine *e = calloc(1, sizeof *e);
    if (!e) return TRIL_FAIL(TRIL_ERR_NOMEM, "engine: out of memory");
    e->model = model;
    e->cfg = c;
    e->C = mc->n_embd;
    e->V = mc->vocab_size;
    e->I = tril_gpt2_mlp_width(mc);
    e->L = mc->n_layer;
    e->P = mc->n_positions;
    const int64_t bt = c.kv_block_tokens, C = e->C;
    e->pages_per_seq = (e->P + bt - 1) / bt;
    e->kv_dtype = tril_gpt2_get_kv_dtype(model);
    const size_t kv_es = tril_dtype_size(e->kv_dtype);
    const double block_bytes = 2.0 * (double)e->L * (double)bt * (double)C * (double)kv_es;
    const double want = c.kv_memory_bytes > 0 ? (double)c.kv_memory_bytes
                                              : block_bytes * (double)(e->pages_per_seq * c.slots);
    if (want / block_bytes > (double)INT32_MAX) {
        tril_engine_free(e);
        return TRIL_FAIL(TRIL_ERR_RANGE, "engine: KV memory of %.0f bytes is too many blocks", want);
    }
    e->kv_blocks = (int64_t)(want / block_bytes);
    if (e->kv_blocks < 1) {
        tril_engine_free(e);
        return TRIL_FAIL(TRIL_ERR_RANGE,
                         "engine: KV memory of %.0f bytes is less than one block (%lld tokens: "
                         "%.0f bytes)", want, (long long)bt, block_bytes);
    }
    /* a step's rows: every slot reading a whole chunk, at most */
    const int64_t chunk = c.prefill_chunk < e->P ? c.prefill_chunk : e->P;
    e->max_rows = c.slots * chunk;
    e->wide = e->I > 3 * C ? e->I : 3 * C;
    const int64_t R = e->max_rows, pool = e->L * e->kv_blocks * bt * C;
    e->k_pool = pool > 0 ? tril_big_alloc_array((size_t)pool, kv_es, 0) : NULL;
    e->v_pool = pool > 0 ? tril_big_alloc_array((size_t)pool, kv_es, 0) : NULL;
    e->free_blocks = alloc_n(e->kv_blocks, sizeof(int32_t));
    e->seqs = alloc_n(c.slots, sizeof(engine_seq));
    e->queue = alloc_n(c.max_queue, sizeof(engine_pending *));
    e->ids = alloc_n(R, sizeof(int32_t));
    e->x = alloc_n(R * C, sizeof(float));
    e->ln = alloc_n(R * C, sizeof(float));
    e->qkv = alloc_n(R * 3 * C, sizeof(float));
    e->att = alloc_n(R * C, sizeof(float));
    e->proj = alloc_n(R * C, sizeof(float));
    e->fc = alloc_n(R * e->I, sizeof(float));
    e->group_rows = c.slots > TRIL_ENGINE_GEMV_GROUP ? c.slots : TRIL_ENGINE_GEMV_GROUP;
    if (e->group_rows > R) e->group_rows = R;
    e->partials = alloc_n(e->group_rows * TRIL_MATVEC_PARTIALS(e->wide), sizeof(float));
    e->head_in = alloc_n(c.slots * C, sizeof(float));
    e->logits = alloc_n(c.slots * e->V, sizeof(float));
    e->lp_weights = alloc_n(e->V, sizeof(float));
    e->lp_block_sums = alloc_n(e->V / TRIL_SAMPLE_BLOCK + 1, sizeof(double));
    e->order = alloc_n(c.slots, sizeof(int64_t));
    int ok = e->k_pool && e->v_pool && e->free_blocks && e->seqs && e->queue && e->ids && e->x &&
             e->ln && e->qkv && e->att && e->proj && e->fc && e->partials && e->head_in &&
             e->logits && e->lp_weights && e->lp_block_sums && e->order;
    if (ok && lowp_widens(model))
        ok = (e->wbuf = alloc_n(e->wide * C, sizeof(float))) != NULL;
    for (int64_t i = 0; ok && i < c.slots; i++)
        ok = (e->seqs[i].blocks = alloc_n(e->pages_per_seq, sizeof(int32_t))) != NULL;
    if (!ok) {
        tril_engine_free(e);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "engine: cannot allocate %lld KV blocks and the step "
                                         "buffers for %lld rows", (long long)e->kv_blocks,
                         (long long)R);
    }
    /* lowest block first: a lightly used pool touches few pages */
    for (int64_t b = 0; b < e->kv_blocks; b++) e->free_blocks[b] = (int32_t)(e->kv_blocks - 1 - b);
    e->n_free = e->kv_blocks;
    e->next_id = 1;
    *out = e;
    return TRIL_OK;
}

/* The blocks a request may need at most: its prompt and every token but the
 * last (which is never fed), within the context. */
static int64_t blocks_needed(const tril_engine *e, int64_t n_prompt, int64_t max_tokens)
{
    int64_t tokens = n_prompt + max_tokens - 1;
    if (tokens > e->P) tokens = e->P;
    return (tokens + e->cfg.kv_block_tokens - 1) / e->cfg.kv_block_tokens;
}

tril_status tril_engine_submit(tril_engine *e, const tril_engine_request *r, uint64_t *id)
{
    if (!e || !r || !id) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "engine: NULL argument");
    if (!r->prompt || r->n_prompt < 1)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "the prompt has no tokens");
    if (r->max_tokens < 1)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "max_tokens must be >= 1, got %lld",
                         (long long)r->max_tokens);
    if (r->logprobs < 0 || r->logprobs > TRIL_ENGINE_MAX_LOGPROBS)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "logprobs must be in [0, %d], got %d",
                         TRIL_ENGINE_MAX_LOGPROBS, r->logprobs);
    tril_status st = tril_sampler_config_validate(&r->sampling);
    if (st != TRIL_OK) return st;
    if (r->n_prompt > e->P)
        return TRIL_FAIL(TRIL_ERR_RANGE, "the prompt has %lld tokens; the model's context is %lld",
                         (long long)r->n_prompt, (long long)e->P);
    for (int64_t t = 0; t < r->n_prompt; t++)
        if (r->prompt[t] < 0 || r->prompt[t] >= e->V)
            return TRIL_FAIL(TRIL_ERR_RANGE, "token id %d at position %lld is outside [0, %lld)",
                             r->prompt[t], (long long)t, (long long)e->V);
    const int64_t need = blocks_needed(e, r->n_prompt, r->max_tokens);
    if (need > e->kv_blocks)
        return TRIL_FAIL(TRIL_ERR_RANGE,
                         "the request may need %lld tokens of KV cache; the pool holds %lld",
                         (long long)(need * e->cfg.kv_block_tokens),
                         (long long)(e->kv_blocks * e->cfg.kv_block_tokens));
    if (e->q_count >= e->cfg.max_queue)
        return TRIL_FAIL(TRIL_ERR_BUSY, "the queue is full (%lld requests waiting)",
                         (long long)e->q_count);
    engine_pending *p = calloc(1, sizeof *p);
    int32_t *prompt = malloc((size_t)r->n_prompt * sizeof *prompt);
    if (!p || !prompt) {
        free(p);
        free(prompt);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "engine: out of memory");
    }
    memcpy(prompt, r->prompt, (size_t)r->n_prompt * sizeof *prompt);
    p->id = e->next_id++;
    p->req = *r;
    p->req.prompt = prompt;
    p->prompt = prompt;
    e->queue[(e->q_head + e->q_count) % e->cfg.max_queue] = p;
    e->q_count++;
    *id = p->id;
    return TRIL_OK;
}

tril_status tril_engine_cancel(tril_engine *e, uint64_t id)
{
    if (!e) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "engine: NULL argument");
    for (int64_t i = 0; i < e->cfg.slots; i++)
        if (e->seqs[i].active && e->seqs[i].id == id) {
            e->seqs[i].cancelled = 1;
            return TRIL_OK;
        }
    for (int64_t i = 0; i < e->q_count; i++) {
        engine_pending *p = e->queue[(e->q_head + i) % e->cfg.max_queue];
        if (p->id == id) {
            p->cancelled = 1;
            return TRIL_OK;
        }
    }
    return TRIL_FAIL(TRIL_ERR_RANGE, "no queued or running request %llu", (unsigned long long)id);
}

void tril_engine_get_stats(const tril_engine *e, tril_engine_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!e) return;
    st->queued = e->q_count;
    for (int64_t i = 0; i < e->cfg.slots; i++) st->active += e->seqs[i].active;
    st->kv_blocks_total = e->kv_blocks;
    st->kv_blocks_used = e->kv_blocks - e->n_free;
    st->kv_block_tokens = e->cfg.kv_block_tokens;
    st->last_step_rows = e->last_step_rows;
    st->steps = e->steps;
}

int tril_engine_busy(const tril_engine *e)
{
    if (!e) return 0;
    if (e->q_count > 0) return 1;
    for (int64_t i = 0; i < e->cfg.slots; i++)
        if (e->seqs[i].active) return 1;
    return 0;
}

static void event_base(tril_engine_event *ev, const engine_seq *s, tril_engine_event_kind kind)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->id = s->id;
    ev->user = s->user;
    ev->prompt_tokens = s->n_prompt;
    ev->completion_tokens = s->generated;
}

/* Ends a sequence: its DONE event, then its blocks and slot are free. */
static void finish(tril_engine *e, engine_seq *s, tril_finish_reason why, tril_status status,
                   tril_engine_event_fn fn, void *ctx)
{
    tril_engine_event ev;
    event_base(&ev, s, TRIL_ENGINE_DONE);
    ev.reason = why;
    ev.status = status;
    if (fn) fn(&ev, ctx);
    for (int64_t b = s->n_blocks - 1; b >= 0; b--) e->free_blocks[e->n_free++] = s->blocks[b];
    e->n_reserved -= s->reserved;
    tril_sampler_free(s->sampler);
    free(s->prompt);
    int32_t *blocks = s->blocks;
    memset(s, 0, sizeof *s);
    s->blocks = blocks;
}

/* Queued requests into free slots, first come first served, while the KV
 * pool can promise them every block they may need (so a running request
 * never waits for memory). Cancelled ones end here. */
static tril_status admit(tril_engine *e, tril_engine_event_fn fn, void *ctx)
{
    while (e->q_count > 0) {
        engine_pending *p = e->queue[e->q_head];
        int64_t slot = -1;
        for (int64_t i = 0; i < e->cfg.slots && slot < 0; i++)
            if (!e->seqs[i].active) slot = i;
        if (!p->cancelled) {
            const int64_t need = blocks_needed(e, p->req.n_prompt, p->req.max_tokens);
            if (slot < 0 || e->n_reserved + need > e->kv_blocks) return TRIL_OK; /* it waits */
            engine_seq *s = &e->seqs[slot];
            tril_status st = tril_sampler_create(&p->req.sampling, e->V, &s->sampler);
            if (st != TRIL_OK) return st; /* validated at submit: only out of memory */
            s->active = 1;
            s->id = p->id;
            s->user = p->req.user;
            s->prompt = p->prompt;
            s->n_prompt = p->req.n_prompt;
            s->max_tokens = p->req.max_tokens;
            s->eot = p->req.eot;
            s->logprobs = p->req.logprobs;
            s->reserved = need;
            e->n_reserved += need;
        } else {
            engine_seq gone;
            memset(&gone, 0, sizeof gone);
            gone.id = p->id;
            gone.user = p->req.user;
            gone.n_prompt = p->req.n_prompt;
            tril_engine_event ev;
            event_base(&ev, &gone, TRIL_ENGINE_DONE);
            ev.reason = TRIL_FINISH_CANCELLED;
            if (fn) fn(&ev, ctx);
            free(p->prompt);
        }
        free(p);
        e->q_head = (e->q_head + 1) % e->cfg.max_queue;
        e->q_count--;
    }
    return TRIL_OK;
}

/* log p of every token from raw logits (before temperature and filters):
 * the token's and the n most likely, most likely first (lowest id on ties). */
static void logprobs_of(tril_engine *e, const float *logits, int32_t token, int32_t n,
                        tril_engine_event *ev)
{
    const int64_t V = e->V;
    float mx = logits[0];
    for (int64_t v = 1; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
    /* exp(l - max) by the sampler's vector kernel (libm's double exp took
     * ~0.7 ms a token over 50257 logits), summed in double as the sampler
     * sums its weights */
    tril_sample_weights(e->lp_weights, logits, V, (double)mx, 1.0);
    const double lse = (double)mx + log(tril_sample_weight_sum(e->lp_weights, V, e->lp_block_sums));
    ev->logprob = (float)((double)logits[token] - lse);
    ev->n_top = n;
    for (int32_t k = 0; k < n; k++) ev->top_ids[k] = -1;
    for (int64_t v = 0; v < V; v++) {
        int32_t k = n;
        while (k > 0 && (ev->top_ids[k - 1] < 0 || logits[v] > logits[ev->top_ids[k - 1]])) k--;
        if (k >= n) continue;
        for (int32_t j = n - 1; j > k; j--) ev->top_ids[j] = ev->top_ids[j - 1];
        ev->top_ids[k] = (int32_t)v;
    }
    for (int32_t k = 0; k < n; k++)
        ev->top_logprobs[k] = (float)((double)logits[ev->top_ids[k]] - lse);
}

/* Samples sequence s's next token from its logits and reports it. */
static void sample(tril_engine *e, engine_seq *s, const float *logits, tril_engine_event_fn fn,
                   void *ctx)
{
    tril_status st = tril_gpt2_check_logits(logits, 1, e->V, s->pos - 1, 1);
    int32_t next = -1;
    if (st == TRIL_OK) st = tril_sampler_next(s->sampler, logits, &next);
    if (st != TRIL_OK) {
        finish(e, s, TRIL_FINISH_ERROR, st, fn, ctx);
        return;
    }
    if (next == s->eot) {
        finish(e, s, TRIL_FINISH_STOP, TRIL_OK, fn, ctx);
        return;
    }
    s->generated++;
    tril_engine_event ev;
    event_base(&ev, s, TRIL_ENGINE_TOKEN);
    ev.token = next;
    if (s->logprobs > 0) logprobs_of(e, logits, next, s->logprobs, &ev);
    if (fn && fn(&ev, ctx)) {
        finish(e, s, TRIL_FINISH_CANCELLED, TRIL_OK, fn, ctx);
        return;
    }
    if (s->generated >= s->max_tokens || s->pos >= e->P) {
        finish(e, s, TRIL_FINISH_LENGTH, TRIL_OK, fn, ctx);
        return;
    }
    s->next = next;
}

tril_status tril_engine_step(tril_engine *e, tril_engine_event_fn fn, void *ctx)
{
    if (!e) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "engine: NULL argument");
    for (int64_t i = 0; i < e->cfg.slots; i++)
        if (e->seqs[i].active && e->seqs[i].cancelled)
            finish(e, &e->seqs[i], TRIL_FINISH_CANCELLED, TRIL_OK, fn, ctx);
    tril_status st = admit(e, fn, ctx);
    if (st != TRIL_OK) return st;
    /* the layout: the row-wise sequences first (one several-row GEMV pass
     * for all their rows), then each prompt chunk that gets its own GEMM;
     * slot order within each, so it is reproducible */
    int64_t n_seqs = 0, rowwise_rows = 0, rows = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < e->cfg.slots; i++) {
            engine_seq *s = &e->seqs[i];
            if (!s->active) continue;
            const int64_t left = s->n_prompt - s->pos;
            const int64_t want = left > 0 ? (left < e->cfg.prefill_chunk ? left : e->cfg.prefill_chunk) : 1;
            if (engine_rowwise(e->model, want) != (pass == 0)) continue;
            s->row0 = rows;
            s->rows = want;
            s->wants_logits = s->pos + want >= s->n_prompt;
            memcpy(e->ids + rows, left > 0 ? s->prompt + s->pos : &s->next,
                   (size_t)want * sizeof(int32_t));
            /* its blocks for positions [pos, pos + want): promised at admission */
            const int64_t bt = e->cfg.kv_block_tokens;
            while (s->n_blocks * bt < s->pos + want) s->blocks[s->n_blocks++] = e->free_blocks[--e->n_free];
            e->order[n_seqs++] = i;
            if (pass == 0) rowwise_rows += want;
            rows += want;
        }
    e->last_step_rows = rows;
    if (n_seqs == 0) return TRIL_OK;
    e->steps++;
    st = tril_engine_forward(e, n_seqs, rowwise_rows, rows);
    if (st != TRIL_OK) {
        /* the model failed for every row (a BLAS size limit): end them all */
        for (int64_t k = 0; k < n_seqs; k++)
            finish(e, &e->seqs[e->order[k]], TRIL_FINISH_ERROR, st, fn, ctx);
        return TRIL_OK;
    }
    int64_t head = 0;
    for (int64_t k = 0; k < n_seqs; k++) {
        engine_seq *s = &e->seqs[e->order[k]];
        s->pos += s->rows;
        if (s->wants_logits) sample(e, s, e->logits + head++ * e->V, fn, ctx);
    }
    return TRIL_OK;
}

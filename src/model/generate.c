/* Generation (the prompt in chunks, then one token at a time against the KV
 * cache, through the engine of tril/engine.h) and windowed evaluation. */
#include <stdlib.h>
#include <string.h>

#include "tril/engine.h"
#include "tril/generate.h"
#include "tril/ops.h"

typedef struct {
    tril_token_fn on_token;
    void *user;
    int64_t generated;
    tril_finish_reason reason;
    tril_status status;
} generate_run;

static int on_event(const tril_engine_event *ev, void *ctx)
{
    generate_run *run = ctx;
    if (ev->kind == TRIL_ENGINE_TOKEN) {
        run->generated = ev->completion_tokens;
        return run->on_token ? run->on_token(ev->token, run->user) : 0;
    }
    run->reason = ev->reason;
    run->status = ev->status;
    return 0;
}

tril_status tril_gpt2_generate_chunked(const tril_gpt2 *m, const int32_t *prompt,
                                       int64_t n_prompt, int64_t max_new,
                                       const tril_sampler_config *sampling, int32_t eot,
                                       int64_t prefill_chunk, tril_token_fn on_token, void *user,
                                       int64_t *generated, tril_stop_reason *reason)
{
    if (!m || !sampling || (!prompt && n_prompt > 0))
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "generate: NULL argument");
    if (n_prompt < 1) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "generate: the prompt has no tokens");
    if (max_new < 0) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "generate: token budget must be >= 0");
    const tril_gpt2_config *c = tril_gpt2_get_config(m);
    const int64_t P = c->n_positions;
    if (n_prompt > P)
        return TRIL_FAIL(TRIL_ERR_RANGE, "the prompt has %lld tokens; the model's context is %lld",
                         (long long)n_prompt, (long long)P);
    if (generated) *generated = 0;
    if (reason) *reason = TRIL_STOP_BUDGET;
    if (max_new == 0) return TRIL_OK;
    /* One request through the engine tril serve runs, so a request there
     * gives exactly these tokens. The KV pool holds what this request can
     * ever attend to. */
    tril_engine_config cfg = tril_engine_config_default();
    cfg.slots = 1;
    cfg.max_queue = 1;
    if (prefill_chunk > 0) cfg.prefill_chunk = prefill_chunk;
    if (cfg.kv_block_tokens > P) cfg.kv_block_tokens = P; /* a tiny model */
    int64_t tokens = n_prompt + max_new - 1 < P ? n_prompt + max_new - 1 : P;
    const int64_t blocks = (tokens + cfg.kv_block_tokens - 1) / cfg.kv_block_tokens;
    cfg.kv_memory_bytes = blocks * cfg.kv_block_tokens * 2 * c->n_layer * c->n_embd *
                          (int64_t)tril_dtype_size(tril_gpt2_get_kv_dtype(m));
    tril_engine *engine = NULL;
    tril_status st = tril_engine_create(m, &cfg, &engine);
    tril_engine_request req;
    memset(&req, 0, sizeof req);
    req.prompt = prompt;
    req.n_prompt = n_prompt;
    req.max_tokens = max_new;
    req.sampling = *sampling;
    req.eot = eot;
    uint64_t id;
    generate_run run = {on_token, user, 0, TRIL_FINISH_LENGTH, TRIL_OK};
    if (st == TRIL_OK) st = tril_engine_submit(engine, &req, &id);
    while (st == TRIL_OK && tril_engine_busy(engine)) st = tril_engine_step(engine, on_event, &run);
    tril_engine_free(engine);
    if (st == TRIL_OK && run.reason == TRIL_FINISH_ERROR) st = run.status;
    if (generated) *generated = run.generated;
    if (reason) {
        switch (run.reason) {
        case TRIL_FINISH_STOP: *reason = TRIL_STOP_EOT; break;
        case TRIL_FINISH_CANCELLED: *reason = TRIL_STOP_CALLBACK; break;
        default: *reason = run.generated < max_new ? TRIL_STOP_CONTEXT_FULL : TRIL_STOP_BUDGET;
        }
    }
    return st;
}

tril_status tril_gpt2_generate(const tril_gpt2 *m, const int32_t *prompt, int64_t n_prompt,
                               int64_t max_new, const tril_sampler_config *sampling, int32_t eot,
                               tril_token_fn on_token, void *user, int64_t *generated,
                               tril_stop_reason *reason)
{
    return tril_gpt2_generate_chunked(m, prompt, n_prompt, max_new, sampling, eot, 0, on_token,
                                      user, generated, reason);
}

tril_status tril_gpt2_eval(const tril_gpt2 *m, const int32_t *ids, int64_t count, int64_t context,
                           double *total_nats, int64_t *predicted)
{
    if (!m || (!ids && count > 0) || !total_nats || !predicted)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "eval: NULL argument");
    const tril_gpt2_config *c = tril_gpt2_get_config(m);
    const int64_t P = c->n_positions, V = c->vocab_size;
    if (context < 2 || context > P)
        return TRIL_FAIL(TRIL_ERR_RANGE, "eval: context %lld outside [2, %lld]", (long long)context,
                         (long long)P);
    for (int64_t i = 0; i < count; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return TRIL_FAIL(TRIL_ERR_RANGE, "eval: token id %d at position %lld is outside [0, %lld)",
                             ids[i], (long long)i, (long long)V);
    /* Each window is fed in chunks through the cache, so logits exist for at
     * most `chunk` rows at a time (a full 1024 x 50257 block is 200 MB). */
    const int64_t chunk = context < 128 ? context : 128;
    tril_gpt2_state *state = NULL;
    float *logits = malloc((size_t)(chunk * V) * sizeof *logits);
    tril_status st = logits ? TRIL_OK : TRIL_FAIL(TRIL_ERR_NOMEM, "eval: out of memory");
    if (st == TRIL_OK) st = tril_gpt2_state_create(m, context, chunk, &state);
    double nats = 0.0;
    int64_t n = 0;
    for (int64_t w0 = 0; st == TRIL_OK && w0 < count; w0 += context) {
        const int64_t len = count - w0 < context ? count - w0 : context;
        if (len < 2) break;
        tril_gpt2_state_reset(state);
        for (int64_t c0 = 0; st == TRIL_OK && c0 < len - 1; c0 += chunk) {
            /* Rows c0..c0+k-1 predict tokens c0+1..c0+k of the window. */
            const int64_t k = len - 1 - c0 < chunk ? len - 1 - c0 : chunk;
            st = tril_gpt2_forward(m, state, ids + w0 + c0, k, NULL, logits);
            for (int64_t r = 0; st == TRIL_OK && r < k; r++) {
                nats += tril_cross_entropy(logits + r * V, V, ids[w0 + c0 + r + 1]);
                n++;
            }
        }
    }
    if (st == TRIL_OK) {
        *total_nats = nats;
        *predicted = n;
    }
    tril_gpt2_state_free(state);
    free(logits);
    return st;
}

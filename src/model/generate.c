/* Generation (prefill once, then one token at a time against the KV cache)
 * and windowed evaluation. */
#include <stdlib.h>

#include "tril/generate.h"
#include "tril/ops.h"

tril_status tril_gpt2_generate(const tril_gpt2 *m, const int32_t *prompt, int64_t n_prompt,
                               int64_t max_new, const tril_sampler_config *sampling, int32_t eot,
                               tril_token_fn on_token, void *user, int64_t *generated,
                               tril_stop_reason *reason)
{
    if (!m || !sampling || (!prompt && n_prompt > 0))
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "generate: NULL argument");
    if (n_prompt < 1) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "generate: the prompt has no tokens");
    if (max_new < 0) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "generate: token budget must be >= 0");
    const tril_gpt2_config *c = tril_gpt2_get_config(m);
    const int64_t P = c->n_positions, V = c->vocab_size;
    if (n_prompt > P)
        return TRIL_FAIL(TRIL_ERR_RANGE, "the prompt has %lld tokens; the model's context is %lld",
                         (long long)n_prompt, (long long)P);
    tril_sampler *sampler = NULL;
    tril_gpt2_state *state = NULL;
    float *logits = malloc((size_t)V * sizeof *logits);
    tril_status st = logits ? TRIL_OK : TRIL_FAIL(TRIL_ERR_NOMEM, "generate: out of memory");
    if (st == TRIL_OK) st = tril_sampler_create(sampling, V, &sampler);
    /* The cache holds everything that can ever be attended to. */
    int64_t capacity = n_prompt + max_new < P ? n_prompt + max_new : P;
    if (st == TRIL_OK) st = tril_gpt2_state_create(m, capacity, n_prompt, &state);
    if (st == TRIL_OK) st = tril_gpt2_forward(m, state, prompt, n_prompt, logits, NULL);
    int64_t count = 0;
    tril_stop_reason why = TRIL_STOP_BUDGET;
    while (st == TRIL_OK && count < max_new) {
        int32_t next;
        st = tril_sampler_next(sampler, logits, &next);
        if (st != TRIL_OK) break;
        if (next == eot) {
            why = TRIL_STOP_EOT;
            break;
        }
        count++;
        if (on_token && on_token(next, user)) {
            why = TRIL_STOP_CALLBACK;
            break;
        }
        if (count == max_new) break;
        if (tril_gpt2_state_position(state) >= P) {
            why = TRIL_STOP_CONTEXT_FULL;
            break;
        }
        st = tril_gpt2_forward(m, state, &next, 1, logits, NULL);
    }
    if (generated) *generated = count;
    if (reason) *reason = why;
    tril_gpt2_state_free(state);
    tril_sampler_free(sampler);
    free(logits);
    return st;
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

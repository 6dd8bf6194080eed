/* tril/generate.h - sampling, generation with a KV cache, and evaluation. */
#ifndef TRIL_GENERATE_H
#define TRIL_GENERATE_H

#include <stdint.h>

#include "tril/gpt2.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float temperature; /* 0: greedy (argmax, ties to the lowest id) */
    int64_t top_k;     /* 0: off; else keep the k most likely tokens */
    float top_p;       /* 1: off; else the smallest set with mass >= top_p, in (0, 1] */
    uint64_t seed;     /* same seed, same tokens */
} tril_sampler_config;

/* Defaults: temperature 1, top_k 0, top_p 1, seed 0. */
tril_sampler_config tril_sampler_config_default(void);
/* temperature >= 0 and finite, top_k >= 0, top_p in (0, 1]. */
tril_status tril_sampler_config_validate(const tril_sampler_config *cfg);

typedef struct tril_sampler tril_sampler;
tril_status tril_sampler_create(const tril_sampler_config *cfg, int64_t vocab_size,
                                tril_sampler **out);
void tril_sampler_free(tril_sampler *s);
/* Picks the next token from logits [vocab] into *id (set only on success).
 * A NaN or +inf logit is TRIL_ERR_RANGE naming the first such token, and so
 * is a row of all -inf; -inf alone is a legal logit (probability 0). The id
 * returned always has a finite logit and passes top-k / top-p; when the
 * temperature makes every other token underflow, that is the arg-max. */
tril_status tril_sampler_next(tril_sampler *s, const float *logits, int32_t *id);

typedef enum {
    TRIL_STOP_BUDGET = 0,   /* generated the requested number of tokens */
    TRIL_STOP_EOT,          /* produced <|endoftext|> (not counted, not printed) */
    TRIL_STOP_CONTEXT_FULL, /* reached n_positions: nothing can follow */
    TRIL_STOP_CALLBACK      /* the callback asked to stop */
} tril_stop_reason;

/* Called with each new token as it is produced; return non-zero to stop. */
typedef int (*tril_token_fn)(int32_t id, void *user);

/* Prefills the prompt (causal mask over it), then generates up to
 * max_new tokens one at a time against the cache. eot < 0: never stop on a
 * token. A prompt longer than the context is TRIL_ERR_RANGE; an empty one is
 * TRIL_ERR_INVALID_ARG; logits the sampler refuses (NaN, +inf, all -inf)
 * stop it with that TRIL_ERR_RANGE. *generated counts tokens passed to the
 * callback. */
tril_status tril_gpt2_generate(const tril_gpt2 *model, const int32_t *prompt, int64_t n_prompt,
                               int64_t max_new, const tril_sampler_config *sampling, int32_t eot,
                               tril_token_fn on_token, void *user, int64_t *generated,
                               tril_stop_reason *reason);

/* The same, reading the prompt prefill_chunk tokens per step (0: the
 * engine's default, 256) as tril serve does with --prefill-chunk: the
 * tokens equal tril serve's for the same chunk whatever else it serves. */
tril_status tril_gpt2_generate_chunked(const tril_gpt2 *model, const int32_t *prompt,
                                       int64_t n_prompt, int64_t max_new,
                                       const tril_sampler_config *sampling, int32_t eot,
                                       int64_t prefill_chunk, tril_token_fn on_token, void *user,
                                       int64_t *generated, tril_stop_reason *reason);

/* Mean next-token loss of a token sequence: split into consecutive
 * non-overlapping windows of `context` tokens (a last partial window counts
 * if it has >= 2 tokens); each window predicts its tokens 2..end from those
 * before it in the same window. Returns the summed loss (nats) and the number
 * of predicted tokens. */
tril_status tril_gpt2_eval(const tril_gpt2 *model, const int32_t *ids, int64_t count,
                           int64_t context, double *total_nats, int64_t *predicted);

#ifdef __cplusplus
}
#endif
#endif

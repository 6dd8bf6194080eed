/* tril/engine.h - many generation requests at once over one model
 * (continuous batching), with a paged KV cache.
 *
 * A pool of sequence slots over one model. Each tril_engine_step gathers
 * every active sequence's new tokens - one token for each decoding sequence,
 * a chunk of at most `prefill_chunk` prompt tokens for each sequence still
 * reading its prompt - runs the dense layers over all of them, attention per
 * sequence against its own KV cache, logits for each sequence's last row,
 * and samples with each request's own parameters and random stream.
 *
 * KV memory comes from a pool of fixed-size blocks handed to sequences as
 * they grow and returned when they end, so it follows the tokens held, not
 * slots x context. A request waits in the queue while no slot or not enough
 * blocks are free.
 *
 * A request's tokens never depend on what else is being served: the same
 * model, prompt and parameters give the same tokens alone or beside any other
 * requests, bit for bit (docs/SERVING.md says why), and `tril generate` runs
 * through this engine too.
 *
 * Not thread-safe: one thread owns an engine (the server's engine thread);
 * other threads hand it requests through their own queue. */
#ifndef TRIL_ENGINE_H
#define TRIL_ENGINE_H

#include <stdint.h>

#include "tril/error.h"
#include "tril/generate.h"
#include "tril/gpt2.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tril_engine tril_engine;

typedef struct {
    int64_t slots;           /* sequences in flight at once, >= 1 (default 8) */
    int64_t prefill_chunk;   /* prompt tokens per sequence per step, >= 1 (default 256) */
    int64_t kv_block_tokens; /* tokens per KV block, >= 1 (default 16) */
    int64_t kv_memory_bytes; /* the KV pool; 0: enough for every slot at full context */
    int64_t max_queue;       /* requests waiting for a slot, >= 1 (default 64) */
} tril_engine_config;

tril_engine_config tril_engine_config_default(void);

/* The most top log-probabilities a request may ask for per token. */
#define TRIL_ENGINE_MAX_LOGPROBS 20

typedef struct {
    const int32_t *prompt;        /* n_prompt >= 1 ids, copied by submit */
    int64_t n_prompt;
    int64_t max_tokens;           /* >= 1; the context's end also stops it */
    tril_sampler_config sampling; /* temperature 0: greedy */
    int32_t eot;                  /* stop after this id (not emitted); < 0: none */
    int32_t logprobs;             /* top-N log-probabilities per token, 0..20 */
    void *user;                   /* handed back in every event */
} tril_engine_request;

typedef enum {
    TRIL_ENGINE_TOKEN = 0, /* a generated token */
    TRIL_ENGINE_DONE       /* the request ended (reason / status say how) */
} tril_engine_event_kind;

typedef enum {
    TRIL_FINISH_LENGTH = 0, /* max_tokens generated, or the context is full */
    TRIL_FINISH_STOP,       /* the eot token */
    TRIL_FINISH_CANCELLED,  /* tril_engine_cancel, or the callback asked */
    TRIL_FINISH_ERROR       /* status says what (e.g. a non-finite logit) */
} tril_finish_reason;

typedef struct {
    tril_engine_event_kind kind;
    uint64_t id;
    void *user;
    /* TOKEN */
    int32_t token;
    float logprob;  /* log p(token) under the model (before temperature/top-k/top-p);
                       computed only when the request asks for logprobs (else 0) */
    int32_t n_top;  /* = the request's logprobs */
    int32_t top_ids[TRIL_ENGINE_MAX_LOGPROBS];
    float top_logprobs[TRIL_ENGINE_MAX_LOGPROBS]; /* most likely first */
    /* DONE */
    tril_finish_reason reason;
    tril_status status; /* TRIL_OK unless reason is ERROR (message: tril_last_error) */
    /* both */
    int64_t prompt_tokens;
    int64_t completion_tokens; /* tokens emitted so far */
} tril_engine_event;

/* Called for each event during tril_engine_step. Returning non-zero from a
 * TOKEN event cancels that request (it gets a DONE with CANCELLED). */
typedef int (*tril_engine_event_fn)(const tril_engine_event *event, void *ctx);

/* The model must outlive the engine. TRIL_ERR_NOMEM if the KV pool cannot
 * be allocated; TRIL_ERR_RANGE for a config out of range or a KV budget
 * below one block. */
tril_status tril_engine_create(const tril_gpt2 *model, const tril_engine_config *cfg,
                               tril_engine **out);
void tril_engine_free(tril_engine *engine);

/* Queues a request; *id names it in events. TRIL_ERR_INVALID_ARG for an
 * empty prompt, max_tokens < 1, logprobs out of range, bad sampling values;
 * TRIL_ERR_RANGE for an id outside the vocabulary, a prompt longer than the
 * context (a prompt of exactly n_positions tokens gets one token), or a
 * request that may need more KV cache than the whole pool (prompt +
 * max_tokens - 1 tokens, within the context); TRIL_ERR_BUSY when the queue
 * is full. */
tril_status tril_engine_submit(tril_engine *engine, const tril_engine_request *request,
                               uint64_t *id);

/* Ends a queued or running request at the next step (DONE, CANCELLED); its
 * slot and KV blocks are freed then. Unknown or finished ids: TRIL_ERR_RANGE. */
tril_status tril_engine_cancel(tril_engine *engine, uint64_t id);

/* One step: admits queued requests into free slots (first come, first
 * served, while KV blocks last), runs every active sequence one token or
 * one prompt chunk further, and reports what happened through `fn`.
 * Returns an error only for failures of the engine itself (out of memory);
 * a request's own failure is its DONE event. Does nothing when idle. */
tril_status tril_engine_step(tril_engine *engine, tril_engine_event_fn fn, void *ctx);

typedef struct {
    int64_t queued;          /* waiting for a slot */
    int64_t active;          /* in a slot */
    int64_t kv_blocks_used;
    int64_t kv_blocks_total;
    int64_t kv_block_tokens;
    int64_t last_step_rows;  /* rows (tokens) the last step ran */
    int64_t steps;           /* steps run so far */
} tril_engine_stats;

void tril_engine_get_stats(const tril_engine *engine, tril_engine_stats *stats);

/* 1 while a request is queued or running. */
int tril_engine_busy(const tril_engine *engine);

#ifdef __cplusplus
}
#endif
#endif /* TRIL_ENGINE_H */

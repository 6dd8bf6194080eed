/* The engine's private layout (engine.c schedules, engine_forward.c runs a
 * step's rows through the model). */
#ifndef TRIL_MODEL_ENGINE_INTERNAL_H
#define TRIL_MODEL_ENGINE_INTERNAL_H

#include <stdint.h>

#include "model/gpt2_internal.h"
#include "tril/engine.h"

/* A request waiting for a slot. */
typedef struct {
    uint64_t id;
    tril_engine_request req; /* req.prompt points at `prompt` */
    int32_t *prompt;
    int cancelled;
} engine_pending;

/* One sequence slot. */
typedef struct {
    int active;
    uint64_t id;
    void *user;
    int32_t *prompt;
    int64_t n_prompt;
    int64_t pos;       /* tokens in the KV cache */
    int32_t next;      /* the sampled token to feed next (decoding) */
    int64_t generated; /* tokens emitted */
    int64_t max_tokens;
    int32_t eot;
    int32_t logprobs;
    tril_sampler *sampler;
    int32_t *blocks;   /* [pages_per_seq] KV blocks, in position order */
    int64_t n_blocks;  /* blocks held */
    int64_t reserved;  /* blocks reserved at admission (the most it can need) */
    int cancelled;
    /* this step */
    int64_t row0, rows; /* its rows in the step's buffers */
    int wants_logits;   /* its last row's logits are sampled this step */
} engine_seq;

struct tril_engine {
    const tril_gpt2 *model;
    tril_engine_config cfg;
    int64_t C, V, I, L, P;
    /* the KV pool: per layer, K and V of kv_blocks blocks of block_tokens rows */
    tril_dtype kv_dtype;    /* the pool's: the model's when the engine was made */
    void *k_pool, *v_pool;  /* [L, blocks, block_tokens, C] each, in kv_dtype */
    int64_t kv_blocks, pages_per_seq;
    int32_t *free_blocks; /* stack */
    int64_t n_free, n_reserved;
    engine_seq *seqs;     /* [slots] */
    engine_pending **queue; /* ring of max_queue */
    int64_t q_head, q_count;
    uint64_t next_id;
    int64_t last_step_rows, steps;
    /* a step's buffers, for up to max_rows rows */
    int64_t max_rows, wide;
    int32_t *ids;
    float *x, *ln, *qkv, *att, *proj, *fc;
    float *partials;  /* [group_rows, TRIL_MATVEC_PARTIALS(wide)] */
    float *lp_weights; /* [V] a sequence's exp(logit - max) for its log-probabilities */
    double *lp_block_sums; /* [V / TRIL_SAMPLE_BLOCK + 1] their sum's blocks */
    int64_t group_rows; /* fp32 row-wise rows per GEMV call */
    float *wbuf;      /* bf16 / int8 model off AMX: one widened matrix [wide, C] */
    float *head_in;   /* [slots, C] the rows that get logits */
    float *logits;    /* [slots, V] */
    int64_t *order;   /* [slots] this step's sequences, row-wise ones first */
};

/* Prompt chunks of at most this many rows go through the several-row GEMVs
 * with the decoding rows, instead of a GEMM of their own. In the bf16 and
 * int8 models a GEMM first widens or dequantises every matrix into fp32,
 * which costs more than the GEMV's arithmetic for short chunks and reads
 * all the weights once more per chunk; in the fp32 model OpenBLAS's GEMM
 * over a short chunk packs the whole matrix for a few rows (16 chunks of
 * 18 rows: 56-63 GFLOP/s as 16 GEMMs, 96-125 row-wise together). */
#define TRIL_ENGINE_ROWWISE_MAX 32

/* Rows per call of the fp32 several-row GEMV (its block sums need
 * TRIL_MATVEC_PARTIALS(out) floats per row): a step's row-wise rows go
 * through in groups of this many, or of --slots if that is more. Each
 * row's result does not depend on the group it is in. */
#define TRIL_ENGINE_GEMV_GROUP 64

/* Whether a sequence with `rows` rows this step runs row-wise (the
 * several-row GEMVs, every row exactly the one-row kernel's): one row
 * always, and a prompt chunk of at most TRIL_ENGINE_ROWWISE_MAX rows; on
 * Intel AMX every chunk, since the tile product gives each row the same
 * result whatever shares the call, so the step's chunks and decoding rows
 * all go through one product per matrix and the weights are read once. It
 * depends only on the model and the sequence's own chunk, never on the
 * batch. */
static inline int engine_rowwise(const tril_gpt2 *model, int64_t rows)
{
    return rows <= TRIL_ENGINE_ROWWISE_MAX || model->wte_lowp.amx;
}

/* Runs the step's rows (seqs[order[0..n_seqs)] with rows > 0, the row-wise
 * ones first, their rows contiguous [0, rowwise_rows)) through the model:
 * their keys and values join the KV pool, and each sequence with
 * wants_logits gets its last row's logits in e->logits[k] (k: its rank
 * among those). */
tril_status tril_engine_forward(tril_engine *e, int64_t n_seqs, int64_t rowwise_rows,
                                int64_t rows);

#endif

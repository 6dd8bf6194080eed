/* tril/gpt2.h - GPT-2 family models: config, parameters, loading, forward
 * with a KV cache.
 *
 * Parameters live in one table of named tensors (Hugging Face names without
 * the optional "transformer." prefix, in the order of tril_gpt2_param_names).
 * For training they sit in one contiguous fp32 arena whose layout gradients
 * and optimizer state mirror; for inference from an fp32 safetensors file
 * they point straight into the memory-mapped file (no copy). */
#ifndef TRIL_GPT2_H
#define TRIL_GPT2_H

#include <stddef.h>
#include <stdint.h>

#include "tril/dtype.h"
#include "tril/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t n_layer;
    int64_t n_head;
    int64_t n_embd;       /* C; head dim D = C / n_head */
    int64_t n_positions;  /* context length */
    int64_t vocab_size;   /* V */
    float layer_norm_epsilon;
    /* Hugging Face GPT2Config options that change the math. Zero is GPT-2's
     * default in each, so {L, H, C, P, V, eps} alone is plain GPT-2. */
    int64_t n_inner;           /* MLP width I; 0: 4 * n_embd (HF's null) */
    int attn_unscaled;         /* scale_attn_weights: false (scores not / sqrt(D)) */
    int attn_inverse_layer;    /* scale_attn_by_inverse_layer_idx: scores / (layer + 1) */
    int reorder_and_upcast_attn; /* the same math in fp32, which tril always
                                    computes in: kept only to be written back */
    int head_untied;           /* tie_word_embeddings: false (the file must then
                                  hold an lm_head.weight, equal to wte) */
} tril_gpt2_config;

/* Reads a Hugging Face config.json: n_layer, n_head, n_embd, n_positions (or
 * n_ctx, used only without n_positions, as HF does), vocab_size,
 * layer_norm_epsilon (default 1e-5), activation_function (must be gelu_new,
 * gelu_pytorch_tanh or absent), n_inner (null or >= 1), scale_attn_weights,
 * scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn,
 * tie_word_embeddings (booleans). Keys whose values would change the math in
 * a way tril does not implement are refused with TRIL_ERR_UNSUPPORTED naming
 * the key: model_type other than "gpt2", add_cross_attention true, a
 * non-empty pruned_heads. Errors name the missing or bad key. */
tril_status tril_gpt2_config_load(const char *path, tril_gpt2_config *out);
/* Checks the values: all >= 1, n_embd % n_head == 0, sizes that fit. */
tril_status tril_gpt2_config_validate(const tril_gpt2_config *cfg);
/* Number of parameters (wte counted once: the LM head is tied). */
int64_t tril_gpt2_num_params(const tril_gpt2_config *cfg);
/* The MLP width: n_inner, or 4 * n_embd when it is 0. */
int64_t tril_gpt2_mlp_width(const tril_gpt2_config *cfg);
/* What layer `layer` (0-based) multiplies q.k by: 1/sqrt(D) (1 with
 * attn_unscaled), divided by layer + 1 with attn_inverse_layer - the same
 * factor in the forward, the KV-cache decoding and the training backward. */
float tril_gpt2_attn_scale(const tril_gpt2_config *cfg, int64_t layer);

/* One named parameter tensor. */
typedef struct {
    char name[48];     /* e.g. "h.3.attn.c_attn.weight" */
    int32_t ndim;
    int64_t shape[2];
    int64_t numel;
    int64_t offset;    /* element offset in the arena layout */
    int decay;         /* 1 for matrices and embeddings (weight decay), 0 for biases/LayerNorm */
} tril_param_info;

/* A model: its config, parameter table and weights. Opaque: where the
 * weights live (an owned arena, the file's mapping, bf16 copies) is the
 * library's business; the accessors below say what callers may rely on. */
typedef struct tril_gpt2 tril_gpt2;

/* The parameter table of a config: names, shapes, offsets (arena order).
 * *out is malloc'd; caller frees. */
tril_status tril_gpt2_param_table(const tril_gpt2_config *cfg, tril_param_info **out, size_t *count);

typedef struct {
    int copy_to_arena; /* 1: always copy into an owned, writable arena (training) */
    /* TRIL_BF16 / TRIL_INT8: the bf16 or int8 model (tril_gpt2_use_dtype),
     * converted tensor by tensor from the mapping. Inference only. */
    tril_dtype weight_dtype;
    /* 1: with TRIL_BF16, the matrices and wte repacked for Intel AMX where
     * the CPU has it (tril_gpt2_use_amx); what the tril commands ask. */
    int amx;
} tril_gpt2_load_opts;

/* Loads a Hugging Face GPT-2 folder: config.json + model.safetensors.
 * Accepts the "transformer." prefix, tolerates h.N.attn.bias (checked to be
 * the lower-triangular causal mask) and h.N.attn.masked_bias, an
 * lm_head.weight identical to wte. F32 weights are used in place from the
 * mapping; F16/BF16 are converted to an fp32 arena (tensors may sit at any
 * byte offset). Every weight must be finite (TRIL_ERR_FORMAT names the
 * tensor and index); for bf16, finite in bf16 too (TRIL_ERR_RANGE). The
 * bf16 model is converted tensor by tensor from the mapping, never through a
 * whole fp32 copy. opts may be NULL. */
tril_status tril_gpt2_load(const char *dir, const tril_gpt2_load_opts *opts, tril_gpt2 **out);
/* A model with an owned zeroed arena for a config (training from scratch). */
tril_status tril_gpt2_create(const tril_gpt2_config *cfg, tril_gpt2 **out);
void tril_gpt2_free(tril_gpt2 *model);
/* Turns a model with an owned arena into the bf16 model (what loading with
 * weight_dtype = TRIL_BF16 does): every weight rounded to bf16; wte and the
 * matrices kept only as bf16 (matrices transposed for decoding), the fp32
 * arena freed, so the weights take half the memory. Computation stays fp32
 * (weights widen exactly). Not for training or saving. A non-finite weight
 * (TRIL_ERR_FORMAT) or one beyond bf16's range (TRIL_ERR_RANGE) is refused
 * and the model left unchanged. */
tril_status tril_gpt2_use_bf16(tril_gpt2 *model);
/* The same for TRIL_BF16 or TRIL_INT8: the int8 model keeps wte and the
 * matrices as int8 with a scale per block of 32 (Q8_0, tril/ops.h), the
 * rest in fp32 as it was. Inference only, like bf16. */
tril_status tril_gpt2_use_dtype(tril_gpt2 *model, tril_dtype dtype);
/* A bf16 model's matrices and wte repacked in place for Intel AMX, if the
 * CPU has AMX-BF16 and the OS grants the tile state (TRIL_AMX=0 says no):
 * its products then run on the tile unit, many rows for about the price of
 * one. Every x value enters to 16 significant bits (two bf16 parts, within
 * 2^-16 of it: 128 times finer than the bf16 weights) and the sums are
 * fp32, so results agree with the AVX-512 path (x exact) to about 2^-16,
 * not bit for bit. Does nothing (TRIL_OK) for another dtype, without AMX, or if
 * a matrix's inputs are not a multiple of 32. find_param then reports the
 * tensors as packed. */
tril_status tril_gpt2_use_amx(tril_gpt2 *model);
/* 1 when the model's bf16 weights are in the AMX layout. */
int tril_gpt2_uses_amx(const tril_gpt2 *model);
/* GPT-2 initialisation of an owned arena: N(0, 0.02) matrices and
 * embeddings, N(0, 0.02/sqrt(2L)) residual projections, zero biases, unit
 * LayerNorm weights. Deterministic in the seed. */
tril_status tril_gpt2_init_random(tril_gpt2 *model, uint64_t seed);
/* A model for a config with tril_gpt2_init_random's weights from `seed`,
 * in dtype (TRIL_F32, TRIL_BF16 or TRIL_INT8): the same model as
 * tril_gpt2_create + tril_gpt2_init_random (+ tril_gpt2_use_dtype), but a
 * bf16 or int8 one is drawn and converted a tensor at a time, never holding
 * the whole fp32 model (which would make the peak 2-4x the steady state). */
tril_status tril_gpt2_create_random(const tril_gpt2_config *cfg, uint64_t seed, tril_dtype dtype,
                                    tril_gpt2 **out);
/* Configs by name for benchmarks and tests: "gpt2-124m", "gpt2-355m",
 * "gpt2-774m", "gpt2-1558m" (Hugging Face gpt2, -medium, -large, -xl).
 * An unknown name is TRIL_ERR_INVALID_ARG naming it and the known ones
 * (*out untouched). */
tril_status tril_gpt2_config_by_name(const char *name, tril_gpt2_config *out);

/* --- what a model holds ---------------------------------------------------- */

/* Where a model's weights live, which decides what may be done with them. */
typedef enum {
    /* An owned, writable fp32 arena (tril_gpt2_create, loading with
     * copy_to_arena, or from F16/BF16/misaligned F32 files): trainable. */
    TRIL_GPT2_ARENA = 0,
    /* fp32 weights used in place from the file's read-only mapping. */
    TRIL_GPT2_MAPPED,
    /* The bf16 model (tril_gpt2_use_bf16): inference only. */
    TRIL_GPT2_BF16,
    /* The int8 model (tril_gpt2_use_dtype): inference only. */
    TRIL_GPT2_INT8
} tril_gpt2_storage;

/* The model's config (owned by the model; NULL for a NULL model). */
const tril_gpt2_config *tril_gpt2_get_config(const tril_gpt2 *model);
tril_gpt2_storage tril_gpt2_get_storage(const tril_gpt2 *model);
/* What the forward reads: TRIL_F32, or TRIL_BF16 for the bf16 model. */
tril_dtype tril_gpt2_get_weight_dtype(const tril_gpt2 *model);
/* The dtype of the KV cache of the states (tril_gpt2_state_create) and
 * engines made from the model from here on: TRIL_F32 (the default) or
 * TRIL_BF16, which rounds each key and value to bf16 as it is cached and
 * halves what a decoding step reads of the cache (and the cache's memory).
 * Prefill and decoding both read the cache, so a decoding step still equals
 * recomputing the sequence. Anything else is TRIL_ERR_UNSUPPORTED. */
tril_status tril_gpt2_set_kv_dtype(tril_gpt2 *model, tril_dtype kv_dtype);
tril_dtype tril_gpt2_get_kv_dtype(const tril_gpt2 *model);
/* The dtype the weights had in the file, as safetensors names it: "F32",
 * "F16" or "BF16" ("F32" for tril_gpt2_create). */
const char *tril_gpt2_get_stored_dtype(const tril_gpt2 *model);
/* The model's parameter table (as tril_gpt2_param_table makes it), owned by
 * the model: *count entries in arena order. */
const tril_param_info *tril_gpt2_get_params(const tril_gpt2 *model, size_t *count);

/* One parameter's values, as the model holds them. */
typedef struct {
    const tril_param_info *info; /* name, shape as in the file (Conv1D matrices
                                    [in, out]), numel, arena offset, decay */
    tril_dtype dtype;            /* of data: TRIL_F32, or TRIL_BF16 / TRIL_INT8
                                    for what the bf16 / int8 model keeps only
                                    in that dtype (wte and every layer's four
                                    matrices) */
    int transposed;              /* 1: data is the matrix transposed,
                                    [shape[1], shape[0]] (the bf16 / int8
                                    matrices) */
    int packed;                  /* 1: data is in the AMX tile layout
                                    (tril_gpt2_use_amx): neither as stored
                                    nor transposed */
    const void *data;            /* info->numel values, read-only */
    const uint16_t *scales;      /* TRIL_INT8: an fp16 scale per block of
                                    TRIL_Q8_BLOCK values of each row of data
                                    (tril/ops.h); else NULL */
} tril_gpt2_tensor;

/* Looks a parameter up by its table name (e.g. "h.0.attn.c_attn.weight").
 * An unknown name is TRIL_ERR_INVALID_ARG naming it. */
tril_status tril_gpt2_find_param(const tril_gpt2 *model, const char *name, tril_gpt2_tensor *out);

/* The owned fp32 arena of a TRIL_GPT2_ARENA model: every parameter at its
 * tril_param_info.offset, *numel values (tril_gpt2_num_params). Writable:
 * an optimizer updates it in place, and gradients and AdamW moments mirror
 * its layout. A model without one (mapped or bf16) is TRIL_ERR_UNSUPPORTED,
 * with *data = NULL and *numel = 0. */
tril_status tril_gpt2_get_arena(tril_gpt2 *model, float **data, int64_t *numel);

/* --- inference state: KV cache and activations -------------------------- */

typedef struct tril_gpt2_state tril_gpt2_state;

/* A state for up to `max_tokens` positions (<= n_positions) and up to
 * `max_batch_tokens` tokens per forward call. A KV cache of 1 MB or more
 * sits on 2 MB huge pages where the system gives them (faster attention):
 * its first token then makes up to 4 MB a layer resident, the rest as
 * positions fill it. */
tril_status tril_gpt2_state_create(const tril_gpt2 *model, int64_t max_tokens,
                                   int64_t max_batch_tokens, tril_gpt2_state **out);
void tril_gpt2_state_free(tril_gpt2_state *state);
/* Forget the cache (position back to 0). */
void tril_gpt2_state_reset(tril_gpt2_state *state);
/* Tokens already in the cache. */
int64_t tril_gpt2_state_position(const tril_gpt2_state *state);

/* Runs `count` new tokens through the model at positions pos..pos+count-1,
 * appending their keys and values to the cache. Writes logits for the last
 * token into `logits_last` [V] (if not NULL) and, if `logits_all` is not NULL,
 * logits for every new token [count, V]. Errors: ids outside [0, V) ->
 * TRIL_ERR_RANGE; a non-finite logit -> TRIL_ERR_RANGE (the cache has taken
 * the tokens); the cache would overflow -> TRIL_ERR_RANGE ("context full:
 * N + M > max"); count > max_batch_tokens -> TRIL_ERR_INVALID_ARG. */
tril_status tril_gpt2_forward(const tril_gpt2 *model, tril_gpt2_state *state, const int32_t *ids,
                              int64_t count, float *logits_last, float *logits_all);

/* Logits [rows, vocab] must all be finite: an overflow (finite weights can
 * cause one) is TRIL_ERR_RANGE naming the first, never a NaN handed on.
 * Row r is at position first_position + r % seq_len (for the message). */
tril_status tril_gpt2_check_logits(const float *logits, int64_t rows, int64_t vocab,
                                   int64_t first_position, int64_t seq_len);

/* Attention probabilities of one head over a prompt [count, count] (row i:
 * query i). Runs a fresh forward up to that layer. */
tril_status tril_gpt2_attention_probs(const tril_gpt2 *model, const int32_t *ids, int64_t count,
                                      int64_t layer, int64_t head, float *probs);

#ifdef __cplusplus
}
#endif
#endif

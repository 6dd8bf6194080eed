/* The model's layout, private to the library (src/model, src/train): public
 * code reaches a tril_gpt2 only through the accessors in tril/gpt2.h, so
 * who owns which buffer (arena, mapping, bf16 copies) can change freely. */
#ifndef TRIL_MODEL_GPT2_INTERNAL_H
#define TRIL_MODEL_GPT2_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tril/gpt2.h"

/* A matrix of the bf16 or int8 model in the decoding layout [rows, cols]
 * (the Conv1D matrices transposed to [out, in]; wte as stored, [V, C]):
 * bf16 (uint16_t), or int8 with a scale per TRIL_Q8_BLOCK of each row
 * (tril/ops.h). data NULL: the fp32 model. */
typedef struct {
    const void *data;
    const uint16_t *scales; /* int8: [rows, ceil(cols / TRIL_Q8_BLOCK)] */
    int amx;                /* bf16 repacked for Intel AMX (model/gemm_amx.h) */
} tril_lowp;

/* Per-layer views. Shapes: C = n_embd. In a bf16 or int8 model the four
 * matrices exist only as the transposed low-precision copies (the fp32
 * pointers are NULL). */
typedef struct {
    const float *ln1_w, *ln1_b;     // [C], [C]
    const float *attn_w, *attn_b;   // [C, 3C] (Conv1D: in x out), [3C]
    const float *proj_w, *proj_b;   // [C, C], [C]
    const float *ln2_w, *ln2_b;     // [C], [C]
    const float *fc_w, *fc_b;       // [C, I], [I]  (I: the MLP width, 4C by default)
    const float *fcproj_w, *fcproj_b; // [I, C], [C]
    /* bf16 / int8 model: the matrices transposed to [out, in] */
    tril_lowp attn_wt;   // [3C, C]
    tril_lowp proj_wt;   // [C, C]
    tril_lowp fc_wt;     // [I, C]
    tril_lowp fcproj_wt; // [C, I]
} tril_gpt2_layer;

struct tril_gpt2 {
    tril_gpt2_config cfg;
    size_t n_params;               /* entries in params */
    tril_param_info *params;       /* [n_params] table, arena layout order */
    const float **param_data;      /* [n_params] where each tensor's values are
                                      (NULL for a bf16/int8 model's matrices) */
    tril_lowp *param_lowp;         /* [n_params] bf16 / int8 model: wte [V, C]
                                      and the transposed matrices [out, in];
                                      NULL (the array, or .data) where fp32 */
    float *arena;                  /* [num_params] owned copy, or NULL if mapped
                                      or bf16 */
    int64_t arena_numel;
    const float *wte;              // [V, C] token embeddings, also the LM head (NULL if bf16/int8)
    const float *wpe;              // [P, C] position embeddings
    tril_gpt2_layer *layers;       // [n_layer]
    const float *lnf_w, *lnf_b;    // [C], [C]
    char stored_dtype[8];          /* dtype in the file: "F32", "F16", "BF16" */
    tril_dtype weight_dtype;       /* TRIL_F32, TRIL_BF16 or TRIL_INT8
                                      (tril_gpt2_use_dtype) */
    tril_dtype kv_dtype;           /* new states' and engines' KV cache: TRIL_F32 or TRIL_BF16 */
    tril_lowp wte_lowp;            // [V, C] wte of the bf16 / int8 model
    void *lowp_arena;              /* bf16 / int8 model: owns the matrices and wte */
    uint16_t *scales_arena;        /* int8 model: owns their scales */
    float *f32_small;              /* bf16 / int8 model: owns the fp32 rest
                                      (wpe, biases, LayerNorm); rounded to
                                      bf16 in the bf16 model */
    void *file;                    /* the safetensors mapping (tril_safetensors *) */
};

/* Index of the parameter called `name` in the model's table, or -1. */
int64_t tril_gpt2_param_index(const tril_gpt2 *m, const char *name);

/* Rows (outputs) and columns (inputs) of a bf16 / int8 tensor in the
 * decoding layout: wte [V, C] as stored, a Conv1D matrix [in, out] held as
 * [out, in]. */
void tril_gpt2_lowp_shape(const tril_param_info *p, int64_t *rows, int64_t *cols);

/* Whether one token's layer products run on more than one thread (the
 * first product's weights against tril_threads_for_streamed): the
 * attention after it then finds the other threads still spinning
 * (tril_attention_args.threads_awake). */
int tril_gpt2_products_threaded(const tril_gpt2 *m);

/* Sets the named views (wte, layers[], ...) from param_data / param_lowp. */
void tril_gpt2_bind_views(tril_gpt2 *m);

/* The next `count` of tril_gpt2_init_random's draws for tensor p into w
 * (p->numel of them make the tensor), the stream carried in *state from
 * the tensors, or the part of p, before (table order). */
void gpt2_random_tensor(const tril_gpt2_config *cfg, const tril_param_info *p, uint64_t *state,
                        float *w, int64_t count);

#endif

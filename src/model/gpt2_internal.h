/* The model's layout, private to the library (src/model, src/train): public
 * code reaches a tril_gpt2 only through the accessors in tril/gpt2.h, so
 * who owns which buffer (arena, mapping, bf16 copies) can change freely. */
#ifndef TRIL_MODEL_GPT2_INTERNAL_H
#define TRIL_MODEL_GPT2_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tril/gpt2.h"

/* Per-layer views. Shapes: C = n_embd. In a bf16 model the four matrices
 * exist only as the transposed bf16 copies (the fp32 pointers are NULL). */
typedef struct {
    const float *ln1_w, *ln1_b;     // [C], [C]
    const float *attn_w, *attn_b;   // [C, 3C] (Conv1D: in x out), [3C]
    const float *proj_w, *proj_b;   // [C, C], [C]
    const float *ln2_w, *ln2_b;     // [C], [C]
    const float *fc_w, *fc_b;       // [C, I], [I]  (I: the MLP width, 4C by default)
    const float *fcproj_w, *fcproj_b; // [I, C], [C]
    /* bf16 model: the matrices transposed to [out, in] (NULL otherwise) */
    const uint16_t *attn_wt16;   // [3C, C]
    const uint16_t *proj_wt16;   // [C, C]
    const uint16_t *fc_wt16;     // [I, C]
    const uint16_t *fcproj_wt16; // [C, I]
} tril_gpt2_layer;

struct tril_gpt2 {
    tril_gpt2_config cfg;
    size_t n_params;               /* entries in params */
    tril_param_info *params;       /* [n_params] table, arena layout order */
    const float **param_data;      /* [n_params] where each tensor's values are
                                      (NULL for a bf16 model's matrices) */
    const uint16_t **param_data16; /* [n_params] bf16 model: wte [V, C] and the
                                      transposed matrices [out, in]; else NULL */
    float *arena;                  /* [num_params] owned copy, or NULL if mapped
                                      or bf16 */
    int64_t arena_numel;
    const float *wte;              // [V, C] token embeddings, also the LM head (NULL if bf16)
    const float *wpe;              // [P, C] position embeddings
    tril_gpt2_layer *layers;       // [n_layer]
    const float *lnf_w, *lnf_b;    // [C], [C]
    char stored_dtype[8];          /* dtype in the file: "F32", "F16", "BF16" */
    tril_dtype weight_dtype;       /* TRIL_F32, or TRIL_BF16 (see tril_gpt2_use_bf16) */
    const uint16_t *wte16;         // [V, C] bf16 wte (bf16 model), or NULL
    uint16_t *bf16_arena;          /* bf16 model: owns wte16 and the matrices */
    float *f32_small;              /* bf16 model: owns the fp32 rest (wpe,
                                      biases, LayerNorm), rounded to bf16 */
    void *file;                    /* the safetensors mapping (tril_safetensors *) */
};

/* Index of the parameter called `name` in the model's table, or -1. */
int64_t tril_gpt2_param_index(const tril_gpt2 *m, const char *name);

#endif

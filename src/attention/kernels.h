/* The attention layer's per-ISA kernels (src/core/isa.h). attention.c
 * validates the arguments once and picks one of the forward kernels by
 * shape and mask; each is compiled once per instruction set. */
#ifndef TRIL_ATTENTION_KERNELS_H
#define TRIL_ATTENTION_KERNELS_H

#include "core/isa.h"
#include "tril/attention.h"

typedef struct {
    /* Up to TRIL_DIRECT_MAX_ROWS query rows (decoding): each row reads its
     * visible keys in place (attention_direct.c). */
    tril_status (*forward_direct)(const tril_attention_args *a);
    /* The structural and NONE masks: keys-major (transposed) score tiles,
     * future keys never read (attention_transposed.c). */
    tril_status (*forward_transposed)(const tril_attention_args *a);
    /* The additive and boolean masks: every key scored, masked ones filled
     * (attention_rowmajor.c). */
    tril_status (*forward_rowmajor)(const tril_attention_args *a);
    /* Gradients from the forward's lse, key tiles in the future skipped
     * (attention_backward_tiled.c); args resolved, fp32. */
    tril_status (*backward)(const tril_attention_args *a, const float *dout, float *dq,
                            float *dk, float *dv);
    /* Frees the calling thread's grow-only buffers of the forward kernels. */
    void (*release_thread_buffers)(void);
} tril_attention_kernels;

TRIL_ISA_DECLARE_TABLES(tril_attention_kernels, tril_attention_kernels);

/* Checks a kernel choice (known, available here, TRIL_ISA valid) and gives
 * the SIMD build's table to run, or NULL for the oracle. `what` names the
 * caller in messages. */
tril_status tril_attention_pick_kernel(const char *what, tril_attn_kernel kernel,
                                       const tril_attention_kernels **simd);

#endif

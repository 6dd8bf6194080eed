/* tril/attention.h - causal multi-head self-attention, the heart of tril.
 *
 * Layout (row-major, strides in elements; 0 means "dense"):
 *   q   [B, Tq, H, D]   row stride >= H*D, batch stride >= Tq*row stride
 *   k,v [B, Tk, H, D]   e.g. a KV cache of capacity > Tk, or GPT-2's packed
 *                       qkv buffer [B, T, 3*H*D] with row stride 3*H*D
 *   out [B, Tq, H, D]
 *   lse [B, H, Tq]      optional: per-row log-sum-exp of the scaled scores,
 *                       kept for the backward pass (recompute-based)
 *
 * Query row i sits at absolute position past + i with past = Tk - Tq (the KV
 * cache case) and may attend keys 0..past+i. When Tq > Tk the top rows have no
 * visible key. A per-sequence key window [key_start[b], key_end[b]) (left and
 * right padding) further restricts what is visible.
 *
 * A row with no visible key is defined, never NaN: its output is zeros and
 * its lse is -inf (FlashAttention's convention), whatever the mask mode.
 * Softmax always subtracts the row max. */
#ifndef TRIL_ATTENTION_H
#define TRIL_ATTENTION_H

#include <stdint.h>

#include "tril/dtype.h"
#include "tril/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    /* Loop bounds: the future is never read and future tiles are skipped.
     * Exact, and about half the work. The default. */
    TRIL_MASK_STRUCTURAL = 0,
    /* scores + M where M is 0 on visible and `fill` on masked cells, the sum
     * stored in the working dtype (picoGPT's `x + (1 - tri) * -1e10`). */
    TRIL_MASK_ADDITIVE = 1,
    /* scores.masked_fill(~tril, fill) (torch.tril + masked_fill, and Hugging
     * Face GPT-2's torch.where(bias, w, masked_bias)). */
    TRIL_MASK_BOOLEAN = 2,
    /* No causal mask at all: every query sees every (unpadded) key. Wrong for
     * training a language model; kept for the "cheating" experiment. */
    TRIL_MASK_NONE = 3
} tril_mask_mode;

/* The fill values the literature uses. */
typedef enum {
    TRIL_FILL_NEG_INF = 0, /* -inf: exact, needs the fully-masked-row guard */
    TRIL_FILL_NEG_1E10,    /* picoGPT */
    TRIL_FILL_NEG_1E9,     /* many tutorials */
    TRIL_FILL_NEG_1E4,     /* old Hugging Face GPT-2 masked_bias */
    TRIL_FILL_DTYPE_MIN,   /* torch.finfo(dtype).min */
    TRIL_FILL_ZERO,        /* wrong: e^0 = 1 leaks the future */
    TRIL_FILL_COUNT
} tril_fill;

/* "-inf", "-1e10", "-1e9", "-1e4", "dtype_min", "0"; NULL if invalid. */
const char *tril_fill_name(tril_fill fill);
/* Parses the names above into *out; anything else (NULL too) is
 * TRIL_ERR_INVALID_ARG naming it and the accepted names. So are the two
 * parsers below. */
tril_status tril_fill_parse(const char *name, tril_fill *out);
/* The fill as an fp32 value for a dtype (dtype_min depends on it). The
 * kernels round it to the working dtype before use. */
float tril_fill_value(tril_fill fill, tril_dtype dtype);

/* "structural", "additive", "boolean", "none"; NULL if invalid. */
const char *tril_mask_mode_name(tril_mask_mode mode);
tril_status tril_mask_mode_parse(const char *name, tril_mask_mode *out);

typedef struct {
    int64_t batch;    /* B  >= 1 */
    int64_t heads;    /* H  >= 1 */
    int64_t head_dim; /* D  >= 1 */
    int64_t q_len;    /* Tq >= 1 */
    int64_t kv_len;   /* Tk >= 1 */
    tril_dtype dtype; /* storage dtype of q, k, v and out; compute is fp32 */
    /* storage dtype of k and v when it differs from dtype: TRIL_BF16 or
     * TRIL_F16 (a bf16 KV cache under fp32 queries halves what decoding
     * reads of it). TRIL_F32, the zero value, means k and v are in dtype, so
     * args made without tril_attention_args_init keep their meaning. */
    tril_dtype kv_dtype;

    const void *q;          /* [B, Tq, H, D] */
    int64_t q_row_stride;   /* elements between positions t and t+1; 0: H*D */
    int64_t q_batch_stride; /* elements between sequences; 0: Tq*row stride */
    const void *k;          /* [B, Tk, H, D] */
    const void *v;          /* [B, Tk, H, D] */
    int64_t kv_row_stride;  /* shared by k and v; 0: H*D */
    int64_t kv_batch_stride;/* 0: Tk*row stride */
    void *out;              /* [B, Tq, H, D] */
    int64_t out_row_stride; /* 0: H*D */
    int64_t out_batch_stride;/* 0: Tq*row stride */
    float *lse;             /* [B, H, Tq] fp32, optional (NULL) */

    const int64_t *key_start; /* [B] optional: keys < key_start[b] are padding */
    const int64_t *key_end;   /* [B] optional: keys >= key_end[b] are padding */

    /* Paged K/V (optional; forward only): k and v are pools of kv_pages
     * pages of kv_page_rows rows each (rows kv_row_stride apart, pages
     * kv_page_rows * kv_row_stride apart); key j of sequence b is row
     * j % kv_page_rows of page kv_page_table[b * kv_pages_per_seq + j /
     * kv_page_rows]. kv_batch_stride is unused. A KV cache that grows in
     * fixed blocks (tril serve) needs no copying this way. Only the first
     * ceil(Tk / rows) entries of a sequence are read (each must be below
     * kv_pages); pages may be shared. Results are bit-identical to the same
     * keys stored contiguously, whatever the pages. The backward refuses it. */
    const int32_t *kv_page_table; /* NULL: not paged (the three below must be 0) */
    int64_t kv_page_rows;         /* rows per page, >= 1 */
    int64_t kv_pages_per_seq;     /* table entries per sequence, >= ceil(Tk / rows) */
    int64_t kv_pages;             /* pages in the pool: every entry is below it */

    tril_mask_mode mask;
    float fill;  /* ADDITIVE/BOOLEAN only; stored in `dtype` before use */
    float scale; /* 0: 1/sqrt(D) */

    /* A hint for decoding rows; the result is the same either way. Nonzero:
     * the caller has just run a parallel region on all its threads, so
     * they still spin and a second thread joins within a microsecond.
     * Cached keys and values then go to two threads from 100 KB a row
     * instead of 300 KB (a sleeping thread takes 20-40 us to wake). */
    int threads_awake;
} tril_attention_args;

/* Which code computes attention. The SIMD kernels are one family built per
 * instruction set; within a build the shape and mask pick the algorithm:
 * up to 4 query rows (decoding) read keys in place ("direct"); the
 * structural and NONE masks use keys-major score tiles that never read a
 * future key ("transposed"); the additive and boolean masks score every key
 * and fill the masked ones ("rowmajor"). All three use an online softmax. */
typedef enum {
    TRIL_ATTN_AUTO = 0,     /* the SIMD kernels of the best ISA here */
    TRIL_ATTN_REFERENCE,    /* plain scalar loops in double: the oracle */
    TRIL_ATTN_SIMD,         /* the SIMD kernels, best ISA of this CPU */
    TRIL_ATTN_SIMD_GENERIC, /* their portable build (GCC/Clang vectors) */
    TRIL_ATTN_SIMD_AVX2,    /* their x86-64-v3 (AVX2 + FMA) build */
    TRIL_ATTN_SIMD_AVX512,  /* their x86-64-v4 (AVX-512) build */
    TRIL_ATTN_KERNEL_COUNT
} tril_attn_kernel;

/* "auto", "reference", "simd", "simd-generic", "simd-avx2", "simd-avx512" */
const char *tril_attn_kernel_name(tril_attn_kernel kernel);
tril_status tril_attn_kernel_parse(const char *name, tril_attn_kernel *out);
/* 1 if this build on this CPU can run the kernel, else 0. */
int tril_attn_kernel_available(tril_attn_kernel kernel);

/* Zero-initialised args with the defaults (structural mask, fp32, scale 0). */
tril_attention_args tril_attention_args_init(void);

/* Checks the arguments without touching the data: NULL buffers, zero or
 * overflowing sizes, strides too small for the shape, padding windows out of
 * range, unknown enums. */
tril_status tril_attention_validate(const tril_attention_args *args);

/* out = softmax(mask(q k^T * scale)) v, per batch and head. Validates first.
 * Threads with OpenMP over batch x heads x row tiles. */
tril_status tril_attention_forward(const tril_attention_args *args, tril_attn_kernel kernel);

/* Gradients of causal attention (recompute-based, FlashAttention style).
 * `args` is exactly what the forward was called with, including out and the
 * lse it wrote (lse is required here). dout has out's layout (out_row_stride,
 * out_batch_stride); dq has q's layout, dk and dv the k/v layout (e.g. three
 * slices of one packed dqkv [B, T, 3*H*D] buffer). All four are fp32, and
 * args->dtype must be TRIL_F32. dq, dk and dv are overwritten (not
 * accumulated); rows with no visible key get zero gradients. Probabilities
 * are rebuilt from lse, and key tiles wholly in the future are skipped, as in
 * the forward. Kernels: REFERENCE (the oracle) or AUTO/SIMD*. */
tril_status tril_attention_backward(const tril_attention_args *args, const float *dout, float *dq,
                                    float *dk, float *dv, tril_attn_kernel kernel);

/* The kernels keep grow-only buffers per thread (packed K/V per calling
 * thread; the decode path's row scratch per OpenMP thread), so repeated
 * calls neither allocate nor pay for fresh pages; they live until the thread
 * exits or this is called. This frees the buffers of the calling thread and
 * of the OpenMP threads of a default-sized team (the threads the kernels run
 * on); the next call allocates again. Call it from the thread that runs the
 * kernels, outside a parallel region. */
void tril_attention_free_workspace(void);

/* 1 if query row i (of Tq) may see key j (of Tk) under the causal rule alone:
 * j <= (Tk - Tq) + i. */
static inline int tril_causal_visible(int64_t i, int64_t j, int64_t q_len, int64_t kv_len)
{
    return j <= (kv_len - q_len) + i;
}

#ifdef __cplusplus
}
#endif
#endif /* TRIL_ATTENTION_H */

/* Private contract between the attention front end (attention.c) and the
 * kernels. The front end validates and resolves the arguments once: every
 * stride is explicit, scale is set, and the fill is already stored in the
 * working dtype. */
#ifndef TRIL_ATTENTION_INTERNAL_H
#define TRIL_ATTENTION_INTERNAL_H

#include <stdlib.h>

#include "core/parallel.h"
#include "tril/attention.h"

/* Keys that row i of sequence b may see, and how masked keys are treated. */
typedef struct {
    int64_t lo, hi;   /* visible keys are [lo, hi); hi <= lo means none */
    int64_t read_lo;  /* keys the kernel scores: [read_lo, read_hi) */
    int64_t read_hi;
} attn_row_window;

/* Threads worth using for one call: the two products' FLOPs (about half the
 * rectangle under the causal rule; `passes` 1 forward, ~2.5 backward) plus
 * the K/V bytes read, which dominate a decoding step. */
static inline int attn_threads(const tril_attention_args *a, double passes)
{
    const double bhd = (double)a->batch * (double)a->heads * (double)a->head_dim;
    const double flops = 2.0 * bhd * (double)a->q_len * (double)a->kv_len * passes;
    return tril_threads_for(flops + TRIL_FLOPS_PER_BYTE * 8.0 * bhd * (double)a->kv_len);
}

static inline int64_t attn_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t attn_max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* The padding window of sequence b: [start, end). */
static inline void attn_key_window(const tril_attention_args *a, int64_t b, int64_t *start,
                                   int64_t *end)
{
    *start = a->key_start ? a->key_start[b] : 0;
    *end = a->key_end ? a->key_end[b] : a->kv_len;
}

/* Element offset in k and v of key row j of sequence b (head 0): row
 * j % rows of its page when paged, else the plain strided row. Unpaged it is
 * the same arithmetic the kernels always did; loops that walk many rows use
 * attn_kv_run_end() so the page lookup (a division) happens once per run. */
static inline int64_t attn_kv_row(const tril_attention_args *a, int64_t b, int64_t j)
{
    if (!a->kv_page_table) return b * a->kv_batch_stride + j * a->kv_row_stride;
    const int64_t rows = a->kv_page_rows;
    const int64_t page = a->kv_page_table[b * a->kv_pages_per_seq + j / rows];
    return (page * rows + j % rows) * a->kv_row_stride;
}

/* One past the last key of [j, end) whose row is still kv_row_stride times
 * its distance from j past row j: the end of j's page, or `end` unpaged. */
static inline int64_t attn_kv_run_end(const tril_attention_args *a, int64_t j, int64_t end)
{
    if (!a->kv_page_table) return end;
    const int64_t page_end = (j / a->kv_page_rows + 1) * a->kv_page_rows;
    return page_end < end ? page_end : end;
}

/* off[c] = attn_kv_row(a, b, j0 + c) + col for c < n, a page's run at a time. */
static inline void attn_kv_rows(const tril_attention_args *a, int64_t b, int64_t j0, int64_t n,
                                int64_t col, int64_t *off)
{
    for (int64_t c = 0; c < n;) {
        const int64_t end = attn_kv_run_end(a, j0 + c, j0 + n) - j0;
        const int64_t base = attn_kv_row(a, b, j0 + c) + col;
        for (int64_t r = c; r < end; r++) off[r] = base + (r - c) * a->kv_row_stride;
        c = end;
    }
}

/* Structural and NONE modes read only visible keys; the additive and boolean
 * modes, as the literature does, score every key and fill the masked ones. */
static inline attn_row_window attn_row(const tril_attention_args *a, int64_t b, int64_t i)
{
    int64_t start, end;
    attn_key_window(a, b, &start, &end);
    attn_row_window w;
    w.lo = start;
    w.hi = end;
    if (a->mask != TRIL_MASK_NONE) w.hi = attn_min64(end, a->kv_len - a->q_len + i + 1);
    if (a->mask == TRIL_MASK_ADDITIVE || a->mask == TRIL_MASK_BOOLEAN) {
        w.read_lo = 0;
        w.read_hi = a->kv_len;
    } else {
        w.read_lo = w.lo;
        w.read_hi = attn_max64(w.lo, w.hi);
    }
    return w;
}

/* The keys any row of each sequence reads: [first[b], last[b]), with last
 * = first + batch in one allocation the caller frees through first. Rows
 * see monotonically more keys: row 0 reads the first, the last row the
 * furthest. Returns the longest range, or -1 when out of memory. */
static inline int64_t attn_key_ranges(const tril_attention_args *a, int64_t **first,
                                      int64_t **last)
{
    *first = malloc(2 * (size_t)a->batch * sizeof **first);
    if (!*first) return -1;
    *last = *first + a->batch;
    int64_t most = 0;
    for (int64_t b = 0; b < a->batch; b++) {
        (*first)[b] = attn_row(a, b, 0).read_lo;
        (*last)[b] = attn_max64((*first)[b], attn_row(a, b, a->q_len - 1).read_hi);
        most = attn_max64(most, (*last)[b] - (*first)[b]);
    }
    return most;
}

/* The score a masked key gets in the additive and boolean modes: the sum (or
 * the fill) stored in the working dtype, so half precision overflows as it
 * really does. `fill` is already rounded to the dtype. */
static inline float attn_masked_score(const tril_attention_args *a, float score)
{
    if (a->mask == TRIL_MASK_BOOLEAN) return a->fill;
    return tril_round_to_dtype(score + a->fill, a->dtype);
}

/* Fills the zero ("dense") strides, the default scale and the rounded fill
 * of a copy of validated arguments (attention.c). */
void tril_attention_resolve(tril_attention_args *a);

tril_status tril_attention_reference(const tril_attention_args *a);

/* The transposed kernel's key windows are int32 lanes: keys up to kv_len
 * plus one tile of TRIL_TRANSPOSED_KEY_TILE must fit. */
#define TRIL_TRANSPOSED_KEY_TILE 128

/* The backward pass (attention_backward*.c). Arguments are validated and
 * resolved; dq has q's strides, dk and dv the k/v strides, dout out's. */
tril_status tril_attention_backward_reference(const tril_attention_args *a, const float *dout,
                                              float *dq, float *dk, float *dv);
#endif

/* Byte-pair encoding of one pre-tokenized piece, exactly as OpenAI's
 * encoder.py: start from one symbol per byte; repeatedly take the adjacent
 * pair with the lowest merge rank and merge every occurrence of it, left to
 * right without overlap, in one pass; stop when no adjacent pair has a rank.
 *
 * Two implementations of that loop, chosen by length (the tests check they
 * agree):
 *   short  the plain loop over an array, with each adjacent pair's rank kept
 *          so that a pass scans ints and looks up only the pairs beside
 *          what it merged; O(n^2) at worst, fastest for words
 *          (n <= SHORT_MAX).
 *   heap   symbols in a linked list, candidate pairs in a min-heap keyed by
 *          (rank, position), O(n log n). One "pass" pops every entry of the
 *          lowest rank in position order (the left-to-right sweep); pairs
 *          the merges create wait in `pending` until the pass ends, as in
 *          encoder.py, where they only count from the next iteration. An
 *          entry is stale if its pair no longer exists: ranks are unique per
 *          pair, so "the pair at pos still has this rank" is the test. */
#include <stdlib.h>

#include "tokenizer/tok_internal.h"

#define SHORT_MAX 48
#define NONE UINT32_MAX

/* The pair at i: its rank (INT32_MAX if none) and merged id. */
static inline void look_up(const tok_merges *m, const int32_t *s, size_t i, int32_t *rank,
                           int32_t *merged)
{
    const tok_pair_slot *p = tok_merges_find(m, s[i], s[i + 1]);
    rank[i] = p ? p->rank : INT32_MAX;
    merged[i] = p ? p->merged : 0;
}

/* encoder.py's loop, keeping each adjacent pair's rank so a pass only looks
 * up the pairs next to what it merged. Stack arrays up to SHORT_MAX (longer
 * pieces only come here when the tests ask for it). */
static long bpe_short(const tok_vocab *v, const tok_merges *m, const uint8_t *piece, size_t n,
                      int32_t *s)
{
    int32_t rank_buf[SHORT_MAX], merged_buf[SHORT_MAX];
    size_t at_buf[SHORT_MAX]; /* where this pass put merged symbols */
    int32_t *rank = rank_buf, *merged = merged_buf;
    size_t *at = at_buf;
    void *mem = NULL;
    if (n > SHORT_MAX) {
        mem = malloc(n * (2 * sizeof(int32_t) + sizeof(size_t)));
        if (!mem) return -1;
        at = mem;
        rank = (int32_t *)(at + n);
        merged = rank + n;
    }
    for (size_t i = 0; i < n; i++) s[i] = v->byte_id[piece[i]];
    for (size_t i = 0; i + 1 < n; i++) look_up(m, s, i, rank, merged);
    while (n > 1) {
        int32_t best = INT32_MAX;
        size_t first = 0;
        for (size_t i = 0; i + 1 < n; i++)
            if (rank[i] < best) best = rank[i], first = i;
        if (best == INT32_MAX) break;
        /* Merge every occurrence, left to right; the first is at `first`. */
        const int32_t a = s[first], b = s[first + 1], ab = merged[first];
        size_t j = first, n_at = 0;
        for (size_t i = first; i < n; j++) {
            if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                s[j] = ab;
                at[n_at++] = j;
                i += 2;
            } else {
                s[j] = s[i];
                if (i + 1 < n) { /* the last symbol has no pair */
                    rank[j] = rank[i];
                    merged[j] = merged[i];
                }
                i++;
            }
        }
        n = j;
        for (size_t k = 0; k < n_at; k++) {
            if (at[k] > 0) look_up(m, s, at[k] - 1, rank, merged);
            if (at[k] + 1 < n) look_up(m, s, at[k], rank, merged);
        }
    }
    free(mem);
    return (long)n;
}

/* ---- heap version ------------------------------------------------------- */

static int vec_push(tok_u64_vec *h, uint64_t x)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        uint64_t *p = realloc(h->a, cap * sizeof *p);
        if (!p) return -1;
        h->a = p;
        h->cap = cap;
    }
    h->a[h->n++] = x;
    return 0;
}

static int heap_push(tok_u64_vec *h, uint64_t x)
{
    if (vec_push(h, x) < 0) return -1;
    size_t i = h->n - 1;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->a[p] <= x) break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = x;
    return 0;
}

static uint64_t heap_pop(tok_u64_vec *h)
{
    const uint64_t top = h->a[0], x = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->a[c + 1] < h->a[c]) c++;
        if (x <= h->a[c]) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n) h->a[i] = x;
    return top;
}

static int ensure_work(tok_bpe_work *w, size_t n)
{
    if (w->cap >= n) return 0;
    int32_t *sym = realloc(w->sym, n * sizeof *sym);
    if (sym) w->sym = sym;
    uint32_t *prev = realloc(w->prev, n * sizeof *prev);
    if (prev) w->prev = prev;
    uint32_t *next = realloc(w->next, n * sizeof *next);
    if (next) w->next = next;
    if (!sym || !prev || !next) return -1;
    w->cap = n;
    return 0;
}

/* The rank of the pair starting at pos, or -1 (and its merged id). */
static int64_t pair_rank(const tok_merges *m, const tok_bpe_work *w, uint32_t pos,
                         int32_t *merged)
{
    const uint32_t nx = w->next[pos];
    if (nx == NONE) return -1;
    const tok_pair_slot *p = tok_merges_find(m, w->sym[pos], w->sym[nx]);
    if (!p) return -1;
    if (merged) *merged = p->merged;
    return p->rank;
}

static int push_pair(const tok_merges *m, const tok_bpe_work *w, tok_u64_vec *h, uint32_t pos)
{
    const int64_t r = pair_rank(m, w, pos, NULL);
    return r < 0 ? 0 : vec_push(h, (uint64_t)r << 32 | pos);
}

static long bpe_heap(const tok_merges *m, tok_bpe_work *w, const tok_vocab *v,
                     const uint8_t *piece, size_t n, int32_t *out)
{
    if (n >= NONE || ensure_work(w, n) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        w->sym[i] = v->byte_id[piece[i]];
        w->prev[i] = i == 0 ? NONE : (uint32_t)(i - 1);
        w->next[i] = i + 1 == n ? NONE : (uint32_t)(i + 1);
    }
    tok_u64_vec *heap = &w->heap, *pending = &w->pending;
    heap->n = pending->n = 0;
    for (uint32_t i = 0; i + 1 < n; i++)
        if (push_pair(m, w, pending, i) < 0) return -1;
    for (;;) {
        /* Start of an iteration: every existing pair is in the heap. */
        for (size_t i = 0; i < pending->n; i++)
            if (heap_push(heap, pending->a[i]) < 0) return -1;
        pending->n = 0;
        if (heap->n == 0) break;
        const uint64_t rank = heap->a[0] >> 32;
        while (heap->n && heap->a[0] >> 32 == rank) {
            const uint32_t pos = (uint32_t)heap_pop(heap);
            int32_t merged;
            if (w->sym[pos] < 0 || pair_rank(m, w, pos, &merged) != (int64_t)rank) continue;
            const uint32_t nx = w->next[pos], nn = w->next[nx];
            w->sym[pos] = merged;
            w->sym[nx] = -1;
            w->next[pos] = nn;
            if (nn != NONE) w->prev[nn] = pos;
            if (w->prev[pos] != NONE && push_pair(m, w, pending, w->prev[pos]) < 0) return -1;
            if (push_pair(m, w, pending, pos) < 0) return -1;
        }
    }
    long count = 0;
    for (uint32_t i = 0; i != NONE; i = w->next[i]) out[count++] = w->sym[i];
    return count;
}

long tok_bpe(const tok_vocab *v, const tok_merges *m, tok_bpe_work *w, const uint8_t *piece,
             size_t len, int32_t *out, tok_bpe_mode mode)
{
    if (mode == TOK_BPE_SHORT || (mode == TOK_BPE_AUTO && len <= SHORT_MAX))
        return bpe_short(v, m, piece, len, out);
    return bpe_heap(m, w, v, piece, len, out);
}

void tok_bpe_work_free(tok_bpe_work *w)
{
    free(w->sym);
    free(w->prev);
    free(w->next);
    free(w->heap.a);
    free(w->pending.a);
    *w = (tok_bpe_work){0};
}

/* The direct attention path for decoding: a few query rows against a long
 * KV cache. Compiled once per instruction set like attention_tiled.c. */
#include <math.h>
#include <stdlib.h>

#include "attention/attention_internal.h"
#include "attention/kernels.h"
#include "core/simd.h"
#include "attention/tile_util.h"

#define VL TRIL_VL

/* Decoding (a few query rows against a long cache): packing K/V would cost
 * more than using them, since each key is read once per row. Each (batch,
 * head, row) reads its visible keys in place, VL at a time: VL scores, one
 * vector exp, then P.V. Same masks and conventions as the tiled path. */
static void key_row(const tril_attention_args *a, const void *base, int64_t off, int64_t D,
                    int64_t dp, float *buf, const float **row)
{
    if (a->kv_dtype == TRIL_F32 && D == dp) {
        *row = (const float *)base + off; /* in place */
        return;
    }
    load_row(buf, base, a->kv_dtype, off, D, dp, 1.0f);
    *row = buf;
}

/* Key rows visited in increasing order: key_at() is attn_kv_row(a, b, j) +
 * col, the page looked up once per run of rows (unpaged: once per call), so
 * the per-key cost is the multiply-add it always was. */
typedef struct {
    const tril_attention_args *a;
    int64_t b, col, limit; /* keys below limit */
    int64_t end, base;     /* current run [.., end): row j at base + j * stride */
} key_cursor;

static inline key_cursor key_cursor_init(const tril_attention_args *a, int64_t b, int64_t col,
                                         int64_t limit)
{
    key_cursor k = {a, b, col, limit, INT64_MIN, 0};
    return k;
}

static inline int64_t key_at(key_cursor *k, int64_t j)
{
    if (__builtin_expect(j >= k->end, 0)) {
        k->end = attn_kv_run_end(k->a, j, k->limit);
        k->base = attn_kv_row(k->a, k->b, j) + k->col - j * k->a->kv_row_stride;
    }
    return k->base + j * k->a->kv_row_stride;
}

static void run_direct_row(const tril_attention_args *a, int64_t b, int64_t h, int64_t i,
                           int64_t dp, float *scratch)
{
    const int64_t D = a->head_dim;
    float *q = scratch, *acc = q + dp, *kbuf = acc + dp, *vbuf = kbuf + dp, *sc = vbuf + dp;
    const attn_row_window w = attn_row(a, b, i);
    const int structural = a->mask == TRIL_MASK_STRUCTURAL || a->mask == TRIL_MASK_NONE;
    const int64_t j_lo = structural ? w.lo : w.read_lo, j_hi = structural ? attn_max64(w.lo, w.hi) : w.read_hi;
    load_row(q, a->q, a->dtype, b * a->q_batch_stride + i * a->q_row_stride + h * D, D, dp, a->scale);
    for (int64_t d = 0; d < dp; d++) acc[d] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    key_cursor kc = key_cursor_init(a, b, h * D, j_hi), vc = kc;
    for (int64_t j0 = j_lo; j0 < j_hi; j0 += VL) {
        const int64_t n = attn_min64(VL, j_hi - j0);
        float tile_max = -INFINITY;
        for (int64_t c = 0; c < n; c++) {
            const int64_t j = j0 + c;
            const float *k;
            key_row(a, a->k, key_at(&kc, j), D, dp, kbuf, &k);
            vf dot = vbcast(0.0f);
            for (int64_t d = 0; d < dp; d += VL) dot += vload(q + d) * vload(k + d);
            float sj = vhsum(dot);
            if (j < w.lo || j >= w.hi) sj = attn_masked_score(a, sj);
            sc[c] = sj;
            tile_max = sj > tile_max ? sj : tile_max;
        }
        for (int64_t c = n; c < VL; c++) sc[c] = -INFINITY;
        const float m_new = tile_max > m ? tile_max : m;
        if (m_new == -INFINITY) continue;
        const float alpha = vexp(vbcast(m - m_new))[0];
        vf pv = vexp(vload(sc) - vbcast(m_new));
        l = l * alpha + vhsum(pv);
        m = m_new;
        vstore(sc, pv);
        for (int64_t d = 0; d < dp; d += VL) vstore(acc + d, vload(acc + d) * vbcast(alpha));
        for (int64_t c = 0; c < n; c++) {
            const float *v;
            key_row(a, a->v, key_at(&vc, j0 + c), D, dp, vbuf, &v);
            const vf pc = vbcast(sc[c]);
            for (int64_t d = 0; d < dp; d += VL) vstore(acc + d, vload(acc + d) + pc * vload(v + d));
        }
    }
    attn_finish_row(a, b, h, i, w.lo, w.hi, acc, 1, m, l);
}

/* Each OpenMP thread's row scratch, kept between calls (one call per layer
 * per generated token), and the calling thread's buffer of chunk partials. */
static _Thread_local tril_workspace row_scratch;
static _Thread_local tril_workspace chunk_partials;

void TRIL_ISA_FN(tril_attention_direct_release)(void)
{
    workspace_release(&row_scratch);
    workspace_release(&chunk_partials);
}

/* ---- all heads at once, keys split in chunks (fp32, structural mask) ----
 *
 * Head by head, each query row read its keys' 256-byte slices a whole cache
 * row apart, and 1000 cached positions cost ~0.7 ms per layer (~9 GB/s).
 * Here a unit takes one chunk of keys of one query row and walks each key's
 * row front to back for every head (sequential reads), scores first, then
 * the softmax per head, then P.V; the chunks' partial softmaxes (max, sum,
 * unnormalised output) are merged afterwards, as in split-K decoding. */
#define CHUNK 256 /* keys per unit: [H, CHUNK] scores stay in L1/L2 */

static int all_heads_applies(const tril_attention_args *a)
{
    return a->dtype == TRIL_F32 && (a->kv_dtype == TRIL_F32 || a->kv_dtype == TRIL_BF16) &&
           a->head_dim % VL == 0 &&
           (a->mask == TRIL_MASK_STRUCTURAL || a->mask == TRIL_MASK_NONE);
}

/* Partial of one (row, chunk): per head m, l and acc [dp] (dp == D here). */
static int64_t partial_floats(int64_t H, int64_t D) { return H * (D + 2); }

/* Keys are taken KB at a time: their rows' offsets looked up once, each
 * head's query held while it meets the KB keys, and each head's P.V
 * accumulators kept in registers over the KB keys (in memory they made a
 * store-to-load chain per key: a third of the unit's time). KB rows of
 * K or V (48 KB at GPT-2 124M's width) stay in L1/L2 while the heads go
 * over them. Every sum still runs key by key in increasing order, so the
 * results are those of the key-at-a-time loop. */
#define KB 16
_Static_assert(CHUNK % KB == 0, "a chunk's score rows take whole blocks of KB keys");

_Static_assert(KB == 16, "vhsum16 sums 16 vectors");

/* Element d of a key or value row: fp32 in place, or bf16 widened (exact)
 * as it is loaded, for a bf16 KV cache that halves what decoding reads. */
VINLINE vf kv_load(const void *row, int64_t d, const int bf16)
{
    return bf16 ? vload_bf16((const uint16_t *)row + d) : vload((const float *)row + d);
}

/* sc[0, KB) = q . each of the KB rows (D/VL vectors), the key-at-a-time
 * arithmetic: a vector of partial sums from 0, d ascending, then vhsum. */
VINLINE void score_block(const float *q, const void *const *rows, int64_t D, float *sc,
                         const int bf16)
{
    vf dot[KB];
    for (int c = 0; c < KB; c++) dot[c] = vbcast(0.0f);
    for (int64_t d = 0; d < D; d += VL) {
        const vf qd = vload(q + d);
        for (int c = 0; c < KB; c++) dot[c] += qd * kv_load(rows[c], d, bf16);
    }
    vhsum16(dot, sc);
}

/* acc[0, 8 VL) += sum over the n rows of p0[c] * the row's first four
 * vectors and p1[c] * its last four: two heads of four vectors side by
 * side (D == 4 VL, rows pointing at the first head's slice), or one head
 * of eight (D == 8 VL, p0 == p1). Eight independent sums per key instead
 * of four, which the multiply-add latency left waiting; each sum's order
 * is pv_block's. */
VINLINE void pv_block_8(float *acc, const float *p0, const float *p1, const void *const *rows,
                        int n, const int bf16)
{
    vf a0 = vload(acc), a1 = vload(acc + VL), a2 = vload(acc + 2 * VL), a3 = vload(acc + 3 * VL);
    vf b0 = vload(acc + 4 * VL), b1 = vload(acc + 5 * VL);
    vf b2 = vload(acc + 6 * VL), b3 = vload(acc + 7 * VL);
    for (int c = 0; c < n; c++) {
        const vf pa = vbcast(p0[c]), pb = vbcast(p1[c]);
        const void *v = rows[c];
        a0 = a0 + pa * kv_load(v, 0, bf16);
        a1 = a1 + pa * kv_load(v, VL, bf16);
        a2 = a2 + pa * kv_load(v, 2 * VL, bf16);
        a3 = a3 + pa * kv_load(v, 3 * VL, bf16);
        b0 = b0 + pb * kv_load(v, 4 * VL, bf16);
        b1 = b1 + pb * kv_load(v, 5 * VL, bf16);
        b2 = b2 + pb * kv_load(v, 6 * VL, bf16);
        b3 = b3 + pb * kv_load(v, 7 * VL, bf16);
    }
    vstore(acc, a0);
    vstore(acc + VL, a1);
    vstore(acc + 2 * VL, a2);
    vstore(acc + 3 * VL, a3);
    vstore(acc + 4 * VL, b0);
    vstore(acc + 5 * VL, b1);
    vstore(acc + 6 * VL, b2);
    vstore(acc + 7 * VL, b3);
}

/* acc[0, D) += sum over the n rows of p[c] * row c, key by key; four
 * vectors of acc in registers at a time, or all eight when D is eight
 * vectors (AVX2's D = 64, by pv_block_8: eight independent sums per key
 * instead of two passes of four; with the score sums' AVX2 tree in simd.h
 * and the straight fetches below, a cold 12-layer pass of GPT-2 124M's
 * bf16 cache took 5-10 % less on an AMD Zen 3 host, the same bits). Each
 * sum's order is the same either way. */
VINLINE void pv_block(float *acc, const float *p, const void *const *rows, int n, int64_t D,
                      const int bf16)
{
    int64_t d = 0;
    if (D == 8 * VL) {
        pv_block_8(acc, p, p, rows, n, bf16);
        return;
    }
    for (; d + 4 * VL <= D; d += 4 * VL) {
        vf a0 = vload(acc + d), a1 = vload(acc + d + VL);
        vf a2 = vload(acc + d + 2 * VL), a3 = vload(acc + d + 3 * VL);
        for (int c = 0; c < n; c++) {
            const vf pc = vbcast(p[c]);
            a0 = a0 + pc * kv_load(rows[c], d, bf16);
            a1 = a1 + pc * kv_load(rows[c], d + VL, bf16);
            a2 = a2 + pc * kv_load(rows[c], d + 2 * VL, bf16);
            a3 = a3 + pc * kv_load(rows[c], d + 3 * VL, bf16);
        }
        vstore(acc + d, a0);
        vstore(acc + d + VL, a1);
        vstore(acc + d + 2 * VL, a2);
        vstore(acc + d + 3 * VL, a3);
    }
    for (; d < D; d += VL) {
        vf a0 = vload(acc + d);
        for (int c = 0; c < n; c++) a0 = a0 + vbcast(p[c]) * kv_load(rows[c], d, bf16);
        vstore(acc + d, a0);
    }
}

/* Fetch [p, p + bytes): one head's (or pair's) slice of a bf16 row, 128
 * or 256 bytes at GPT-2's head size, spelled out for those (a loop per
 * slice cost 7 % of the pass in cache). */
VINLINE void fetch_slice(const char *p, int64_t bytes)
{
    if (bytes == 128) {
        __builtin_prefetch(p);
        __builtin_prefetch(p + 64);
    } else if (bytes == 256) {
        __builtin_prefetch(p);
        __builtin_prefetch(p + 64);
        __builtin_prefetch(p + 128);
        __builtin_prefetch(p + 192);
    } else {
        for (int64_t at = 0; at < bytes; at += 64) __builtin_prefetch(p + at);
    }
}

/* Row offsets of the keys [j, min(j + KB, end)) into next; their count. */
static int next_block(const tril_attention_args *a, int64_t b, int64_t j, int64_t end, int64_t *next)
{
    const int n = (int)(end - j < KB ? end - j : KB);
    if (n > 0) attn_kv_rows(a, b, j, n, 0, next);
    return n > 0 ? n : 0;
}

/* One (row, chunk) unit; bf16: the keys and values are bf16 (a constant
 * in each of the two instances below, so each is compiled for its own).
 * bf16 rows are fetched a block ahead: each score pass fetches the next
 * block's slice of its head, each P.V pass the next block's value slice of
 * its head (or pair of heads). 12 layers of GPT-2 124M's cache, cold, at
 * 300 and 1000 positions took 0.84-0.89 and 2.40-2.46 ms against 0.98 and
 * 2.63-2.66 without (Intel Emerald Rapids, the value rows then fetched
 * whole at the block's start); fetching them a head at a time instead took
 * 1000 positions from 3.01-3.40 to 2.42-2.71 ms on an AMD Zen 3 host (AVX2,
 * scratch harness, the builds in turns). fp32 rows are not fetched: the
 * same fetches made them 5-15 % slower, the hardware prefetchers keeping
 * up with rows twice as long. */
VINLINE void chunk_unit_kv(const tril_attention_args *a, int64_t b, int64_t i, int64_t j0,
                           int64_t j1, float *scratch, float *partial, const int bf16)
{
    const int64_t H = a->heads, D = a->head_dim, es = bf16 ? 2 : 4;
    float *q = scratch, *sc = q + H * D; // [H, D] scaled queries, [H, CHUNK] scores
    const float *qrow = (const float *)a->q + b * a->q_batch_stride + i * a->q_row_stride;
    for (int64_t d = 0; d < H * D; d++) q[d] = qrow[d] * a->scale;
    const int64_t n = j1 - j0, np = (n + VL - 1) / VL * VL;
    const char *k = (const char *)a->k, *v = (const char *)a->v;
    int64_t off[KB];
    const char *rows[KB];
    /* scores: a block of keys, every head over it (a short last block
     * repeats its last key) */
    for (int64_t jb = 0; jb < n; jb += KB) {
        const int nb = (int)(n - jb < KB ? n - jb : KB);
        attn_kv_rows(a, b, j0 + jb, nb, 0, off);
        const int last = nb > 1 ? nb - 1 : 0; /* nb >= 1 */
        for (int c = 0; c < KB; c++) rows[c] = k + off[c < nb ? c : last] * es;
        int64_t next[KB];
        const int nn = bf16 ? next_block(a, b, j0 + jb + KB, j0 + n, next) : 0;
        for (int64_t h = 0; h < H; h++) {
            const void *hrows[KB];
            for (int c = 0; c < KB; c++) hrows[c] = rows[c] + h * D * es;
            for (int c = 0; c < nn; c++) /* the next block's slice of this head */
                fetch_slice(k + (next[c] + h * D) * es, D * es);
            /* KB slots from jb stay inside the row's CHUNK, and those past
             * the keys are overwritten with -inf below */
            score_block(q + h * D, hrows, D, sc + h * CHUNK + jb, bf16);
        }
    }
    float *m = partial, *l = m + H, *acc = l + H; // [H], [H], [H, D]
    for (int64_t h = 0; h < H; h++) {
        float *sh = sc + h * CHUNK;
        for (int64_t c = n; c < np; c++) sh[c] = -INFINITY;
        vf mv = vbcast(-INFINITY); /* lane by lane, NaN never wins */
        for (int64_t c = 0; c < np; c += VL) {
            const vf s = vload(sh + c);
            mv = vsel(s > mv, s, mv);
        }
        const float mx = vhmax(mv);
        m[h] = mx;
        vf sum = vbcast(0.0f);
        if (mx != -INFINITY)
            for (int64_t c = 0; c < np; c += VL) {
                const vf pc = vexp(vload(sh + c) - vbcast(mx));
                vstore(sh + c, pc);
                sum += pc;
            }
        l[h] = mx == -INFINITY ? 0.0f : vhsum(sum);
        for (int64_t d = 0; d < D; d++) acc[h * D + d] = 0.0f;
    }
    for (int64_t jb = 0; jb < n; jb += KB) {
        const int nb = (int)(n - jb < KB ? n - jb : KB);
        attn_kv_rows(a, b, j0 + jb, nb, 0, off);
        int64_t next[KB];
        const int nn = bf16 ? next_block(a, b, j0 + jb + KB, j0 + n, next) : 0;
        for (int64_t h = 0; h < H;) {
            const void *hrows[KB];
            const int pair = D == 4 * VL && h + 1 < H && m[h] != -INFINITY && m[h + 1] != -INFINITY;
            for (int c = 0; c < nn; c++) /* the next block's slice of the heads done here */
                fetch_slice(v + (next[c] + h * D) * es, (pair ? 2 : 1) * D * es);
            for (int c = 0; c < nb; c++) hrows[c] = v + (off[c] + h * D) * es;
            if (pair) {
                pv_block_8(acc + h * D, sc + h * CHUNK + jb, sc + (h + 1) * CHUNK + jb, hrows,
                           nb, bf16);
                h += 2;
                continue;
            }
            if (m[h] != -INFINITY) pv_block(acc + h * D, sc + h * CHUNK + jb, hrows, nb, D, bf16);
            h++;
        }
    }
}

static void chunk_unit(const tril_attention_args *a, int64_t b, int64_t i, int64_t j0, int64_t j1,
                       float *scratch, float *partial)
{
    chunk_unit_kv(a, b, i, j0, j1, scratch, partial, 0);
}

static void chunk_unit_bf16(const tril_attention_args *a, int64_t b, int64_t i, int64_t j0,
                            int64_t j1, float *scratch, float *partial)
{
    chunk_unit_kv(a, b, i, j0, j1, scratch, partial, 1);
}

/* Cached keys and values a row from which it is cut in two chunks (whole
 * blocks of KB keys): 100 KB, 33 keys of GPT-2 124M's bf16 cache, 17 of
 * its fp32 one. The chunks then run on two threads when the caller's
 * threads are awake (tril_attention_args.threads_awake): inside a decoded
 * token the other thread has just left a GEMV and spins for its next
 * region only ~25 us (GOMP_SPINCOUNT=1000, AMD Zen 3) before it sleeps,
 * waking it cost the next GEMV 10-20 us, and a one-thread walk of cold
 * rows outlasts that window from ~100 KB. Tokens of 124M (bf16, positions
 * 16-90, AMD Zen 3, the builds in turns): the attention 33-37 -> 23-27 us
 * a layer at positions 60-90, the product after it 53-77 -> 42-57 us,
 * paired fraction of the limit +1-2 %; beside a busy core a token 5-10 %
 * slower where rows split (one more region a layer), within issue 10's
 * 2.5x (docs/BENCHMARKS.md). (A cold pass alone, with the threads kept
 * spinning, had put two chunks 13 % behind one at 64 keys: not what a
 * token sees.) */
#define ATTN_MIN_BYTES_PER_CHUNK 5e4
/* With the threads asleep, a row's chunks share them from 300 KB: cold
 * 12-layer passes of 124M's bf16 cache on AMD Zen 3, two threads against
 * one, 96 keys 10 % faster, 128 keys 13-18 %, 192 keys 26 %. */
#define ATTN_MIN_BYTES_PER_THREAD 1.5e5

/* Keys per chunk for a row that sees `len` keys of `key_bytes` each (its
 * keys and values, all heads): at most CHUNK, whole blocks of KB, the row's
 * keys cut in equal chunks, and at least two once the row reads enough for
 * two chunks (ATTN_MIN_BYTES_PER_CHUNK each, above). A function of the row
 * alone, so its result depends neither on the thread count nor on the
 * other rows. */
static int64_t chunk_keys(int64_t len, double key_bytes)
{
    if (len <= 0) return KB; /* no keys: one empty chunk */
    int64_t n = (len + CHUNK - 1) / CHUNK;
    if (n < 2) n = (double)len * key_bytes >= 2.0 * ATTN_MIN_BYTES_PER_CHUNK ? 2 : 1;
    const int64_t per = (len + n - 1) / n;
    return (per + KB - 1) / KB * KB;
}

static tril_status direct_all_heads(const tril_attention_args *a)
{
    const int64_t H = a->heads, D = a->head_dim, rows = a->batch * a->q_len;
    /* a key and its value */
    const double key_bytes = 2.0 * (double)(H * D) * (double)tril_dtype_size(a->kv_dtype);
    int64_t chunks = 1;
    for (int64_t r = 0; r < rows; r++) {
        const attn_row_window w = attn_row(a, r / a->q_len, r % a->q_len);
        const int64_t len = attn_max64(w.lo, w.hi) - w.lo, per = chunk_keys(len, key_bytes);
        chunks = attn_max64(chunks, (len + per - 1) / per);
    }
    /* a thread per chunk's worth of cached rows while the threads spin, per
     * ATTN_MIN_BYTES_PER_THREAD when they may sleep, or per the
     * arithmetic's own share if that gives more; a thread without a chunk
     * still shares the merge below */
    const double per_thread = a->threads_awake ? ATTN_MIN_BYTES_PER_CHUNK : ATTN_MIN_BYTES_PER_THREAD;
    const int by_bytes =
        tril_threads_for_bytes(key_bytes * (double)a->batch * (double)a->kv_len, per_thread);
    const int threads = attn_max64(by_bytes, attn_threads(a, 1));
    const int64_t pf = partial_floats(H, D);
    float *parts = workspace_get(&chunk_partials, (size_t)(rows * chunks * pf));
    if (!parts) return TRIL_FAIL(TRIL_ERR_NOMEM, "attention: out of memory");
    int failed = 0;
#pragma omp parallel reduction(| : failed) num_threads(threads)
    {
        float *scratch = workspace_get(&row_scratch, (size_t)(H * D + H * CHUNK));
        if (!scratch) failed = 1;
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < rows * chunks; u++) {
            const int64_t r = u / chunks, c = u % chunks, b = r / a->q_len, i = r % a->q_len;
            const attn_row_window w = attn_row(a, b, i);
            const int64_t hi = attn_max64(w.lo, w.hi), per = chunk_keys(hi - w.lo, key_bytes);
            const int64_t j0 = w.lo + c * per, j1 = attn_min64(j0 + per, hi);
            float *partial = parts + u * pf;
            if (j0 >= j1 || !scratch) { /* nothing here: an empty partial */
                for (int64_t h = 0; h < H; h++) partial[h] = -INFINITY, partial[H + h] = 0.0f;
                continue;
            }
            if (a->kv_dtype == TRIL_BF16) chunk_unit_bf16(a, b, i, j0, j1, scratch, partial);
            else chunk_unit(a, b, i, j0, j1, scratch, partial);
        }
        /* merge the chunks of each (row, head) */
#pragma omp for schedule(static)
        for (int64_t rh = 0; rh < rows * H; rh++) {
            const int64_t r = rh / H, h = rh % H, b = r / a->q_len, i = r % a->q_len;
            float mx = -INFINITY;
            for (int64_t c = 0; c < chunks; c++) {
                const float mc = parts[(r * chunks + c) * pf + h];
                mx = mc > mx ? mc : mx;
            }
            float l = 0.0f;
            float *out = (float *)a->out + b * a->out_batch_stride + i * a->out_row_stride + h * D;
            for (int64_t d = 0; d < D; d++) out[d] = 0.0f;
            for (int64_t c = 0; c < chunks && mx != -INFINITY; c++) {
                const float *part = parts + (r * chunks + c) * pf;
                if (part[h] == -INFINITY) continue;
                const float alpha = part[h] == mx ? 1.0f : vexp(vbcast(part[h] - mx))[0];
                l += alpha * part[H + h];
                const float *acc = part + 2 * H + h * D;
                for (int64_t d = 0; d < D; d++) out[d] += alpha * acc[d];
            }
            const attn_row_window w = attn_row(a, b, i);
            attn_finish_row(a, b, h, i, w.lo, w.hi, out, 1, mx, l);
        }
    }
    return failed ? TRIL_FAIL(TRIL_ERR_NOMEM, "attention: out of memory") : TRIL_OK;
}

tril_status TRIL_ISA_FN(tril_attention_direct)(const tril_attention_args *a)
{
    if (all_heads_applies(a)) return direct_all_heads(a);
    const int64_t dp = (a->head_dim + VL - 1) / VL * VL;
    const int64_t units = a->batch * a->heads * a->q_len;
    int failed = 0;
#pragma omp parallel reduction(| : failed) num_threads(attn_threads(a, 1))
    {
        float *scratch = workspace_get(&row_scratch, (size_t)(4 * dp + VL));
        if (!scratch) failed = 1;
#pragma omp for schedule(static)
        for (int64_t u = 0; u < units; u++) {
            if (!scratch) continue;
            const int64_t i = u % a->q_len, bh = u / a->q_len;
            run_direct_row(a, bh / a->heads, bh % a->heads, i, dp, scratch);
        }
    }
    return failed ? TRIL_FAIL(TRIL_ERR_NOMEM, "attention: out of memory") : TRIL_OK;
}

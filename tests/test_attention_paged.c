/* Paged K/V (tril_attention_args.kv_page_table): the same keys stored
 * contiguously or scattered over a pool of pages in a random order must give
 * BIT-IDENTICAL outputs and lse under the same kernel. That is what lets the
 * server promise that a request's text never depends on where its cache
 * pages landed or on what else is in the batch.
 *
 * The pool is filled with garbage first (NaN, +-inf, huge values), also in
 * the rows of a sequence's last page past kv_len, in the unused pages, in the
 * gap of a row stride wider than H*D and in the table entries past those a
 * sequence uses: none of it may be read. Shapes cover the three SIMD
 * algorithms (direct: Tq <= 4, transposed: structural/none, rowmajor:
 * additive/boolean) in every ISA build available here, and the oracle; pages
 * of 1, 3, 16 and 64 rows; shared pages (a common prefix); every dtype.
 * Each sequence run alone must also match what it got in its batch.
 * Then the validation of the paging fields, and the backward's refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "attention_test_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "tril/attention.h"

typedef struct {
    int64_t batch, heads, dim, q_len, kv_len;
    int64_t page_rows;
    int64_t row_extra;   /* kv_row_stride = H*D + row_extra */
    int padding;         /* 0 none, 1 left, 2 right, 3 both */
    int share;           /* sequence 1 shares sequence 0's first pages */
    tril_mask_mode mask;
    float fill;
    tril_dtype dtype;
    int kv_bf16;         /* keys and values in bf16 under queries in dtype (a bf16 KV cache) */
} pcase;

static const int64_t page_rows_choices[] = {1, 3, 16, 64};
static const int64_t dim_choices[] = {8, 23, 24, 64, 80};

static void describe(const pcase *c, char *buf, size_t size)
{
    snprintf(buf, size,
             "B=%lld H=%lld D=%lld Tq=%lld Tk=%lld page_rows=%lld row_extra=%lld pad=%d "
             "share=%d mask=%s fill=%g dtype=%s kv_bf16=%d",
             (long long)c->batch, (long long)c->heads, (long long)c->dim, (long long)c->q_len,
             (long long)c->kv_len, (long long)c->page_rows, (long long)c->row_extra, c->padding,
             c->share, tril_mask_mode_name(c->mask), (double)c->fill, tril_dtype_name(c->dtype),
             c->kv_bf16);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

/* Garbage a kernel must never read: mostly NaN, some infinities and huge
 * values (which would dominate a softmax if they leaked). */
static void fill_garbage(test_rng *rng, void *buf, tril_dtype dtype, size_t n)
{
    static const float junk[] = {NAN, NAN, INFINITY, -INFINITY, 3e4f, -3e4f};
    for (size_t i = 0; i < n; i++)
        tril_store_f32(buf, dtype, i, junk[test_rng_int(rng, 0, 5)]);
}

/* The kernels to compare: the oracle and every SIMD build that runs here. */
static int kernel_list(tril_attn_kernel *out)
{
    int n = 0;
    out[n++] = TRIL_ATTN_REFERENCE;
    for (int k = TRIL_ATTN_SIMD_GENERIC; k < TRIL_ATTN_KERNEL_COUNT; k++)
        if (tril_attn_kernel_available((tril_attn_kernel)k)) out[n++] = (tril_attn_kernel)k;
    return n;
}

/* Builds one problem contiguous and paged and compares every kernel. */
static void run_case(const pcase *c, uint64_t seed)
{
    char what[256];
    describe(c, what, sizeof what);
    test_rng rng = {seed};
    const tril_dtype dt = c->dtype, kdt = c->kv_bf16 ? TRIL_BF16 : dt;
    const size_t es = tril_dtype_size(dt), kes = tril_dtype_size(kdt);
    const int64_t B = c->batch, H = c->heads, D = c->dim, Tq = c->q_len, Tk = c->kv_len;
    const int64_t hd = H * D, rs = hd + c->row_extra, R = c->page_rows;
    const int64_t used = (Tk + R - 1) / R;

    /* contiguous K/V [B, Tk, rs]; the row gaps are garbage */
    const size_t nkv = (size_t)(B * Tk * rs);
    void *k = xmalloc(nkv * kes), *v = xmalloc(nkv * kes);
    fill_garbage(&rng, k, kdt, nkv);
    fill_garbage(&rng, v, kdt, nkv);
    for (int64_t r = 0; r < B * Tk; r++)
        for (int64_t e = 0; e < hd; e++) {
            tril_store_f32(k, kdt, (size_t)(r * rs + e), test_rng_normal(&rng));
            tril_store_f32(v, kdt, (size_t)(r * rs + e), test_rng_normal(&rng));
        }
    /* a shared prefix: sequence 1's first `shared` pages are sequence 0's */
    const int64_t shared = c->share && B >= 2 ? test_rng_int(&rng, 1, used) : 0;
    const int64_t shared_keys = shared * R < Tk ? shared * R : Tk;
    memcpy((char *)k + (size_t)(Tk * rs) * kes, k, (size_t)(shared_keys * rs) * kes);
    memcpy((char *)v + (size_t)(Tk * rs) * kes, v, (size_t)(shared_keys * rs) * kes);

    /* the pool: every used page (shared ones once) plus spares, in a random
     * order; entries past `used` are garbage that must not be read */
    const int64_t per_seq = used + test_rng_int(&rng, 0, 2);
    const int64_t pages = B * used - shared + test_rng_int(&rng, 0, 3);
    int32_t *perm = xmalloc((size_t)pages * sizeof *perm);
    for (int64_t p = 0; p < pages; p++) perm[p] = (int32_t)p;
    for (int64_t p = pages - 1; p > 0; p--) {
        const int64_t s = test_rng_int(&rng, 0, p);
        const int32_t t = perm[p];
        perm[p] = perm[s];
        perm[s] = t;
    }
    int32_t *table = xmalloc((size_t)(B * per_seq) * sizeof *table);
    int64_t next = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t p = 0; p < per_seq; p++) {
            if (p >= used) table[b * per_seq + p] = p % 2 ? -1 : INT32_MAX;
            else if (b == 1 && p < shared) table[b * per_seq + p] = table[p];
            else table[b * per_seq + p] = perm[next++];
        }
    const size_t npool = (size_t)(pages * R * rs);
    void *kp = xmalloc(npool * kes), *vp = xmalloc(npool * kes);
    fill_garbage(&rng, kp, kdt, npool);
    fill_garbage(&rng, vp, kdt, npool);
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < Tk; j++) {
            const int64_t dst = ((int64_t)table[b * per_seq + j / R] * R + j % R) * rs;
            const int64_t src = (b * Tk + j) * rs;
            memcpy((char *)kp + (size_t)dst * kes, (char *)k + (size_t)src * kes, (size_t)hd * kes);
            memcpy((char *)vp + (size_t)dst * kes, (char *)v + (size_t)src * kes, (size_t)hd * kes);
        }

    const size_t nq = (size_t)(B * Tq * hd), nl = (size_t)(B * H * Tq);
    void *q = test_random_buffer(&rng, nq, dt);
    void *out_c = xmalloc(nq * es), *out_p = xmalloc(nq * es);
    float *lse_c = xmalloc(nl * sizeof(float)), *lse_p = xmalloc(nl * sizeof(float));
    void *out_1 = xmalloc((size_t)(Tq * hd) * es);
    float *lse_1 = xmalloc((size_t)(H * Tq) * sizeof(float));
    int64_t starts[3], ends[3];
    for (int64_t b = 0; b < B; b++) {
        starts[b] = (c->padding & 1) ? test_rng_int(&rng, 0, Tk / 2) : 0;
        ends[b] = (c->padding & 2) ? test_rng_int(&rng, starts[b], Tk) : Tk;
    }

    tril_attention_args a = tril_attention_args_init();
    a.batch = B;
    a.heads = H;
    a.head_dim = D;
    a.q_len = Tq;
    a.kv_len = Tk;
    a.dtype = dt;
    a.kv_dtype = c->kv_bf16 ? TRIL_BF16 : TRIL_F32;
    a.q = q;
    a.kv_row_stride = rs;
    a.mask = c->mask;
    a.fill = c->fill;
    if (c->padding) {
        a.key_start = starts;
        a.key_end = ends;
    }
    tril_attention_args paged = a;
    a.k = k;
    a.v = v;
    a.out = out_c;
    a.lse = lse_c;
    paged.k = kp;
    paged.v = vp;
    paged.out = out_p;
    paged.lse = lse_p;
    paged.kv_batch_stride = -12345; /* unused when paged */
    paged.kv_page_table = table;
    paged.kv_page_rows = R;
    paged.kv_pages_per_seq = per_seq;
    paged.kv_pages = pages;

    tril_attn_kernel kernels[TRIL_ATTN_KERNEL_COUNT];
    const int nk = kernel_list(kernels);
    for (int ki = 0; ki < nk; ki++) {
        const char *kname = tril_attn_kernel_name(kernels[ki]);
        /* different sentinels: an element one call skips cannot match */
        memset(out_c, 0xA5, nq * es);
        memset(out_p, 0x5A, nq * es);
        memset(lse_c, 0xA5, nl * sizeof(float));
        memset(lse_p, 0x5A, nl * sizeof(float));
        tril_status st = tril_attention_forward(&a, kernels[ki]);
        if (st != TRIL_OK) fail_msg("%s contiguous, %s: %s", kname, what, tril_last_error());
        st = tril_attention_forward(&paged, kernels[ki]);
        if (st != TRIL_OK) fail_msg("%s paged, %s: %s", kname, what, tril_last_error());
        for (size_t i = 0; i < nq; i++) {
            if (memcmp((char *)out_c + i * es, (char *)out_p + i * es, es) != 0)
                fail_msg("%s, %s: out[%zu] differs: contiguous %.9g, paged %.9g", kname, what, i,
                         (double)tril_load_f32(out_c, dt, i), (double)tril_load_f32(out_p, dt, i));
            if (isnan(tril_load_f32(out_p, dt, i)))
                fail_msg("%s, %s: out[%zu] is NaN (garbage read)", kname, what, i);
        }
        for (size_t i = 0; i < nl; i++)
            if (memcmp(&lse_c[i], &lse_p[i], sizeof(float)) != 0)
                fail_msg("%s, %s: lse[%zu] differs: contiguous %.9g, paged %.9g", kname, what, i,
                         (double)lse_c[i], (double)lse_p[i]);
        /* each sequence alone (its own table row) gives what it got in the
         * batch: the other requests of a batch change nothing */
        for (int64_t b = 0; b < B && B > 1; b++) {
            tril_attention_args one = paged;
            one.batch = 1;
            one.q = (const char *)q + (size_t)(b * Tq * hd) * es;
            one.kv_page_table = table + b * per_seq;
            if (c->padding) {
                one.key_start = &starts[b];
                one.key_end = &ends[b];
            }
            one.out = out_1;
            one.lse = lse_1;
            memset(out_1, 0x3C, (size_t)(Tq * hd) * es);
            st = tril_attention_forward(&one, kernels[ki]);
            if (st != TRIL_OK) fail_msg("%s alone, %s: %s", kname, what, tril_last_error());
            if (memcmp(out_1, (char *)out_p + (size_t)(b * Tq * hd) * es, (size_t)(Tq * hd) * es) ||
                memcmp(lse_1, lse_p + b * H * Tq, (size_t)(H * Tq) * sizeof(float)))
                fail_msg("%s, %s: sequence %lld alone differs from the batch", kname, what,
                         (long long)b);
        }
    }
    free(out_1);
    free(lse_1);
    free(k);
    free(v);
    free(perm);
    free(table);
    free(kp);
    free(vp);
    free(q);
    free(out_c);
    free(out_p);
    free(lse_c);
    free(lse_p);
}

static pcase random_case(test_rng *rng, int decode)
{
    pcase c;
    c.batch = test_rng_int(rng, 1, 3);
    c.heads = test_rng_int(rng, 1, 4);
    c.dim = dim_choices[test_rng_int(rng, 0, 4)];
    c.q_len = decode ? test_rng_int(rng, 1, 5) : test_rng_int(rng, 5, 70);
    c.kv_len = c.q_len + test_rng_int(rng, 1, 300 - c.q_len); /* past >= 1 */
    c.page_rows = page_rows_choices[test_rng_int(rng, 0, 3)];
    c.row_extra = test_rng_int(rng, 0, 3) == 0 ? test_rng_int(rng, 1, 5) : 0;
    c.padding = test_rng_int(rng, 0, 2) == 0 ? (int)test_rng_int(rng, 1, 3) : 0;
    c.share = (int)test_rng_int(rng, 0, 1);
    c.mask = (tril_mask_mode)test_rng_int(rng, 0, 3);
    const int64_t dtype = test_rng_int(rng, 0, 2);
    c.dtype = dtype == 0 ? TRIL_F32 : dtype == 1 ? TRIL_F16 : TRIL_BF16;
    c.fill = tril_fill_value((tril_fill)test_rng_int(rng, 0, TRIL_FILL_COUNT - 1), c.dtype);
    c.kv_bf16 = c.dtype == TRIL_F32 && test_rng_int(rng, 0, 2) == 0;
    return c;
}

/* Decoding shapes (Tq 1..5: the direct kernel up to 4 rows, and its edge). */
static void test_paged_decode(void **state)
{
    (void)state;
    test_rng rng = {2024};
    for (int t = 0; t < 160; t++) {
        pcase c = random_case(&rng, 1);
        run_case(&c, 10000 + (uint64_t)t);
    }
}

/* Prefill shapes (Tq 5..70: the transposed and rowmajor kernels). */
static void test_paged_prefill(void **state)
{
    (void)state;
    test_rng rng = {77};
    for (int t = 0; t < 120; t++) {
        pcase c = random_case(&rng, 0);
        run_case(&c, 20000 + (uint64_t)t);
    }
}

/* Edges chosen by hand: a page longer than the sequence, Tk a whole number
 * of pages, one-row pages over a long past, the direct kernel's all-heads
 * path across its 256-key chunks and its rows cut in two for two threads
 * (fp32, D a multiple of the vector width, structural), every dtype with the
 * structural mask, and no past at all. */
static void test_paged_edges(void **state)
{
    (void)state;
    const pcase cases[] = {
        {1, 2, 64, 1, 10, 64, 0, 0, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {2, 2, 64, 1, 128, 16, 0, 0, 1, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {1, 3, 64, 1, 300, 1, 0, 0, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {3, 4, 64, 4, 300, 64, 0, 3, 1, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {2, 4, 80, 2, 299, 3, 0, 0, 0, TRIL_MASK_NONE, 0, TRIL_F32, 0},
        {2, 2, 64, 3, 290, 16, 5, 1, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {2, 3, 24, 1, 257, 16, 0, 0, 1, TRIL_MASK_STRUCTURAL, 0, TRIL_F16, 0},
        {2, 3, 24, 1, 257, 16, 0, 0, 1, TRIL_MASK_STRUCTURAL, 0, TRIL_BF16, 0},
        {1, 2, 64, 64, 64, 16, 0, 0, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {2, 2, 64, 70, 70, 3, 0, 0, 1, TRIL_MASK_ADDITIVE, -1e9f, TRIL_F32, 0},
        {2, 1, 80, 33, 200, 64, 2, 3, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_BF16, 0},
        {3, 2, 64, 40, 260, 1, 0, 2, 1, TRIL_MASK_BOOLEAN, -INFINITY, TRIL_F16, 0},
        {1, 1, 8, 5, 6, 3, 0, 0, 0, TRIL_MASK_NONE, 0, TRIL_F32, 0},
        /* decoding rows long enough to be cut in two chunks for two
         * threads (800 KB of keys and values), padded to differ in length */
        {2, 12, 64, 1, 200, 16, 0, 3, 1, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        /* a bf16 KV cache under fp32 queries: decoding (all heads, chunks
         * cut for two threads), prefill, pages of one row, shared pages */
        {2, 12, 64, 1, 200, 16, 0, 3, 1, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {3, 4, 64, 4, 300, 64, 0, 3, 1, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {1, 3, 64, 1, 300, 1, 0, 0, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {2, 2, 64, 40, 260, 16, 3, 1, 1, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {2, 2, 23, 33, 100, 3, 0, 0, 1, TRIL_MASK_ADDITIVE, -1e9f, TRIL_F32, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], 300 + i);
}

/* ---- validation ---- */

#define VB 2
#define VH 2
#define VD 4
#define VTQ 3
#define VTK 7
#define VROWS 3
#define VPER 4 /* ceil(7 / 3) = 3 used, one spare */
#define VPAGES 6
#define VHD (VH * VD)

typedef struct {
    float q[VB * VTQ * VHD];
    float k[VPAGES * VROWS * VHD];
    float v[VPAGES * VROWS * VHD];
    float out[VB * VTQ * VHD];
    float lse[VB * VH * VTQ];
    int32_t table[VB * VPER];
    tril_attention_args a;
} vfixture;

static void vfixture_init(vfixture *f)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < sizeof f->q / sizeof f->q[0]; i++) f->q[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < sizeof f->k / sizeof f->k[0]; i++) f->k[i] = (float)(i % 5) * 0.1f;
    for (size_t i = 0; i < sizeof f->v / sizeof f->v[0]; i++) f->v[i] = (float)(i % 3);
    const int32_t table[VB * VPER] = {4, 0, 2, -1, 1, 5, 3, 99}; /* spares: garbage */
    memcpy(f->table, table, sizeof table);
    f->a = tril_attention_args_init();
    f->a.batch = VB; f->a.heads = VH; f->a.head_dim = VD;
    f->a.q_len = VTQ; f->a.kv_len = VTK;
    f->a.q = f->q; f->a.k = f->k; f->a.v = f->v;
    f->a.out = f->out; f->a.lse = f->lse;
    f->a.kv_page_table = f->table;
    f->a.kv_page_rows = VROWS;
    f->a.kv_pages_per_seq = VPER;
    f->a.kv_pages = VPAGES;
}

#define vexpect_fail(f, want, what)                                                          \
    attention_expect_fail(&(f)->a, (f)->out, sizeof (f)->out / sizeof (f)->out[0], (f)->lse,  \
                          sizeof (f)->lse / sizeof (f)->lse[0], (want), (what), __LINE__)

static void expect_message(const char *needle)
{
    if (!strstr(tril_last_error(), needle))
        fail_msg("message \"%s\" does not mention \"%s\"", tril_last_error(), needle);
}

static void test_paged_validation(void **state)
{
    (void)state;
    vfixture f;
    vfixture_init(&f);
    assert_int_equal(tril_attention_validate(&f.a), TRIL_OK);
    assert_int_equal(tril_attention_forward(&f.a, TRIL_ATTN_REFERENCE), TRIL_OK);
    assert_int_equal(tril_attention_forward(&f.a, TRIL_ATTN_AUTO), TRIL_OK);
    /* kv_batch_stride is unused: any value, negative too */
    f.a.kv_batch_stride = -5;
    assert_int_equal(tril_attention_validate(&f.a), TRIL_OK);
    f.a.kv_batch_stride = 1;
    assert_int_equal(tril_attention_validate(&f.a), TRIL_OK);
    /* exactly enough entries, a pool of exactly the pages used, shared pages */
    vfixture_init(&f);
    f.a.kv_pages_per_seq = 3;
    const int32_t tight[VB * 3] = {0, 1, 2, 0, 1, 2};
    memcpy(f.table, tight, sizeof tight);
    f.a.kv_pages = 3;
    assert_int_equal(tril_attention_validate(&f.a), TRIL_OK);
    assert_int_equal(tril_attention_forward(&f.a, TRIL_ATTN_AUTO), TRIL_OK);
    /* one page longer than the sequence */
    vfixture_init(&f);
    f.a.kv_page_rows = 16;
    f.a.kv_pages_per_seq = 1;
    f.a.kv_pages = 1;
    f.table[0] = f.table[1] = 0;
    assert_int_equal(tril_attention_validate(&f.a), TRIL_OK);

    /* paging fields without a table */
    vfixture_init(&f);
    f.a.kv_page_table = NULL;
    vexpect_fail(&f, TRIL_ERR_INVALID_ARG, "fields set, table NULL");
    expect_message("kv_page_table is NULL");
    f.a.kv_page_rows = 0;
    f.a.kv_pages = 0;
    vexpect_fail(&f, TRIL_ERR_INVALID_ARG, "kv_pages_per_seq set, table NULL");
    /* page rows, pool size */
    vfixture_init(&f);
    f.a.kv_page_rows = 0;
    vexpect_fail(&f, TRIL_ERR_SHAPE, "kv_page_rows 0");
    expect_message("kv_page_rows");
    f.a.kv_page_rows = -3;
    vexpect_fail(&f, TRIL_ERR_SHAPE, "kv_page_rows < 0");
    vfixture_init(&f);
    f.a.kv_pages = 0;
    vexpect_fail(&f, TRIL_ERR_SHAPE, "kv_pages 0");
    /* a short table: fewer entries per sequence than kv_len needs */
    vfixture_init(&f);
    f.a.kv_pages_per_seq = 2;
    vexpect_fail(&f, TRIL_ERR_SHAPE, "kv_pages_per_seq too small");
    expect_message("kv_pages_per_seq");
    f.a.kv_pages_per_seq = 0;
    vexpect_fail(&f, TRIL_ERR_SHAPE, "kv_pages_per_seq 0");
    vfixture_init(&f);
    f.a.kv_page_rows = 2; /* now 4 pages are needed */
    f.a.kv_pages_per_seq = 3;
    vexpect_fail(&f, TRIL_ERR_SHAPE, "smaller pages, same table");
    /* entries out of range: equal to kv_pages, negative, in either sequence */
    vfixture_init(&f);
    f.table[2] = VPAGES;
    vexpect_fail(&f, TRIL_ERR_RANGE, "entry == kv_pages");
    expect_message("page table entry 2 of sequence 0");
    vfixture_init(&f);
    f.table[VPER + 0] = -1;
    vexpect_fail(&f, TRIL_ERR_RANGE, "negative entry");
    expect_message("sequence 1");
    vfixture_init(&f);
    f.table[VPER + 2] = INT32_MAX;
    vexpect_fail(&f, TRIL_ERR_RANGE, "entry INT32_MAX");
    vfixture_init(&f);
    f.a.kv_pages = 4; /* page 4 and 5 are in the table */
    vexpect_fail(&f, TRIL_ERR_RANGE, "pool smaller than the entries");
    /* row stride below H*D */
    vfixture_init(&f);
    f.a.kv_row_stride = VHD - 1;
    vexpect_fail(&f, TRIL_ERR_SHAPE, "row stride < H*D");
    /* overflow: pool rows, pool elements, table entries */
    vfixture_init(&f);
    f.a.kv_pages = INT64_MAX / 2;
    vexpect_fail(&f, TRIL_ERR_SHAPE, "kv_pages * kv_page_rows overflows");
    vfixture_init(&f);
    f.a.kv_pages = (INT64_MAX / VROWS) / 4; /* rows fit, rows * H*D does not */
    vexpect_fail(&f, TRIL_ERR_SHAPE, "pool elements overflow");
    vfixture_init(&f);
    f.a.kv_pages = 100;
    f.a.kv_row_stride = INT64_MAX / 200; /* (rows - 1) * stride overflows */
    vexpect_fail(&f, TRIL_ERR_SHAPE, "pool stride overflow");
    vfixture_init(&f);
    f.a.kv_pages_per_seq = INT64_MAX / 2 + 1; /* B * per_seq overflows */
    vexpect_fail(&f, TRIL_ERR_SHAPE, "B * kv_pages_per_seq overflows");
    vfixture_init(&f);
    f.a.kv_page_rows = INT64_MAX;
    f.a.kv_pages = 2;
    vexpect_fail(&f, TRIL_ERR_SHAPE, "huge pages");
}

/* The backward's gradients have the k/v layout: paged args are refused. */
static void test_paged_backward_refused(void **state)
{
    (void)state;
    vfixture f;
    vfixture_init(&f);
    assert_int_equal(tril_attention_forward(&f.a, TRIL_ATTN_REFERENCE), TRIL_OK);
    float dout[VB * VTQ * VHD], dq[VB * VTQ * VHD], dk[VPAGES * VROWS * VHD],
        dv[VPAGES * VROWS * VHD];
    for (size_t i = 0; i < sizeof dout / sizeof dout[0]; i++) dout[i] = 0.5f;
    const tril_attn_kernel kernels[] = {TRIL_ATTN_REFERENCE, TRIL_ATTN_AUTO, TRIL_ATTN_SIMD_GENERIC};
    for (size_t k = 0; k < 3; k++) {
        tril_clear_error();
        assert_int_equal(tril_attention_backward(&f.a, dout, dq, dk, dv, kernels[k]),
                         TRIL_ERR_UNSUPPORTED);
        expect_message("paged K/V is forward-only");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paged_edges),
        cmocka_unit_test(test_paged_decode),
        cmocka_unit_test(test_paged_prefill),
        cmocka_unit_test(test_paged_validation),
        cmocka_unit_test(test_paged_backward_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

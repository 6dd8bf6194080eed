/* Every attention kernel against the scalar oracle, over many random shapes:
 * T not a multiple of any tile, D in {8, 16, 20, 23, 32, 64, 80, 128}, Tq = 1 with a long
 * past, Tq > Tk, batches with left and right padding, every mask mode and
 * storage dtype. Tolerance: max abs error <= 1e-5 in fp32 (outputs are
 * convex combinations of N(0,1) values), lse likewise; in fp16/bf16 the
 * output is compared after both are rounded to the dtype, within one unit in
 * the last place of the dtype at the output's magnitude (2^-10, 2^-7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "tril/attention.h"
#include "tril/cpu.h"

typedef struct {
    int64_t batch, heads, dim, q_len, kv_len;
    int padding; /* 0 none, 1 left, 2 right, 3 both */
    tril_mask_mode mask;
    float fill;
    tril_dtype dtype;
    int kv_bf16; /* keys and values stored in bf16 under fp32 queries (a bf16 KV cache) */
} shape;

static double dtype_tolerance(tril_dtype dtype)
{
    switch (dtype) {
    case TRIL_F16: return 2.0 * 0x1.0p-10; /* one ulp at |x| < 2, either side */
    case TRIL_BF16: return 2.0 * 0x1.0p-7;
    default: return 1e-5;
    }
}

/* Runs `kernel` and the oracle on the same random problem; returns the max
 * abs errors of out and lse. */
static void compare(const shape *s, tril_attn_kernel kernel, uint64_t seed, double *err_out,
                    double *err_lse)
{
    test_rng rng = {seed};
    const int64_t hd = s->heads * s->dim;
    const size_t nq = (size_t)(s->batch * s->q_len * hd), nk = (size_t)(s->batch * s->kv_len * hd);
    void *q = test_random_buffer(&rng, nq, s->dtype);
    const tril_dtype kv_dtype = s->kv_bf16 ? TRIL_BF16 : s->dtype;
    void *k = test_random_buffer(&rng, nk, kv_dtype);
    void *v = test_random_buffer(&rng, nk, kv_dtype);
    const size_t es = tril_dtype_size(s->dtype);
    void *out_ref = malloc(nq * es), *out = malloc(nq * es);
    const size_t nl = (size_t)(s->batch * s->heads * s->q_len);
    float *lse_ref = malloc(nl * sizeof(float)), *lse = malloc(nl * sizeof(float));
    int64_t starts[8], ends[8];
    for (int64_t b = 0; b < s->batch; b++) {
        starts[b] = (s->padding & 1) ? test_rng_int(&rng, 0, s->kv_len / 2) : 0;
        ends[b] = (s->padding & 2) ? test_rng_int(&rng, starts[b], s->kv_len) : s->kv_len;
    }
    tril_attention_args a = tril_attention_args_init();
    a.batch = s->batch;
    a.heads = s->heads;
    a.head_dim = s->dim;
    a.q_len = s->q_len;
    a.kv_len = s->kv_len;
    a.dtype = s->dtype;
    if (s->kv_bf16) a.kv_dtype = TRIL_BF16;
    a.q = q;
    a.k = k;
    a.v = v;
    a.mask = s->mask;
    a.fill = s->fill;
    if (s->padding) {
        a.key_start = starts;
        a.key_end = ends;
    }
    a.out = out_ref;
    a.lse = lse_ref;
    assert_int_equal(tril_attention_forward(&a, TRIL_ATTN_REFERENCE), TRIL_OK);
    a.out = out;
    a.lse = lse;
    assert_int_equal(tril_attention_forward(&a, kernel), TRIL_OK);
    double eo = 0.0, el = 0.0;
    for (size_t i = 0; i < nq; i++) {
        double x = tril_load_f32(out, s->dtype, i), y = tril_load_f32(out_ref, s->dtype, i);
        assert_false(isnan(x));
        eo = fmax(eo, fabs(x - y));
    }
    for (size_t i = 0; i < nl; i++) {
        if (isinf(lse_ref[i]) || isinf(lse[i])) {
            assert_true(lse_ref[i] == lse[i]); /* both -inf: an empty row */
            continue;
        }
        el = fmax(el, fabs((double)lse[i] - lse_ref[i]));
    }
    *err_out = eo;
    *err_lse = el;
    free(q);
    free(k);
    free(v);
    free(out_ref);
    free(out);
    free(lse_ref);
    free(lse);
}

static void check_all_kernels(const shape *s, uint64_t seed)
{
    for (int kk = TRIL_ATTN_SIMD; kk < TRIL_ATTN_KERNEL_COUNT; kk++) {
        if (!tril_attn_kernel_available((tril_attn_kernel)kk)) continue;
        double eo, el;
        compare(s, (tril_attn_kernel)kk, seed, &eo, &el);
        double tol = dtype_tolerance(s->dtype);
        if (eo > tol || el > 1e-5) {
            fail_msg("kernel %s B=%lld H=%lld D=%lld Tq=%lld Tk=%lld pad=%d mask=%s fill=%g "
                     "dtype=%s kv_bf16=%d: out err %.3g (tol %.3g), lse err %.3g (tol 1e-5)",
                     tril_attn_kernel_name((tril_attn_kernel)kk), (long long)s->batch,
                     (long long)s->heads, (long long)s->dim, (long long)s->q_len,
                     (long long)s->kv_len, s->padding, tril_mask_mode_name(s->mask),
                     (double)s->fill, tril_dtype_name(s->dtype), s->kv_bf16, eo, tol, el);
        }
    }
}

/* 8, 20 and 23 reach the transposed kernel's narrow and odd tails */
static const int64_t dims[] = {8, 16, 20, 23, 32, 64, 80, 128};
#define DIM_COUNT (int64_t)(sizeof dims / sizeof dims[0])

/* The named shapes the issue asks for, in fp32 with the structural mask. */
static void test_named_shapes(void **state)
{
    (void)state;
    const shape cases[] = {
        {1, 1, 16, 1, 1, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {1, 2, 64, 1, 1000, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},  /* decode, long past */
        {2, 3, 80, 1, 333, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {1, 2, 32, 50, 20, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},   /* Tq > Tk */
        {1, 12, 64, 257, 257, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},/* T = tile + 1 */
        {2, 2, 128, 100, 300, 3, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {1, 1, 16, 63, 63, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {3, 2, 64, 65, 65, 1, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        /* decoding rows that read enough keys and values (100 KB) to be
         * cut in two chunks of whole 16-key blocks for two threads: GPT-2
         * 124M's 12 x 64 from 17 keys in fp32, 2 heads of 64 from 98,
         * 1558M's 25 x 64; rows of one batch on either side */
        {1, 12, 64, 1, 16, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {1, 12, 64, 1, 17, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {1, 2, 64, 1, 97, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {1, 2, 64, 1, 98, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {1, 12, 64, 1, 49, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {1, 12, 64, 1, 131, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {3, 12, 64, 1, 200, 3, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
        {1, 25, 64, 2, 30, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) check_all_kernels(&cases[c], 100 + c);
}

/* A bf16 KV cache under fp32 queries: every kernel reads the bf16 keys and
 * values as the oracle does (widened exactly), so the fp32 tolerance holds.
 * Decoding rows through the all-heads path on both sides of the two-chunk
 * cut (33 keys at 12 x 64) and with D = 32, 64, 80 and 128 (P.V in one
 * pass of four or eight vectors, in passes of four, two heads at once;
 * slices of 64, 128, 160 and 256 bytes fetched ahead), decoding with an
 * additive mask (the per-head path), prefill through the transposed
 * (structural) and row-major (additive) kernels, with padding. */
static void test_kv_bf16(void **state)
{
    (void)state;
    const shape cases[] = {
        {1, 12, 64, 1, 16, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {1, 12, 64, 1, 32, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {1, 12, 64, 1, 33, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {1, 12, 64, 1, 98, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {1, 12, 64, 1, 130, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {1, 4, 128, 1, 150, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {2, 3, 80, 1, 77, 1, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {1, 12, 64, 1, 300, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {2, 25, 64, 1, 500, 3, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {1, 4, 32, 3, 77, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {1, 3, 23, 1, 40, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {2, 2, 64, 2, 90, 1, TRIL_MASK_ADDITIVE, -1e9f, TRIL_F32, 1},
        {1, 12, 64, 50, 300, 0, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {2, 3, 80, 65, 65, 3, TRIL_MASK_STRUCTURAL, 0, TRIL_F32, 1},
        {1, 2, 20, 33, 70, 0, TRIL_MASK_ADDITIVE, -INFINITY, TRIL_F32, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) check_all_kernels(&cases[c], 300 + c);
    /* the backward has no bf16 K/V */
    float x[64] = {0};
    tril_attention_args a = tril_attention_args_init();
    a.batch = a.heads = a.q_len = a.kv_len = 1;
    a.head_dim = 16;
    a.q = a.k = a.v = a.out = x;
    a.lse = x + 32;
    a.kv_dtype = TRIL_BF16;
    assert_int_equal(tril_attention_backward(&a, x, x, x, x, TRIL_ATTN_REFERENCE), TRIL_ERR_INVALID_ARG);
    a.kv_dtype = (tril_dtype)7;
    assert_int_equal(tril_attention_forward(&a, TRIL_ATTN_REFERENCE), TRIL_ERR_INVALID_ARG);
}

/* A decoding row cut in chunks for threads gives the same bits on one
 * thread and on two, with the threads_awake hint or without: the cut
 * depends on the row alone. */
static void test_decode_chunks_any_threads(void **state)
{
    (void)state;
    const int64_t H = 12, D = 64, lens[] = {17, 32, 33, 49, 100, 131, 200, 300, 700};
    const int threads_before = tril_get_num_threads();
    /* (threads, threads_awake): the first is the reference */
    const int runs[][2] = {{1, 0}, {2, 0}, {2, 1}, {1, 1}};
    enum { RUNS = sizeof runs / sizeof runs[0] };
    for (size_t c = 0; c < sizeof lens / sizeof lens[0]; c++) {
        const int64_t Tk = lens[c], hd = H * D;
        test_rng rng = {900 + c};
        float *q = test_random_buffer(&rng, (size_t)hd, TRIL_F32);
        float *k = test_random_buffer(&rng, (size_t)(Tk * hd), TRIL_F32);
        float *v = test_random_buffer(&rng, (size_t)(Tk * hd), TRIL_F32);
        float *out[RUNS], lse[RUNS][12];
        for (int t = 0; t < RUNS; t++) {
            out[t] = malloc((size_t)hd * sizeof(float));
            assert_non_null(out[t]);
            tril_set_num_threads(runs[t][0]);
            tril_attention_args a = tril_attention_args_init();
            a.batch = 1;
            a.heads = H;
            a.head_dim = D;
            a.q_len = 1;
            a.kv_len = Tk;
            a.q = q;
            a.k = k;
            a.v = v;
            a.out = out[t];
            a.lse = lse[t];
            a.threads_awake = runs[t][1];
            assert_int_equal(tril_attention_forward(&a, TRIL_ATTN_SIMD), TRIL_OK);
        }
        tril_set_num_threads(threads_before);
        for (int t = 1; t < RUNS; t++)
            if (memcmp(out[0], out[t], (size_t)hd * sizeof(float)) != 0 ||
                memcmp(lse[0], lse[t], sizeof lse[0]) != 0)
                fail_msg("Tk=%lld: %d thread(s) with threads_awake %d differ from one thread", (long long)Tk,
                         runs[t][0], runs[t][1]);
        for (int t = 0; t < RUNS; t++) free(out[t]);
        free(q);
        free(k);
        free(v);
    }
}

/* Many random shapes across every dim, mask mode and padding. */
static void test_random_shapes_fp32(void **state)
{
    (void)state;
    test_rng rng = {42};
    for (int t = 0; t < 120; t++) {
        shape s = {0};
        s.batch = test_rng_int(&rng, 1, 3);
        s.heads = test_rng_int(&rng, 1, 4);
        s.dim = dims[test_rng_int(&rng, 0, DIM_COUNT - 1)];
        s.kv_len = test_rng_int(&rng, 1, 200);
        int kind = (int)test_rng_int(&rng, 0, 3);
        s.q_len = kind == 0 ? s.kv_len : kind == 1 ? 1 : kind == 2 ? test_rng_int(&rng, 1, s.kv_len)
                                                                   : s.kv_len + test_rng_int(&rng, 1, 40);
        s.padding = (int)test_rng_int(&rng, 0, 3);
        s.mask = (tril_mask_mode)test_rng_int(&rng, 0, 3);
        s.fill = tril_fill_value((tril_fill)test_rng_int(&rng, 0, TRIL_FILL_COUNT - 1), TRIL_F32);
        s.dtype = TRIL_F32;
        s.kv_bf16 = t % 3 == 0; /* a bf16 KV cache under fp32 queries */
        check_all_kernels(&s, 1000 + (uint64_t)t);
    }
}

/* Half precision storage: compute is fp32 in both, outputs agree to a
 * rounding of the dtype. */
static void test_random_shapes_half(void **state)
{
    (void)state;
    test_rng rng = {7};
    for (int t = 0; t < 60; t++) {
        shape s = {0};
        s.batch = test_rng_int(&rng, 1, 2);
        s.heads = test_rng_int(&rng, 1, 3);
        s.dim = dims[test_rng_int(&rng, 0, DIM_COUNT - 1)];
        s.kv_len = test_rng_int(&rng, 1, 150);
        s.q_len = test_rng_int(&rng, 1, s.kv_len + 10);
        s.padding = (int)test_rng_int(&rng, 0, 3);
        s.mask = (tril_mask_mode)test_rng_int(&rng, 0, 2);
        s.dtype = t % 2 ? TRIL_F16 : TRIL_BF16;
        s.fill = tril_fill_value((tril_fill)test_rng_int(&rng, 0, TRIL_FILL_COUNT - 1), s.dtype);
        check_all_kernels(&s, 5000 + (uint64_t)t);
    }
}

/* Strided views: GPT-2's packed qkv [T, 3C] and a KV cache larger than Tk. */
static void test_strided_views(void **state)
{
    (void)state;
    const int64_t T = 37, H = 3, D = 32, C = H * D, cap = 64;
    test_rng rng = {9};
    float *qkv = test_random_buffer(&rng, (size_t)(T * 3 * C), TRIL_F32); // [T, 3C]
    float *kcache = test_random_buffer(&rng, (size_t)(cap * C), TRIL_F32); // [cap, C]
    float *vcache = test_random_buffer(&rng, (size_t)(cap * C), TRIL_F32);
    float *dense_q = malloc(sizeof(float) * T * C), *dense_k = malloc(sizeof(float) * T * C);
    float *dense_v = malloc(sizeof(float) * T * C);
    float *out_a = malloc(sizeof(float) * T * C), *out_b = malloc(sizeof(float) * T * C);
    for (int64_t t = 0; t < T; t++) {
        memcpy(dense_q + t * C, qkv + t * 3 * C, sizeof(float) * C);
        memcpy(dense_k + t * C, qkv + t * 3 * C + C, sizeof(float) * C);
        memcpy(dense_v + t * C, qkv + t * 3 * C + 2 * C, sizeof(float) * C);
    }
    for (int kk = TRIL_ATTN_REFERENCE; kk < TRIL_ATTN_KERNEL_COUNT; kk++) {
        if (!tril_attn_kernel_available((tril_attn_kernel)kk)) continue;
        tril_attention_args a = tril_attention_args_init();
        a.batch = 1;
        a.heads = H;
        a.head_dim = D;
        a.q_len = a.kv_len = T;
        a.q = qkv;
        a.k = qkv + C;
        a.v = qkv + 2 * C;
        a.q_row_stride = a.kv_row_stride = 3 * C;
        a.out = out_a;
        assert_int_equal(tril_attention_forward(&a, (tril_attn_kernel)kk), TRIL_OK);
        a.q = dense_q;
        a.k = dense_k;
        a.v = dense_v;
        a.q_row_stride = a.kv_row_stride = 0;
        a.out = out_b;
        assert_int_equal(tril_attention_forward(&a, (tril_attn_kernel)kk), TRIL_OK);
        assert_memory_equal(out_a, out_b, sizeof(float) * T * C);
    }
    /* A cache with room for 64 positions, 20 filled: its tail is never read,
     * so NaN there changes nothing. */
    for (int64_t n = 20 * C; n < cap * C; n++) kcache[n] = vcache[n] = NAN;
    tril_attention_args a = tril_attention_args_init();
    a.batch = 1;
    a.heads = H;
    a.head_dim = D;
    a.q_len = 1;
    a.kv_len = 20;
    a.q = dense_q;
    a.k = kcache;
    a.v = vcache;
    a.kv_batch_stride = cap * C;
    a.out = out_a;
    for (int kk = TRIL_ATTN_REFERENCE; kk < TRIL_ATTN_KERNEL_COUNT; kk++) {
        if (!tril_attn_kernel_available((tril_attn_kernel)kk)) continue;
        assert_int_equal(tril_attention_forward(&a, (tril_attn_kernel)kk), TRIL_OK);
        for (int64_t n = 0; n < C; n++) assert_false(isnan(out_a[n]));
    }
    free(qkv);
    free(kcache);
    free(vcache);
    free(dense_q);
    free(dense_k);
    free(dense_v);
    free(out_a);
    free(out_b);
}

/* Rows with no visible key: zeros and lse = -inf in every kernel and mode. */
static void test_empty_rows(void **state)
{
    (void)state;
    const int64_t Tq = 12, Tk = 8, H = 2, D = 16;
    test_rng rng = {3};
    float *q = test_random_buffer(&rng, (size_t)(Tq * H * D), TRIL_F32);
    float *k = test_random_buffer(&rng, (size_t)(Tk * H * D), TRIL_F32);
    float *v = test_random_buffer(&rng, (size_t)(Tk * H * D), TRIL_F32);
    float out[12 * 2 * 16], lse[2 * 12];
    for (int mode = TRIL_MASK_STRUCTURAL; mode <= TRIL_MASK_BOOLEAN; mode++) {
        for (int kk = TRIL_ATTN_REFERENCE; kk < TRIL_ATTN_KERNEL_COUNT; kk++) {
            if (!tril_attn_kernel_available((tril_attn_kernel)kk)) continue;
            tril_attention_args a = tril_attention_args_init();
            a.batch = 1;
            a.heads = H;
            a.head_dim = D;
            a.q_len = Tq;
            a.kv_len = Tk;
            a.q = q;
            a.k = k;
            a.v = v;
            a.out = out;
            a.lse = lse;
            a.mask = (tril_mask_mode)mode;
            a.fill = -INFINITY;
            assert_int_equal(tril_attention_forward(&a, (tril_attn_kernel)kk), TRIL_OK);
            /* Tq - Tk = 4: rows 0..3 see nothing. */
            for (int64_t i = 0; i < Tq; i++) {
                for (int64_t h = 0; h < H; h++) {
                    float l = lse[h * Tq + i];
                    for (int64_t d = 0; d < D; d++) {
                        float x = out[(i * H + h) * D + d];
                        assert_false(isnan(x));
                        if (i < 4) assert_true(x == 0.0f);
                    }
                    if (i < 4) assert_true(isinf(l) && l < 0);
                    else assert_true(isfinite(l));
                }
            }
        }
    }
    free(q);
    free(k);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_shapes),
        cmocka_unit_test(test_kv_bf16), cmocka_unit_test(test_decode_chunks_any_threads),
        cmocka_unit_test(test_random_shapes_fp32),
        cmocka_unit_test(test_random_shapes_half),
        cmocka_unit_test(test_strided_views),
        cmocka_unit_test(test_empty_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

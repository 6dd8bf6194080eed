/* Every error path of tril_attention_validate / tril_attention_forward, and
 * the name/parse/fill helpers of tril/attention.h.
 *
 * Each bad argument set must be rejected by both validate and forward with the
 * specific status (INVALID_ARG for NULL pointers and bad enums, SHAPE for
 * sizes, strides and overflow, RANGE for padding windows), leave a non-empty
 * tril_last_error() message, not write to out, and not crash (these run under
 * ASan/UBSan too). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "attention_test_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tril/attention.h"

/* A valid baseline: B=2, H=2, D=4, Tq=3, Tk=5, dense fp32, with padding
 * windows and lse. Tests mutate one thing at a time. */
#define B_ 2
#define H_ 2
#define D_ 4
#define TQ 3
#define TK 5
#define HD (H_ * D_)

typedef struct {
    float q[B_ * TQ * HD];
    float k[B_ * TK * HD];
    float v[B_ * TK * HD];
    float out[B_ * TQ * HD];
    float lse[B_ * H_ * TQ];
    int64_t ks[B_], ke[B_];
    tril_attention_args a;
} fixture;

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < sizeof f->q / sizeof f->q[0]; i++) f->q[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < sizeof f->k / sizeof f->k[0]; i++) f->k[i] = (float)(i % 5) * 0.1f;
    for (size_t i = 0; i < sizeof f->v / sizeof f->v[0]; i++) f->v[i] = (float)(i % 3);
    f->ks[0] = 0; f->ke[0] = TK;
    f->ks[1] = 1; f->ke[1] = 4;
    f->a = tril_attention_args_init();
    f->a.batch = B_; f->a.heads = H_; f->a.head_dim = D_;
    f->a.q_len = TQ; f->a.kv_len = TK;
    f->a.dtype = TRIL_F32;
    f->a.q = f->q; f->a.k = f->k; f->a.v = f->v;
    f->a.out = f->out; f->a.lse = f->lse;
    f->a.key_start = f->ks; f->a.key_end = f->ke;
    f->a.mask = TRIL_MASK_STRUCTURAL;
}

#define expect_fail(f, want, what)                                                          \
    attention_expect_fail(&(f)->a, (f)->out, sizeof (f)->out / sizeof (f)->out[0], (f)->lse,  \
                          sizeof (f)->lse / sizeof (f)->lse[0], (want), (what), __LINE__)

/* The baseline itself is accepted, so each mutation below is what fails. */
static void test_baseline_ok(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    assert_int_equal(tril_attention_validate(&f.a), TRIL_OK);
    assert_int_equal(tril_attention_forward(&f.a, TRIL_ATTN_REFERENCE), TRIL_OK);
    /* optional pointers may be NULL */
    f.a.lse = NULL; f.a.key_start = NULL; f.a.key_end = NULL;
    assert_int_equal(tril_attention_validate(&f.a), TRIL_OK);
    assert_int_equal(tril_attention_forward(&f.a, TRIL_ATTN_REFERENCE), TRIL_OK);
    /* exact (not larger) strides are fine */
    f.a.q_row_stride = HD; f.a.q_batch_stride = TQ * HD;
    f.a.kv_row_stride = HD; f.a.kv_batch_stride = TK * HD;
    f.a.out_row_stride = HD; f.a.out_batch_stride = TQ * HD;
    assert_int_equal(tril_attention_validate(&f.a), TRIL_OK);
    /* an empty padding window (start == end) is valid: rows see nothing */
    f.ks[1] = 2; f.ke[1] = 2;
    f.a.key_start = f.ks; f.a.key_end = f.ke;
    assert_int_equal(tril_attention_validate(&f.a), TRIL_OK);
    f.ks[1] = 0; f.ke[1] = 0;
    assert_int_equal(tril_attention_validate(&f.a), TRIL_OK);
    f.ks[1] = TK; f.ke[1] = TK;
    assert_int_equal(tril_attention_validate(&f.a), TRIL_OK);
}

static void test_null_pointers(void **state)
{
    (void)state;
    fixture f;
    tril_clear_error();
    assert_int_equal(tril_attention_validate(NULL), TRIL_ERR_INVALID_ARG);
    assert_true(tril_last_error()[0] != '\0');
    tril_clear_error();
    assert_int_equal(tril_attention_forward(NULL, TRIL_ATTN_REFERENCE), TRIL_ERR_INVALID_ARG);
    assert_true(tril_last_error()[0] != '\0');
    tril_clear_error();
    assert_int_equal(tril_attention_forward(NULL, TRIL_ATTN_AUTO), TRIL_ERR_INVALID_ARG);
    assert_true(tril_last_error()[0] != '\0');

    fixture_init(&f); f.a.q = NULL;   expect_fail(&f, TRIL_ERR_INVALID_ARG, "q NULL");
    fixture_init(&f); f.a.k = NULL;   expect_fail(&f, TRIL_ERR_INVALID_ARG, "k NULL");
    fixture_init(&f); f.a.v = NULL;   expect_fail(&f, TRIL_ERR_INVALID_ARG, "v NULL");
    fixture_init(&f); f.a.out = NULL; expect_fail(&f, TRIL_ERR_INVALID_ARG, "out NULL");
}

static void test_bad_sizes(void **state)
{
    (void)state;
    fixture f;
    int64_t bad[] = {0, -1, INT64_MIN};
    for (size_t i = 0; i < 3; i++) {
        char what[64];
        /* without padding windows, so that only the size can be wrong */
        int64_t *sizes[] = {&f.a.batch, &f.a.heads, &f.a.head_dim, &f.a.q_len, &f.a.kv_len};
        static const char *names[] = {"B", "H", "D", "Tq", "Tk"};
        for (size_t j = 0; j < 5; j++) {
            fixture_init(&f);
            f.a.key_start = NULL;
            f.a.key_end = NULL;
            *sizes[j] = bad[i];
            snprintf(what, sizeof what, "%s = %lld", names[j], (long long)bad[i]);
            expect_fail(&f, TRIL_ERR_SHAPE, what);
        }
    }
}

static void test_overflow(void **state)
{
    (void)state;
    fixture f;
    /* H*D = 2^64 */
    fixture_init(&f);
    f.a.heads = (int64_t)1 << 32; f.a.head_dim = (int64_t)1 << 32;
    f.a.key_start = NULL; f.a.key_end = NULL;
    expect_fail(&f, TRIL_ERR_SHAPE, "H*D overflow");
    /* H*D = 2^62 fits, but Tq * row stride = 2^64 does not */
    fixture_init(&f);
    f.a.heads = (int64_t)1 << 31; f.a.head_dim = (int64_t)1 << 31; f.a.q_len = 4;
    f.a.kv_len = 4; f.a.key_start = NULL; f.a.key_end = NULL;
    expect_fail(&f, TRIL_ERR_SHAPE, "Tq*H*D overflow");
    /* B * batch stride overflows */
    fixture_init(&f);
    f.a.batch = INT64_MAX / 2; f.a.key_start = NULL; f.a.key_end = NULL;
    f.a.lse = NULL;
    expect_fail(&f, TRIL_ERR_SHAPE, "B*Tq*H*D overflow");
    /* a huge explicit stride: B * stride overflows */
    fixture_init(&f);
    f.a.kv_batch_stride = INT64_MAX;
    expect_fail(&f, TRIL_ERR_SHAPE, "B*kv_batch_stride overflow");
}

static void test_bad_strides(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f); f.a.q_row_stride = HD - 1;   expect_fail(&f, TRIL_ERR_SHAPE, "q row stride < H*D");
    fixture_init(&f); f.a.kv_row_stride = HD - 1;  expect_fail(&f, TRIL_ERR_SHAPE, "kv row stride < H*D");
    fixture_init(&f); f.a.out_row_stride = HD - 1; expect_fail(&f, TRIL_ERR_SHAPE, "out row stride < H*D");
    fixture_init(&f); f.a.q_row_stride = -HD;      expect_fail(&f, TRIL_ERR_SHAPE, "negative q row stride");
    fixture_init(&f); f.a.kv_row_stride = -1;      expect_fail(&f, TRIL_ERR_SHAPE, "negative kv row stride");
    fixture_init(&f); f.a.out_row_stride = -1;     expect_fail(&f, TRIL_ERR_SHAPE, "negative out row stride");
    /* with B = 1 the batch strides cannot catch a short row stride */
    fixture_init(&f); f.a.batch = 1; f.a.q_row_stride = HD - 1;
    expect_fail(&f, TRIL_ERR_SHAPE, "B=1, q row stride < H*D");
    fixture_init(&f); f.a.batch = 1; f.a.kv_row_stride = HD - 1;
    expect_fail(&f, TRIL_ERR_SHAPE, "B=1, kv row stride < H*D");
    fixture_init(&f); f.a.batch = 1; f.a.out_row_stride = HD - 1;
    expect_fail(&f, TRIL_ERR_SHAPE, "B=1, out row stride < H*D");
    fixture_init(&f); f.a.q_batch_stride = TQ * HD - 1;
    expect_fail(&f, TRIL_ERR_SHAPE, "q batch stride < Tq*row");
    fixture_init(&f); f.a.kv_batch_stride = TK * HD - 1;
    expect_fail(&f, TRIL_ERR_SHAPE, "kv batch stride < Tk*row");
    fixture_init(&f); f.a.out_batch_stride = TQ * HD - 1;
    expect_fail(&f, TRIL_ERR_SHAPE, "out batch stride < Tq*row");
    fixture_init(&f); f.a.kv_batch_stride = -1;
    expect_fail(&f, TRIL_ERR_SHAPE, "negative kv batch stride");
    /* batch stride checked against the explicit (larger) row stride */
    fixture_init(&f); f.a.q_row_stride = HD + 1; f.a.q_batch_stride = TQ * HD;
    expect_fail(&f, TRIL_ERR_SHAPE, "q batch stride < Tq*explicit row stride");
}

static void test_bad_padding(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f); f.ks[1] = 3; f.ke[1] = 2;   expect_fail(&f, TRIL_ERR_RANGE, "key_start > key_end");
    fixture_init(&f); f.ks[0] = -1;               expect_fail(&f, TRIL_ERR_RANGE, "key_start < 0");
    fixture_init(&f); f.ke[1] = TK + 1;           expect_fail(&f, TRIL_ERR_RANGE, "key_end > Tk");
    fixture_init(&f); f.ks[1] = TK + 1; f.ke[1] = TK + 1;
    expect_fail(&f, TRIL_ERR_RANGE, "window beyond Tk");
    fixture_init(&f); f.ks[0] = -2; f.ke[0] = -1; expect_fail(&f, TRIL_ERR_RANGE, "negative window");
    /* only one of the two given: the other defaults (0 / Tk) */
    fixture_init(&f); f.a.key_end = NULL; f.ks[1] = TK + 1;
    expect_fail(&f, TRIL_ERR_RANGE, "key_start > Tk, key_end default");
    fixture_init(&f); f.a.key_start = NULL; f.ke[0] = -1;
    expect_fail(&f, TRIL_ERR_RANGE, "key_end < 0, key_start default");
}

static void test_bad_enums(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f); f.a.mask = (tril_mask_mode)4;   expect_fail(&f, TRIL_ERR_INVALID_ARG, "mask 4");
    fixture_init(&f); f.a.mask = (tril_mask_mode)-1;  expect_fail(&f, TRIL_ERR_INVALID_ARG, "mask -1");
    fixture_init(&f); f.a.dtype = (tril_dtype)3;      expect_fail(&f, TRIL_ERR_INVALID_ARG, "dtype 3");
    fixture_init(&f); f.a.dtype = (tril_dtype)-1;     expect_fail(&f, TRIL_ERR_INVALID_ARG, "dtype -1");

    const int bad_kernels[] = {TRIL_ATTN_KERNEL_COUNT, -1, 1000};
    for (size_t i = 0; i < 3; i++) {
        fixture_init(&f);
        f.out[0] = 777.0f;
        tril_clear_error();
        tril_status s = tril_attention_forward(&f.a, (tril_attn_kernel)bad_kernels[i]);
        if (s != TRIL_ERR_INVALID_ARG)
            fail_msg("kernel %d: forward returned %d (%s), want invalid argument", bad_kernels[i],
                     (int)s, tril_status_name(s));
        assert_true(tril_last_error()[0] != '\0');
        assert_true(f.out[0] == 777.0f);
        assert_int_equal(tril_attn_kernel_available((tril_attn_kernel)bad_kernels[i]), 0);
    }
    /* a valid kernel this CPU cannot run: a valid request the build cannot serve */
    for (int k = 0; k < TRIL_ATTN_KERNEL_COUNT; k++) {
        if (tril_attn_kernel_available((tril_attn_kernel)k)) continue;
        fixture_init(&f);
        tril_clear_error();
        tril_status s = tril_attention_forward(&f.a, (tril_attn_kernel)k);
        if (s != TRIL_ERR_UNSUPPORTED)
            fail_msg("unavailable kernel %s: forward returned %d (%s), want unsupported",
                     tril_attn_kernel_name((tril_attn_kernel)k), (int)s, tril_status_name(s));
        assert_true(tril_last_error()[0] != '\0');
    }
}

/* scale must be finite and >= 0 (0 means 1/sqrt(D)); fill must be a number
 * <= 0 when a mask mode uses it, and is ignored otherwise. */
static void test_bad_values(void **state)
{
    (void)state;
    fixture f;
    const float bad_scales[] = {NAN, INFINITY, -INFINITY, -1.0f};
    for (size_t i = 0; i < 4; i++) {
        char what[64];
        snprintf(what, sizeof what, "scale %g", (double)bad_scales[i]);
        fixture_init(&f);
        f.a.scale = bad_scales[i];
        expect_fail(&f, TRIL_ERR_INVALID_ARG, what);
    }
    const tril_mask_mode modes[] = {TRIL_MASK_ADDITIVE, TRIL_MASK_BOOLEAN};
    const float bad_fills[] = {NAN, 1.0f, INFINITY};
    for (size_t m = 0; m < 2; m++)
        for (size_t i = 0; i < 3; i++) {
            char what[64];
            snprintf(what, sizeof what, "%s fill %g", tril_mask_mode_name(modes[m]),
                     (double)bad_fills[i]);
            fixture_init(&f);
            f.a.mask = modes[m];
            f.a.fill = bad_fills[i];
            expect_fail(&f, TRIL_ERR_INVALID_ARG, what);
        }
    /* the fill is unused by STRUCTURAL and NONE: anything goes, output finite */
    const tril_mask_mode unused[] = {TRIL_MASK_STRUCTURAL, TRIL_MASK_NONE};
    for (size_t m = 0; m < 2; m++) {
        fixture_init(&f);
        f.a.mask = unused[m];
        f.a.fill = NAN;
        assert_int_equal(tril_attention_validate(&f.a), TRIL_OK);
        assert_int_equal(tril_attention_forward(&f.a, TRIL_ATTN_REFERENCE), TRIL_OK);
        for (size_t i = 0; i < sizeof f.out / sizeof f.out[0]; i++) assert_true(isfinite(f.out[i]));
    }
}

/* ---- helpers ------------------------------------------------------------------ */

static void test_args_init(void **state)
{
    (void)state;
    tril_attention_args a = tril_attention_args_init();
    assert_int_equal(a.mask, TRIL_MASK_STRUCTURAL);
    assert_int_equal(a.dtype, TRIL_F32);
    assert_true(a.scale == 0.0f);
    assert_null(a.q); assert_null(a.k); assert_null(a.v); assert_null(a.out);
    assert_null(a.lse); assert_null(a.key_start); assert_null(a.key_end);
    assert_int_equal(a.q_row_stride, 0);
    assert_int_equal(a.kv_batch_stride, 0);
    /* sizes are zero, so the untouched defaults do not validate */
    tril_clear_error();
    assert_int_not_equal(tril_attention_validate(&a), TRIL_OK);
    assert_true(tril_last_error()[0] != '\0');
}

static void test_fill_value(void **state)
{
    (void)state;
    const tril_dtype dts[] = {TRIL_F32, TRIL_F16, TRIL_BF16};
    assert_true(tril_fill_value(TRIL_FILL_DTYPE_MIN, TRIL_F16) == -65504.0f);
    assert_true(tril_fill_value(TRIL_FILL_DTYPE_MIN, TRIL_F32) == -3.4028234663852886e38f);
    assert_true(tril_fill_value(TRIL_FILL_DTYPE_MIN, TRIL_BF16) == tril_dtype_min(TRIL_BF16));
    assert_true(tril_fill_value(TRIL_FILL_NEG_1E10, TRIL_F32) == -1e10f);
    for (size_t i = 0; i < 3; i++) {
        float ninf = tril_fill_value(TRIL_FILL_NEG_INF, dts[i]);
        assert_true(isinf(ninf) && ninf < 0);
        assert_true(tril_fill_value(TRIL_FILL_NEG_1E9, dts[i]) == -1e9f);
        assert_true(tril_fill_value(TRIL_FILL_NEG_1E4, dts[i]) == -1e4f);
        assert_true(tril_fill_value(TRIL_FILL_ZERO, dts[i]) == 0.0f);
    }
}

static void test_fill_names(void **state)
{
    (void)state;
    static const char *names[TRIL_FILL_COUNT] = {"-inf", "-1e10", "-1e9", "-1e4", "dtype_min", "0"};
    for (int i = 0; i < TRIL_FILL_COUNT; i++) {
        const char *n = tril_fill_name((tril_fill)i);
        assert_non_null(n);
        assert_string_equal(n, names[i]);
        tril_fill got = TRIL_FILL_COUNT;
        assert_int_equal(tril_fill_parse(n, &got), TRIL_OK);
        assert_int_equal(got, i);
    }
    assert_null(tril_fill_name(TRIL_FILL_COUNT));
    assert_null(tril_fill_name((tril_fill)-1));
    tril_fill got;
    const char *bogus[] = {"", "bogus", "-1e5", "inf", "structural", "-inf "};
    for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; i++)
        assert_int_equal(tril_fill_parse(bogus[i], &got), TRIL_ERR_INVALID_ARG);
    /* the message names the value and what is accepted */
    assert_non_null(strstr(tril_last_error(), "'-inf '"));
    assert_non_null(strstr(tril_last_error(), "'dtype_min'"));
    assert_int_equal(tril_fill_parse(NULL, &got), TRIL_ERR_INVALID_ARG);
}

static void test_mask_mode_names(void **state)
{
    (void)state;
    static const char *names[] = {"structural", "additive", "boolean", "none"};
    for (int i = 0; i < 4; i++) {
        const char *n = tril_mask_mode_name((tril_mask_mode)i);
        assert_non_null(n);
        assert_string_equal(n, names[i]);
        tril_mask_mode got = (tril_mask_mode)99;
        assert_int_equal(tril_mask_mode_parse(n, &got), TRIL_OK);
        assert_int_equal(got, i);
    }
    assert_null(tril_mask_mode_name((tril_mask_mode)4));
    assert_null(tril_mask_mode_name((tril_mask_mode)-1));
    tril_mask_mode got;
    const char *bogus[] = {"", "causal", "structurall", "auto", "-inf"};
    for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; i++)
        assert_int_equal(tril_mask_mode_parse(bogus[i], &got), TRIL_ERR_INVALID_ARG);
    assert_non_null(strstr(tril_last_error(), "unknown mask mode '-inf'"));
    assert_non_null(strstr(tril_last_error(), "'structural', 'additive', 'boolean' or 'none'"));
}

static void test_kernel_names(void **state)
{
    (void)state;
    static const char *names[TRIL_ATTN_KERNEL_COUNT] = {
        "auto", "reference", "simd", "simd-generic", "simd-avx2", "simd-avx512"};
    for (int i = 0; i < TRIL_ATTN_KERNEL_COUNT; i++) {
        const char *n = tril_attn_kernel_name((tril_attn_kernel)i);
        assert_non_null(n);
        assert_string_equal(n, names[i]);
        tril_attn_kernel got = TRIL_ATTN_KERNEL_COUNT;
        assert_int_equal(tril_attn_kernel_parse(n, &got), TRIL_OK);
        assert_int_equal(got, i);
    }
    assert_null(tril_attn_kernel_name(TRIL_ATTN_KERNEL_COUNT));
    assert_null(tril_attn_kernel_name((tril_attn_kernel)-1));
    tril_attn_kernel got;
    const char *bogus[] = {"", "simd-avx1024", "ref", "simd_generic", "tiled", "structural"};
    for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; i++)
        assert_int_equal(tril_attn_kernel_parse(bogus[i], &got), TRIL_ERR_INVALID_ARG);
    assert_non_null(strstr(tril_last_error(), "'structural'"));
    assert_non_null(strstr(tril_last_error(), "'simd-avx512'"));
    /* always runnable */
    assert_int_equal(tril_attn_kernel_available(TRIL_ATTN_AUTO), 1);
    assert_int_equal(tril_attn_kernel_available(TRIL_ATTN_REFERENCE), 1);
    assert_int_equal(tril_attn_kernel_available(TRIL_ATTN_SIMD), 1);
    assert_int_equal(tril_attn_kernel_available(TRIL_ATTN_SIMD_GENERIC), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_ok),
        cmocka_unit_test(test_null_pointers),
        cmocka_unit_test(test_bad_sizes),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_bad_strides),
        cmocka_unit_test(test_bad_padding),
        cmocka_unit_test(test_bad_enums),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_args_init),
        cmocka_unit_test(test_fill_value),
        cmocka_unit_test(test_fill_names),
        cmocka_unit_test(test_mask_mode_names),
        cmocka_unit_test(test_kernel_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

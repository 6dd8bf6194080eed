/* fp16/bf16 conversions: exhaustive round trips and the overflow behaviour
 * the masking lessons rest on, checked against values PyTorch reports
 * (torch.tensor(x, dtype=...).item()). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "tril/dtype.h"

static void test_f16_roundtrip_exhaustive(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float f = tril_f16_to_f32((uint16_t)h);
        if (isnan(f)) {
            assert_true((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu));
            assert_true(isnan(tril_f16_to_f32(tril_f32_to_f16(f))));
            continue;
        }
        assert_int_equal(tril_f32_to_f16(f), h);
    }
}

static void test_bf16_roundtrip_exhaustive(void **state)
{
    (void)state;
    for (uint32_t b = 0; b < 0x10000u; b++) {
        float f = tril_bf16_to_f32((uint16_t)b);
        if (isnan(f)) continue;
        assert_int_equal(tril_f32_to_bf16(f), b);
    }
}

/* Values from torch 1.13: torch.tensor(x, dtype=torch.float16).item() */
static void test_f16_known_values(void **state)
{
    (void)state;
    assert_true(tril_round_to_dtype(-1e10f, TRIL_F16) == -INFINITY);
    assert_true(tril_round_to_dtype(-1e9f, TRIL_F16) == -INFINITY);
    assert_true(tril_round_to_dtype(-1e4f, TRIL_F16) == -10000.0f);
    assert_true(tril_round_to_dtype(-65504.0f, TRIL_F16) == -65504.0f);
    assert_true(tril_round_to_dtype(-65504.0f - 16.0f, TRIL_F16) == -INFINITY); /* ties up */
    assert_true(tril_round_to_dtype(-65504.0f - 15.0f, TRIL_F16) == -65504.0f);
    assert_true(tril_round_to_dtype(1.0f / 3.0f, TRIL_F16) == 0.333251953125f);
    assert_true(tril_round_to_dtype(5.960464477539063e-08f, TRIL_F16) == 5.960464477539063e-08f);
    assert_true(tril_round_to_dtype(2.9802322387695312e-08f, TRIL_F16) == 0.0f); /* tie to even */
    assert_true(tril_round_to_dtype(2049.0f, TRIL_F16) == 2048.0f);              /* tie to even */
    assert_true(tril_round_to_dtype(2051.0f, TRIL_F16) == 2052.0f);
    assert_true(tril_dtype_min(TRIL_F16) == -65504.0f);
}

/* torch.tensor(x, dtype=torch.bfloat16).item() */
static void test_bf16_known_values(void **state)
{
    (void)state;
    assert_true(tril_round_to_dtype(-1e10f, TRIL_BF16) == -9999220736.0f);
    assert_true(tril_round_to_dtype(-1e9f, TRIL_BF16) == -998244352.0f);
    assert_true(tril_round_to_dtype(-1e4f, TRIL_BF16) == -9984.0f);
    assert_true(tril_round_to_dtype(1.0f / 3.0f, TRIL_BF16) == 0.333984375f);
    assert_true(tril_round_to_dtype(-3.4028234663852886e38f, TRIL_BF16) == -INFINITY);
    assert_true(tril_dtype_min(TRIL_BF16) == -3.3895313892515355e38f);
    assert_true(isinf(tril_round_to_dtype(INFINITY, TRIL_BF16)));
    assert_true(isnan(tril_round_to_dtype(NAN, TRIL_BF16)));
}

static void test_names_and_buffers(void **state)
{
    (void)state;
    tril_dtype d;
    assert_int_equal(tril_dtype_parse("bf16", &d), TRIL_OK);
    assert_int_equal(d, TRIL_BF16);
    assert_int_equal(tril_dtype_parse("float16", &d), TRIL_OK);
    assert_int_equal(d, TRIL_F16);
    assert_int_equal(tril_dtype_parse("fp8", &d), TRIL_ERR_INVALID_ARG);
    assert_non_null(strstr(tril_last_error(), "'fp8'"));
    assert_non_null(strstr(tril_last_error(), "bf16"));
    assert_int_equal(tril_dtype_parse(NULL, &d), TRIL_ERR_INVALID_ARG);
    assert_string_equal(tril_dtype_name(TRIL_F32), "fp32");
    assert_null(tril_dtype_name((tril_dtype)7));
    assert_int_equal(tril_dtype_size(TRIL_F16), 2);
    assert_int_equal(tril_dtype_size((tril_dtype)7), 0);
    float src[3] = {1.5f, -2.25f, 1e-3f}, back[3];
    uint16_t half[3];
    tril_convert_from_f32(half, TRIL_F16, src, 3);
    tril_convert_to_f32(back, half, TRIL_F16, 3);
    assert_true(back[0] == 1.5f && back[1] == -2.25f && fabsf(back[2] - 1e-3f) < 1e-6f);
}

/* int8 as plain elements: the integer's value; stores round to nearest
 * (ties to even) and saturate to [-128, 127]; NaN stores 0. */
static void test_int8_elements(void **state)
{
    (void)state;
    tril_dtype d;
    const char *names[] = {"int8", "i8", "q8_0"};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(tril_dtype_parse(names[k], &d), TRIL_OK);
        assert_int_equal(d, TRIL_INT8);
    }
    assert_string_equal(tril_dtype_name(TRIL_INT8), "int8");
    assert_int_equal(tril_dtype_size(TRIL_INT8), 1);
    assert_true(tril_dtype_min(TRIL_INT8) == -128.0f);
    const float src[8] = {3.6f, -2.5f, 2.5f, 300.0f, -300.0f, NAN, -128.0f, 127.0f};
    const int8_t want[8] = {4, -2, 2, 127, -128, 0, -128, 127};
    int8_t q[8];
    tril_convert_from_f32(q, TRIL_INT8, src, 8);
    assert_memory_equal(q, want, sizeof want);
    float back[8];
    tril_convert_to_f32(back, q, TRIL_INT8, 8);
    for (int k = 0; k < 8; k++) {
        assert_true(back[k] == (float)want[k]);
        assert_true(tril_load_f32(q, TRIL_INT8, (size_t)k) == (float)want[k]);
        assert_true(tril_round_to_dtype(src[k], TRIL_INT8) == (float)want[k]);
        int8_t one;
        tril_store_f32(&one, TRIL_INT8, 0, src[k]);
        assert_int_equal(one, want[k]);
    }
    assert_int_equal(tril_find_nonfinite(q, TRIL_INT8, 8), 8); /* integers are finite */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_roundtrip_exhaustive),
        cmocka_unit_test(test_bf16_roundtrip_exhaustive),
        cmocka_unit_test(test_f16_known_values),
        cmocka_unit_test(test_bf16_known_values),
        cmocka_unit_test(test_names_and_buffers),
        cmocka_unit_test(test_int8_elements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

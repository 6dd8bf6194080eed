/* The masking numerics table, asserted: tril's kernel never leaks and never
 * makes NaN; the textbook failures the literature reports really happen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "tril/mask_numerics.h"

#define SEED 1

static tril_numerics_cell run(tril_numerics_method method, tril_fill fill, tril_dtype dtype,
                              tril_scenario scenario)
{
    tril_numerics_cell c = {method, fill, dtype, scenario, 0, 0, 0};
    assert_int_equal(tril_mask_numerics_run(&c, SEED), TRIL_OK);
    return c;
}

static tril_numerics_cell textbook(tril_fill fill, tril_dtype dtype, tril_scenario scenario)
{
    return run(TRIL_METHOD_TEXTBOOK, fill, dtype, scenario);
}

static void test_tril_never_leaks_never_nan(void **state)
{
    (void)state;
    for (int dt = TRIL_F32; dt <= TRIL_BF16; dt++) {
        for (int sc = 0; sc < TRIL_SCENARIO_COUNT; sc++) {
            tril_numerics_cell c =
                run(TRIL_METHOD_TRIL, TRIL_FILL_NEG_INF, (tril_dtype)dt, (tril_scenario)sc);
            assert_true(c.future_prob == 0.0); /* exactly */
            assert_int_equal(c.nan_rows, 0);
            assert_true(c.rows >= 16);
        }
    }
}

static void test_fill_zero_leaks_everywhere(void **state)
{
    (void)state;
    for (int dt = TRIL_F32; dt <= TRIL_BF16; dt++)
        for (int sc = 0; sc < TRIL_SCENARIO_COUNT; sc++) {
            tril_numerics_cell c = textbook(TRIL_FILL_ZERO, (tril_dtype)dt, (tril_scenario)sc);
            assert_int_equal(c.nan_rows, 0);
            assert_true(c.future_prob > 0.1); /* e^0 = 1: real weight on the future */
        }
}

static void test_neg_1e4_leaks_when_scores_fall_below(void **state)
{
    (void)state;
    for (int dt = TRIL_F32; dt <= TRIL_BF16; dt++) {
        /* Ordinary scores: -1e4 is plenty... */
        assert_true(textbook(TRIL_FILL_NEG_1E4, (tril_dtype)dt, TRIL_SCENARIO_NORMAL).future_prob ==
                    0.0);
        /* ...until the real scores are below it: the future wins outright. */
        tril_numerics_cell c = textbook(TRIL_FILL_NEG_1E4, (tril_dtype)dt, TRIL_SCENARIO_SCORES_BELOW_1E4);
        assert_true(c.future_prob > 0.5);
        /* A fill far below the scores does not leak there. */
        assert_true(textbook(TRIL_FILL_NEG_1E9, (tril_dtype)dt, TRIL_SCENARIO_SCORES_BELOW_1E4)
                        .future_prob == 0.0);
    }
}

static void test_neg_inf_nan_on_empty_rows(void **state)
{
    (void)state;
    for (int dt = TRIL_F32; dt <= TRIL_BF16; dt++) {
        tril_numerics_cell c = textbook(TRIL_FILL_NEG_INF, (tril_dtype)dt, TRIL_SCENARIO_FULLY_MASKED_ROW);
        assert_int_equal(c.nan_rows, 4); /* the 4 left-padded rows */
        c = textbook(TRIL_FILL_NEG_INF, (tril_dtype)dt, TRIL_SCENARIO_Q_LONGER_THAN_K);
        assert_int_equal(c.nan_rows, 4); /* Tq - Tk = 4 rows see nothing */
        /* -inf is exact where a row has something to see. */
        c = textbook(TRIL_FILL_NEG_INF, (tril_dtype)dt, TRIL_SCENARIO_NORMAL);
        assert_int_equal(c.nan_rows, 0);
        assert_true(c.future_prob == 0.0);
    }
}

static void test_big_fills_overflow_in_fp16(void **state)
{
    (void)state;
    const tril_fill fills[] = {TRIL_FILL_NEG_1E10, TRIL_FILL_NEG_1E9};
    for (int f = 0; f < 2; f++) {
        /* fp16: -1e10 and -1e9 become -inf, and empty rows turn NaN... */
        assert_int_equal(textbook(fills[f], TRIL_F16, TRIL_SCENARIO_FULLY_MASKED_ROW).nan_rows, 4);
        assert_int_equal(textbook(fills[f], TRIL_F16, TRIL_SCENARIO_Q_LONGER_THAN_K).nan_rows, 4);
        /* ...while in fp32 and bf16 they stay finite: no NaN, but the empty
         * rows spread their attention over keys they must not see. */
        const tril_dtype finite[] = {TRIL_F32, TRIL_BF16};
        for (int d = 0; d < 2; d++) {
            tril_numerics_cell c = textbook(fills[f], finite[d], TRIL_SCENARIO_FULLY_MASKED_ROW);
            assert_int_equal(c.nan_rows, 0);
            assert_true(c.future_prob > 0.0);
            /* all masked scores round to the same fill: uniform, 1/Tk */
            assert_true(fabs(c.future_prob - 1.0 / 16) < 1e-3);
        }
    }
    /* dtype_min is finite in every dtype: no NaN, the same spreading. */
    for (int dt = TRIL_F32; dt <= TRIL_BF16; dt++) {
        tril_numerics_cell c = textbook(TRIL_FILL_DTYPE_MIN, (tril_dtype)dt, TRIL_SCENARIO_Q_LONGER_THAN_K);
        assert_int_equal(c.nan_rows, 0);
        assert_true(c.future_prob > 0.0);
    }
}

static void test_full_table(void **state)
{
    (void)state;
    size_t n = tril_mask_numerics_table_size();
    assert_int_equal(n, 7 * 3 * 4);
    tril_numerics_cell *cells = calloc(n, sizeof *cells);
    assert_non_null(cells);
    assert_int_equal(tril_mask_numerics_table(cells, n, SEED), TRIL_OK);
    size_t tril_cells = 0;
    for (size_t i = 0; i < n; i++) {
        if (cells[i].method == TRIL_METHOD_TRIL) {
            tril_cells++;
            assert_true(cells[i].future_prob == 0.0 && cells[i].nan_rows == 0);
        }
    }
    assert_int_equal(tril_cells, 12);
    assert_int_not_equal(tril_mask_numerics_table(cells, n - 1, SEED), TRIL_OK);
    free(cells);
}

/* The textbook softmax itself, on a hand-made row: no special case. */
static void test_textbook_softmax_by_hand(void **state)
{
    (void)state;
    const float scores[2 * 2] = {1.0f, 2.0f, 3.0f, 4.0f};
    const uint8_t vis[2 * 2] = {0, 0, 1, 0};
    float p[4];
    assert_int_equal(tril_textbook_softmax(scores, vis, 2, 2, -INFINITY, TRIL_F32, p), TRIL_OK);
    assert_true(isnan(p[0]) && isnan(p[1])); /* -inf - -inf */
    assert_true(p[2] == 1.0f && p[3] == 0.0f);
    assert_int_equal(tril_textbook_softmax(scores, vis, 2, 2, 0.0f, TRIL_F32, p), TRIL_OK);
    assert_true(fabsf(p[3] - 1.0f / (1.0f + expf(-1.0f))) < 1e-6f); /* the leak */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tril_never_leaks_never_nan),
        cmocka_unit_test(test_fill_zero_leaks_everywhere),
        cmocka_unit_test(test_neg_1e4_leaks_when_scores_fall_below),
        cmocka_unit_test(test_neg_inf_nan_on_empty_rows),
        cmocka_unit_test(test_big_fills_overflow_in_fp16),
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_textbook_softmax_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The arithmetic of data-parallel training without any transport: the
 * shard plan (contiguous, whole norm chunks, covering the arena for every
 * world size), the gradient fold (the one order of micro-batch sums, a
 * first copy keeping -0), the norm from per-shard chunk sums equal to the
 * whole gradient's bit for bit, and AdamW over shards equal to AdamW over
 * the whole arena bit for bit (params and both moments), with decay on some
 * tensors and clipping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "tril/train.h"

static void test_shard_range(void **state)
{
    (void)state;
    const int64_t C = TRIL_GRAD_CHUNK;
    const int64_t sizes[] = {0, 1, C - 1, C, C + 1, 3 * C, 3 * C + 17, 124439808};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        const int64_t n = sizes[i];
        for (int world = 1; world <= 9; world++) {
            int64_t prev_hi = 0, largest = 0, smallest = INT64_MAX;
            for (int rank = 0; rank < world; rank++) {
                int64_t lo, hi;
                tril_shard_range(n, rank, world, &lo, &hi);
                assert_true(lo == prev_hi && hi >= lo && hi <= n); /* contiguous, in order */
                assert_true(lo == n || lo % C == 0);               /* whole chunks */
                prev_hi = hi;
                largest = hi - lo > largest ? hi - lo : largest;
                smallest = hi - lo < smallest ? hi - lo : smallest;
            }
            assert_true(prev_hi == n); /* every value belongs to one rank */
            /* balanced to a chunk (the last chunk may be short) */
            if (tril_grad_chunks(n) >= world) assert_true(largest - smallest <= C);
        }
        int64_t lo, hi;
        tril_shard_range(n, 0, 1, &lo, &hi);
        assert_true(lo == 0 && hi == n);
    }
    /* GPT-2 124M on 2 ranks: about half each, in whole chunks */
    int64_t lo, hi;
    tril_shard_range(124439808, 1, 2, &lo, &hi);
    assert_true(lo == 949 * C && hi == 124439808); /* 1899 chunks: 949 + 950 */
    assert_true(tril_grad_chunks(0) == 0 && tril_grad_chunks(1) == 1 && tril_grad_chunks(C) == 1 &&
                tril_grad_chunks(C + 1) == 2);
}

static void test_fold(void **state)
{
    (void)state;
    float total[4], g0[4] = {-0.0f, 1.0f, 1e8f, 3.0f}, g1[4] = {-0.0f, 1e-8f, 1.0f, -3.0f};
    tril_grad_fold(total, g0, 4, 1);
    assert_true(signbit(total[0]) && total[1] == 1.0f); /* a copy, not 0 + g */
    tril_grad_fold(total, g1, 4, 0);
    assert_true(signbit(total[0]));                 /* -0 + -0 */
    assert_true(total[1] == 1.0f + 1e-8f && total[2] == 1e8f + 1.0f && total[3] == 0.0f);
    /* a gradient computed in place is already the total */
    tril_grad_fold(total, total, 4, 1);
    assert_true(total[3] == 0.0f);
    /* ((g0 + g1) + g2), float by float, also across a parallel region */
    const int64_t n = 300000;
    float *t = malloc((size_t)n * 4), *g = malloc((size_t)n * 12), *want = malloc((size_t)n * 4);
    assert_non_null(t);
    assert_non_null(g);
    assert_non_null(want);
    test_rng r = {7};
    for (int64_t i = 0; i < 3 * n; i++) g[i] = test_rng_normal(&r) * (float)(i % 5 + 1);
    for (int k = 0; k < 3; k++) tril_grad_fold(t, g + k * n, n, k == 0);
    for (int64_t i = 0; i < n; i++) {
        volatile float s = g[i];
        s = s + g[n + i];
        s = s + g[2 * n + i];
        want[i] = s;
    }
    assert_memory_equal(t, want, (size_t)n * 4);
    free(t);
    free(g);
    free(want);
}

/* The norm of the whole gradient equals the one gathered from the shards'
 * chunk sums, for every world size, to the last bit. */
static void test_norm_of_shards(void **state)
{
    (void)state;
    const int64_t n = 5 * TRIL_GRAD_CHUNK + 1234;
    float *g = malloc((size_t)n * 4);
    double *sums = malloc((size_t)tril_grad_chunks(n) * sizeof *sums);
    assert_non_null(g);
    assert_non_null(sums);
    test_rng r = {11};
    for (int64_t i = 0; i < n; i++) g[i] = test_rng_normal(&r) * 1e-3f;
    const double whole = tril_grad_norm(g, n);
    assert_true(whole > 0);
    for (int world = 1; world <= 8; world++) {
        memset(sums, 0xff, (size_t)tril_grad_chunks(n) * sizeof *sums); /* NaNs until written */
        for (int rank = 0; rank < world; rank++) {
            int64_t lo, hi;
            tril_shard_range(n, rank, world, &lo, &hi);
            float *copy = malloc((size_t)(hi > lo ? hi - lo : 1) * 4); /* a rank's own buffer */
            assert_non_null(copy);
            memcpy(copy, g + lo, (size_t)(hi - lo) * 4);
            tril_grad_chunk_sumsq(copy, hi - lo, sums + lo / TRIL_GRAD_CHUNK);
            free(copy);
        }
        const double gathered = tril_grad_norm_of_chunks(sums, tril_grad_chunks(n));
        assert_memory_equal(&gathered, &whole, sizeof whole);
    }
    free(g);
    free(sums);
}

/* AdamW on each rank's shard, the ranks' parameters put together, equals
 * one step over the whole arena: params and moments, bit for bit. */
static void test_adamw_shards(void **state)
{
    (void)state;
    /* tensors whose bounds do not fall on chunk bounds, decay on some */
    const int64_t C = TRIL_GRAD_CHUNK;
    tril_param_info table[4];
    memset(table, 0, sizeof table);
    const int64_t sizes[4] = {C + 100, 7, 2 * C - 50, C / 3};
    int64_t off = 0;
    for (int i = 0; i < 4; i++) {
        table[i].offset = off;
        table[i].numel = sizes[i];
        table[i].decay = i % 2 == 0;
        off += sizes[i];
    }
    const int64_t n = off;
    float *p0 = malloc((size_t)n * 4), *g = malloc((size_t)n * 4), *whole = malloc((size_t)n * 4);
    float *sharded = malloc((size_t)n * 4);
    assert_true(p0 && g && whole && sharded);
    test_rng r = {3};
    for (int64_t i = 0; i < n; i++) {
        p0[i] = test_rng_normal(&r) * 0.02f;
        g[i] = test_rng_normal(&r) * 1e-2f;
    }
    tril_adamw_config cfg = tril_adamw_config_default();
    tril_adamw full;
    assert_int_equal(tril_adamw_create(n, &full), TRIL_OK);
    memcpy(whole, p0, (size_t)n * 4);
    for (int step = 0; step < 3; step++)
        tril_adamw_step_scaled(&full, &cfg, whole, g, 0.75f, table, 4, 1e-3f);
    for (int world = 2; world <= 5; world++) {
        memcpy(sharded, p0, (size_t)n * 4);
        for (int rank = 0; rank < world; rank++) {
            int64_t lo, hi;
            tril_shard_range(n, rank, world, &lo, &hi);
            tril_adamw part;
            assert_int_equal(tril_adamw_create_shard(lo, hi - lo, &part), TRIL_OK);
            /* only this shard's gradient, as the ordered reduce-scatter leaves it */
            for (int step = 0; step < 3; step++)
                tril_adamw_step_scaled(&part, &cfg, sharded, g + lo, 0.75f, table, 4, 1e-3f);
            assert_true(part.step == 3);
            assert_memory_equal(part.m, full.m + lo, (size_t)(hi - lo) * 4);
            assert_memory_equal(part.v, full.v + lo, (size_t)(hi - lo) * 4);
            tril_adamw_free(&part);
        }
        assert_memory_equal(sharded, whole, (size_t)n * 4);
    }
    /* a shard's step leaves the rest of the arena alone */
    memcpy(sharded, p0, (size_t)n * 4);
    tril_adamw part;
    assert_int_equal(tril_adamw_create_shard(C, C, &part), TRIL_OK);
    tril_adamw_step_scaled(&part, &cfg, sharded, g + C, 1.0f, table, 4, 1e-3f);
    assert_memory_equal(sharded, p0, (size_t)C * 4);
    assert_memory_equal(sharded + 2 * C, p0 + 2 * C, (size_t)(n - 2 * C) * 4);
    assert_memory_not_equal(sharded + C, p0 + C, (size_t)C * 4);
    tril_adamw_free(&part);
    assert_int_equal(tril_adamw_create_shard(5, 0, &part), TRIL_OK); /* an empty shard */
    tril_adamw_step_scaled(&part, &cfg, sharded, g, 1.0f, table, 4, 1e-3f);
    tril_adamw_free(&part);
    assert_int_equal(tril_adamw_create_shard(-1, 4, &part), TRIL_ERR_SHAPE);
    tril_adamw_free(&full);
    free(p0);
    free(g);
    free(whole);
    free(sharded);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_range),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_norm_of_shards),
        cmocka_unit_test(test_adamw_shards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The bf16 products on Intel AMX (src/model/gemm_amx.c): the packed layout
 * holds every weight where tril_amx_bf16_at says; the products equal a
 * float64 oracle on the same bf16 weights and on x as the kernel takes it
 * (two bf16 parts: the top 16 bits, then the rest rounded to nearest, so
 * within 2^-16 of x) to fp32 rounding; every row of a
 * many-row call is bit for bit the row alone (what tril serve's batch
 * independence rests on). The layout runs anywhere; the products only where
 * the CPU has AMX-BF16 (elsewhere the bf16 model never packs: the test says
 * which ran). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/gemm_amx.h"
#include "test_util.h"
#include "tril/cpu.h"
#include "tril/dtype.h"

/* outputs x inputs: whole blocks of 64, a last block of fewer tiles, and
 * N % 16 rows left in place (GPT-2's vocabulary, 50257, leaves one) */
static const int64_t shapes[][2] = {{48, 64}, {64, 32}, {200, 96}, {17, 32}, {2304, 768},
                                    {768, 3072}, {1000, 64}, {15, 64}};

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static uint16_t *random_weights(test_rng *r, int64_t N, int64_t K)
{
    uint16_t *w = malloc((size_t)(N * K) * sizeof *w);
    assert_non_null(w);
    for (int64_t i = 0; i < N * K; i++) w[i] = tril_f32_to_bf16(0.05f * test_rng_normal(r));
    return w;
}

static void test_layout(void **state)
{
    (void)state;
    test_rng r = {7};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t N = shapes[s][0], K = shapes[s][1];
        uint16_t *w = random_weights(&r, N, K), *wp = malloc((size_t)(N * K) * sizeof *wp);
        uint16_t *scratch = malloc((size_t)(64 * K) * sizeof *scratch);
        float *row = malloc((size_t)K * sizeof *row);
        assert_non_null(wp);
        assert_non_null(scratch);
        assert_non_null(row);
        memcpy(wp, w, (size_t)(N * K) * sizeof *w);
        assert_int_equal(tril_amx_pack_bf16(wp, N, K, scratch), TRIL_OK);
        for (int64_t o = 0; o < N; o++) {
            tril_amx_bf16_row(row, wp, N, K, o);
            for (int64_t k = 0; k < K; k++)
                if (row[k] != tril_bf16_to_f32(w[o * K + k]))
                    fail_msg("[%lld x %lld] weight (%lld, %lld) moved", (long long)N, (long long)K,
                             (long long)o, (long long)k);
        }
        free(w);
        free(wp);
        free(scratch);
        free(row);
    }
    uint16_t w[16 * 48], scratch[64 * 48];
    assert_int_equal(tril_amx_pack_bf16(w, 16, 48, scratch), TRIL_ERR_SHAPE); /* 48 % 32 != 0 */
}

static void test_products(void **state)
{
    (void)state;
    if (!tril_cpu_use_amx()) {
        printf("  this CPU (or TRIL_AMX=0) has no AMX-BF16: products not run; the bf16 model "
               "stays in the AVX-512 layout here\n");
        float y;
        const float x[32] = {0};
        uint16_t w[32] = {0};
        assert_int_equal(tril_amx_matmul_bf16(&y, x, w, NULL, 1, 32, 1), TRIL_ERR_UNSUPPORTED);
        return;
    }
    test_rng r = {11};
    const int64_t row_counts[] = {1, 2, 5, 16, 17, 40};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t N = shapes[s][0], K = shapes[s][1];
        uint16_t *w = random_weights(&r, N, K), *wp = malloc((size_t)(N * K) * sizeof *wp);
        uint16_t *scratch = malloc((size_t)(64 * K) * sizeof *scratch);
        assert_non_null(wp);
        assert_non_null(scratch);
        memcpy(wp, w, (size_t)(N * K) * sizeof *w);
        assert_int_equal(tril_amx_pack_bf16(wp, N, K, scratch), TRIL_OK);
        free(scratch);
        float *b = malloc((size_t)N * sizeof *b), *one = malloc((size_t)N * sizeof *one);
        for (int64_t o = 0; o < N; o++) b[o] = 0.1f * test_rng_normal(&r);
        for (size_t c = 0; c < sizeof row_counts / sizeof row_counts[0]; c++) {
            const int64_t M = row_counts[c];
            float *x = malloc((size_t)(M * K) * sizeof *x), *y = malloc((size_t)(M * N) * sizeof *y);
            /* values with all 24 bits used, and a spread of magnitudes */
            for (int64_t i = 0; i < M * K; i++)
                x[i] = test_rng_normal(&r) * (float)(1 << test_rng_int(&r, 0, 6));
            const float *bias = c % 2 ? b : NULL;
            assert_int_equal(tril_amx_matmul_bf16(y, x, wp, bias, M, K, N), TRIL_OK);
            /* x as the tiles take it (the N % 16 outputs past them: x itself) */
            double *x2 = malloc((size_t)(M * K) * sizeof *x2);
            assert_non_null(x2);
            for (int64_t i = 0; i < M * K; i++) {
                const double p1 = tril_bf16_to_f32((uint16_t)(float_bits(x[i]) >> 16));
                x2[i] = p1 + tril_bf16_to_f32(tril_f32_to_bf16((float)(x[i] - p1)));
                if (fabs(x2[i] - x[i]) > ldexp(fabs(x[i]), -16))
                    fail_msg("x = %.9g taken as %.9g", (double)x[i], x2[i]);
            }
            double worst = 0.0;
            for (int64_t m = 0; m < M; m++) {
                for (int64_t o = 0; o < N; o++) {
                    double ref = bias ? bias[o] : 0.0, mag = fabs(ref);
                    const int tiled = o < N / 16 * 16;
                    for (int64_t k = 0; k < K; k++) {
                        const double xk = tiled ? x2[m * K + k] : x[m * K + k];
                        const double p = xk * tril_bf16_to_f32(w[o * K + k]);
                        ref += p;
                        mag += fabs(p);
                    }
                    /* fp32 sums of K products: a few ulps of the magnitude */
                    const double err = fabs(y[m * N + o] - ref) / (mag + 1e-30);
                    worst = err > worst ? err : worst;
                }
                /* the same row alone: bit for bit */
                assert_int_equal(tril_amx_matmul_bf16(one, x + m * K, wp, bias, 1, K, N), TRIL_OK);
                if (memcmp(one, y + m * N, (size_t)N * sizeof *one) != 0)
                    fail_msg("[%lld x %lld], %lld rows: row %lld differs from itself alone",
                             (long long)N, (long long)K, (long long)M, (long long)m);
            }
            if (worst > 4e-7 * sqrt((double)K))
                fail_msg("[%lld x %lld], %lld rows: error %.3g of the products' magnitude",
                         (long long)N, (long long)K, (long long)M, worst);
            free(x);
            free(x2);
            free(y);
        }
        free(w);
        free(wp);
        free(b);
        free(one);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_products),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

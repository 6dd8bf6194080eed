/* Every fast dense op against its scalar reference (the oracle), over shapes
 * that exercise the GEMV (T = 1) and GEMM paths and odd sizes. Tolerance:
 * relative 1e-5 of the output's scale (fp32 sums of up to 3072 terms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "test_util.h"
#include "tril/dtype.h"
#include "tril/ops.h"

static float *randn(test_rng *r, int64_t n, float scale)
{
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = scale * test_rng_normal(r);
    return x;
}

static double rel_err(const float *a, const float *b, int64_t n)
{
    double worst = 0.0, scale = 1e-30;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)b[i]));
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst / scale;
}

static void test_matmul(void **state)
{
    (void)state;
    test_rng r = {1};
    const int64_t shapes[][3] = {{1, 64, 192}, {1, 768, 2304}, {7, 33, 65}, {64, 128, 512}, {3, 3072, 768}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t T = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
        float *x = randn(&r, T * in, 1.0f), *w = randn(&r, in * out, 0.05f), *b = randn(&r, out, 0.1f);
        float *y = malloc((size_t)(T * out) * 4), *ref = malloc((size_t)(T * out) * 4);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            tril_matmul(y, x, w, with_bias ? b : NULL, T, in, out);
            tril_ref_matmul(ref, x, w, with_bias ? b : NULL, T, in, out);
            double e = rel_err(y, ref, T * out);
            if (e > 1e-5) fail_msg("matmul %lldx%lldx%lld bias=%d: rel err %.3g", (long long)T,
                                   (long long)in, (long long)out, with_bias, e);
        }
        free(x); free(w); free(b); free(y); free(ref);
    }
}

static void test_lm_head(void **state)
{
    (void)state;
    test_rng r = {2};
    const int64_t shapes[][3] = {{1, 64, 1000}, {5, 48, 50257}, {1, 768, 4099}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t T = shapes[s][0], C = shapes[s][1], V = shapes[s][2];
        float *x = randn(&r, T * C, 1.0f), *wte = randn(&r, V * C, 0.02f);
        float *y = malloc((size_t)(T * V) * 4), *ref = malloc((size_t)(T * V) * 4);
        tril_lm_head(y, x, wte, T, C, V);
        tril_ref_lm_head(ref, x, wte, T, C, V);
        assert_true(rel_err(y, ref, T * V) <= 1e-5);
        free(x); free(wte); free(y); free(ref);
    }
}

static void test_layernorm_gelu(void **state)
{
    (void)state;
    test_rng r = {3};
    const int64_t T = 17, C = 96;
    float *x = randn(&r, T * C, 3.0f), *w = randn(&r, C, 1.0f), *b = randn(&r, C, 1.0f);
    for (int64_t i = 0; i < T * C; i++) x[i] += 5.0f; /* a mean far from 0 */
    float *y = malloc((size_t)(T * C) * 4), *ref = malloc((size_t)(T * C) * 4);
    tril_layernorm(y, x, w, b, T, C, 1e-5f);
    tril_ref_layernorm(ref, x, w, b, T, C, 1e-5f);
    assert_true(rel_err(y, ref, T * C) <= 1e-5);
    float g[9] = {-6, -3, -1, -0.5f, 0, 0.5f, 1, 3, 6}, gy[9], gref[9];
    tril_gelu(gy, g, 9);
    tril_ref_gelu(gref, g, 9);
    for (int i = 0; i < 9; i++) assert_true(fabsf(gy[i] - gref[i]) <= 1e-6f);
    /* known values of gelu_new (PyTorch: F.gelu(x, approximate='tanh')) */
    assert_true(fabsf(gref[6] - 0.8411920071f) < 1e-6f);
    assert_true(fabsf(gref[2] - -0.1588079929f) < 1e-6f);
    tril_gelu(x, x, T * C); /* in place works */
    free(x); free(w); free(b); free(y); free(ref);
}

/* The vectorised GELU and its derivative against double-precision
 * references, over a range that reaches both saturated ends, with a length
 * that leaves a tail. Tolerance: 2e-6 absolute (values are O(x)). */
static void test_gelu_vector_paths(void **state)
{
    (void)state;
    const int64_t n = 10007;
    float *x = malloc(n * 4), *dy = malloc(n * 4), *y = malloc(n * 4), *ref = malloc(n * 4);
    for (int64_t i = 0; i < n; i++) {
        x[i] = -12.0f + 24.0f * (float)i / (float)(n - 1);
        dy[i] = 1.0f + 0.001f * (float)(i % 7);
    }
    tril_gelu(y, x, n);
    tril_ref_gelu(ref, x, n);
    for (int64_t i = 0; i < n; i++)
        if (fabsf(y[i] - ref[i]) > 2e-6f * fmaxf(1.0f, fabsf(ref[i])))
            fail_msg("gelu(%g) = %.9g, reference %.9g", (double)x[i], (double)y[i], (double)ref[i]);
    tril_gelu_backward(y, dy, x, n);
    tril_ref_gelu_backward(ref, dy, x, n);
    for (int64_t i = 0; i < n; i++)
        if (fabsf(y[i] - ref[i]) > 2e-6f * fmaxf(1.0f, fabsf(ref[i])))
            fail_msg("gelu'(%g) = %.9g, reference %.9g", (double)x[i], (double)y[i], (double)ref[i]);
    free(x); free(dy); free(y); free(ref);
}

/* bf16-weight matrix-vector products against the fp32 oracle on the same
 * (exactly widened) weights: odd sizes leave row and column tails. */
static void test_bf16_matvec(void **state)
{
    (void)state;
    test_rng r = {5};
    const int64_t shapes[][2] = {{64, 192}, {77, 131}, {768, 2304}, {13, 5}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int64_t in = shapes[k][0], out = shapes[k][1];
        float *x = randn(&r, in, 1.0f), *w = randn(&r, in * out, 0.05f), *b = randn(&r, out, 0.1f);
        uint16_t *w16 = malloc((size_t)(in * out) * 2);
        tril_convert_from_f32(w16, TRIL_BF16, w, (size_t)(in * out));
        tril_convert_to_f32(w, w16, TRIL_BF16, (size_t)(in * out)); /* the values bf16 holds */
        float *y = malloc((size_t)out * 4), *ref = malloc((size_t)out * 4);
        tril_matvec_bf16(y, x, w16, b, in, out);
        tril_ref_matmul(ref, x, w, b, 1, in, out);
        assert_true(rel_err(y, ref, out) <= 1e-5);
        /* the head: logits[rows = out] = w16[out, in] x (w read as [out, in]) */
        float *xh = randn(&r, in, 1.0f);
        tril_lm_head_bf16(y, xh, w16, in, out);
        tril_ref_lm_head(ref, xh, w, 1, in, out);
        assert_true(rel_err(y, ref, out) <= 1e-5);
        free(x); free(w); free(b); free(w16); free(y); free(ref); free(xh);
    }
}

static void test_embed_and_loss(void **state)
{
    (void)state;
    float wte[3 * 2] = {1, 2, 3, 4, 5, 6}, wpe[4 * 2] = {10, 20, 30, 40, 50, 60, 70, 80}, x[2 * 2];
    int32_t ids[2] = {2, 0};
    tril_embed(x, ids, 2, 1, wte, wpe, 2);
    assert_true(x[0] == 35 && x[1] == 46 && x[2] == 51 && x[3] == 62);
    float logits[3] = {1.0f, 2.0f, 3.0f};
    double want = log(exp(1.0) + exp(2.0) + exp(3.0)) - 2.0;
    assert_true(fabs(tril_cross_entropy(logits, 3, 1) - want) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_lm_head),
        cmocka_unit_test(test_layernorm_gelu),
        cmocka_unit_test(test_gelu_vector_paths),
        cmocka_unit_test(test_bf16_matvec),
        cmocka_unit_test(test_embed_and_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

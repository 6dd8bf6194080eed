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
#include <string.h>

#include "test_util.h"
#include "tril/cpu.h"
#include "tril/dtype.h"
#include "tril/ops.h"

static void test_matmul(void **state)
{
    (void)state;
    test_rng r = {1};
    const int64_t shapes[][3] = {{1, 64, 192}, {1, 768, 2304}, {7, 33, 65}, {64, 128, 512}, {3, 3072, 768}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t T = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
        float *x = test_randn(&r, T * in, 1.0f), *w = test_randn(&r, in * out, 0.05f), *b = test_randn(&r, out, 0.1f);
        float *y = malloc((size_t)(T * out) * 4), *ref = malloc((size_t)(T * out) * 4);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            tril_matmul(y, x, w, with_bias ? b : NULL, T, in, out);
            tril_ref_matmul(ref, x, w, with_bias ? b : NULL, T, in, out);
            double e = test_rel_err(y, ref, T * out);
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
        float *x = test_randn(&r, T * C, 1.0f), *wte = test_randn(&r, V * C, 0.02f);
        float *y = malloc((size_t)(T * V) * 4), *ref = malloc((size_t)(T * V) * 4);
        tril_lm_head(y, x, wte, T, C, V);
        tril_ref_lm_head(ref, x, wte, T, C, V);
        assert_true(test_rel_err(y, ref, T * V) <= 1e-5);
        free(x); free(wte); free(y); free(ref);
    }
}

static void test_layernorm_gelu(void **state)
{
    (void)state;
    test_rng r = {3};
    const int64_t T = 17, C = 96;
    float *x = test_randn(&r, T * C, 3.0f), *w = test_randn(&r, C, 1.0f), *b = test_randn(&r, C, 1.0f);
    for (int64_t i = 0; i < T * C; i++) x[i] += 5.0f; /* a mean far from 0 */
    float *y = malloc((size_t)(T * C) * 4), *ref = malloc((size_t)(T * C) * 4);
    tril_layernorm(y, x, w, b, T, C, 1e-5f);
    tril_ref_layernorm(ref, x, w, b, T, C, 1e-5f);
    assert_true(test_rel_err(y, ref, T * C) <= 1e-5);
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

/* bf16-weight products against the fp32 oracle on the same (exactly
 * widened) weights, stored transposed [out, in] as the bf16 model keeps
 * them: one row (the decoding GEMV) and several (widen + GEMM); odd sizes
 * leave row and column tails. Then the bf16 head, one row and panels. */
static void test_bf16_matvec(void **state)
{
    (void)state;
    test_rng r = {5};
    const int64_t shapes[][2] = {{64, 192}, {77, 131}, {768, 2304}, {13, 5}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int64_t in = shapes[k][0], out = shapes[k][1], T = 3;
        float *x = test_randn(&r, T * in, 1.0f), *w = test_randn(&r, in * out, 0.05f), *b = test_randn(&r, out, 0.1f);
        uint16_t *wt16 = malloc((size_t)(in * out) * 2);
        for (int64_t i = 0; i < in; i++)
            for (int64_t o = 0; o < out; o++) {
                wt16[o * in + i] = tril_f32_to_bf16(w[i * out + o]);
                w[i * out + o] = tril_bf16_to_f32(wt16[o * in + i]); /* the values bf16 holds */
            }
        float *y = malloc((size_t)(T * out) * 4), *ref = malloc((size_t)(T * out) * 4);
        float *wbuf = malloc((size_t)(in * out) * 4);
        tril_matvec_bf16(y, x, wt16, b, in, out);
        tril_ref_matmul(ref, x, w, b, 1, in, out);
        assert_true(test_rel_err(y, ref, out) <= 1e-5);
        tril_matmul_bf16(y, x, wt16, b, T, in, out, wbuf);
        tril_ref_matmul(ref, x, w, b, T, in, out);
        assert_true(test_rel_err(y, ref, T * out) <= 1e-5);
        /* the head: logits[T, rows = out] = x wt16[out, in]^T, in panels of
         * 7 rows so the last panel is partial */
        float *wt = malloc((size_t)(in * out) * 4); /* [out, in] fp32, as the oracle reads it */
        for (int64_t i = 0; i < in; i++)
            for (int64_t o = 0; o < out; o++) wt[o * in + i] = w[i * out + o];
        tril_lm_head_bf16(y, x, wt16, 1, in, out, NULL, 0);
        tril_ref_lm_head(ref, x, wt, 1, in, out);
        assert_true(test_rel_err(y, ref, out) <= 1e-5);
        tril_lm_head_bf16(y, x, wt16, T, in, out, wbuf, 7);
        tril_ref_lm_head(ref, x, wt, T, in, out);
        assert_true(test_rel_err(y, ref, T * out) <= 1e-5);
        free(x); free(w); free(b); free(wt16); free(y); free(ref); free(wbuf); free(wt);
    }
}

/* The fp32 decoding GEMV against the oracle with 1 to 4 threads, shapes
 * whose rows do not divide into the blocks evenly: the blocks' sums are
 * added in block order, so every thread count gives the same bits. Without
 * partials it is one sequential pass (a different order, same tolerance). */
static void test_matvec_threads(void **state)
{
    (void)state;
    const int saved_threads = tril_get_num_threads();
    test_rng r = {6};
    const int64_t shapes[][2] = {{768, 2304}, {3072, 768}, {301, 197}, {13, 5}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int64_t in = shapes[k][0], out = shapes[k][1];
        float *x = test_randn(&r, in, 1.0f), *w = test_randn(&r, in * out, 0.05f), *b = test_randn(&r, out, 0.1f);
        float *y = malloc((size_t)out * 4), *y1 = malloc((size_t)out * 4);
        float *ref = malloc((size_t)out * 4);
        float *partials = malloc((size_t)TRIL_MATVEC_PARTIALS(out) * 4);
        tril_ref_matmul(ref, x, w, b, 1, in, out);
        for (int threads = 1; threads <= 4; threads++) {
            tril_set_num_threads(threads);
            tril_matvec(y, x, w, b, in, out, partials);
            double e = test_rel_err(y, ref, out);
            if (e > 1e-5) fail_msg("matvec %lldx%lld threads=%d: rel err %.3g", (long long)in,
                                   (long long)out, threads, e);
            if (threads == 1) memcpy(y1, y, (size_t)out * 4);
            else if (memcmp(y, y1, (size_t)out * 4) != 0)
                fail_msg("matvec %lldx%lld: %d threads differ from 1 thread", (long long)in,
                         (long long)out, threads);
        }
        tril_matvec(y, x, w, NULL, in, out, NULL); /* no partials: one pass */
        tril_ref_matmul(ref, x, w, NULL, 1, in, out);
        assert_true(test_rel_err(y, ref, out) <= 1e-5);
        free(x); free(w); free(b); free(y); free(y1); free(ref); free(partials);
    }
    tril_set_num_threads(saved_threads);
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

/* Several rows at once (tril serve's decode step): every row bit for bit
 * what the one-row kernel gives it alone, for 1..17 rows, odd shapes, with
 * and without partials, at several thread counts; fp32, bf16 and the head.
 * (The one-row kernels are checked against the oracle above.) */
static void test_matvec_rows(void **state)
{
    (void)state;
    const int saved_threads = tril_get_num_threads();
    test_rng r = {7};
    const int64_t shapes[][2] = {{768, 2304}, {3072, 768}, {301, 197}, {13, 5}, {64, 48}};
    const int64_t counts[] = {1, 2, 3, 4, 6, 8, 17, 40};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int64_t in = shapes[k][0], out = shapes[k][1], nmax = 40;
        float *x = test_randn(&r, nmax * in, 1.0f), *w = test_randn(&r, in * out, 0.05f);
        float *b = test_randn(&r, out, 0.1f), *xh = test_randn(&r, nmax * out, 1.0f); /* the head's rows */
        uint16_t *wt16 = malloc((size_t)(in * out) * 2);
        for (int64_t i = 0; i < in * out; i++) wt16[i] = tril_f32_to_bf16(w[i]);
        float *y = malloc((size_t)(nmax * out) * 4), *one = malloc((size_t)out * 4);
        float *head = malloc((size_t)(nmax * in) * 4), *head1 = malloc((size_t)in * 4);
        float *partials = malloc((size_t)(nmax * TRIL_MATVEC_PARTIALS(out)) * 4);
        for (int threads = 1; threads <= 3; threads += 2) {
            tril_set_num_threads(threads);
            for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
                const int64_t n = counts[c];
                for (int with_partials = 0; with_partials < 2; with_partials++) {
                    tril_matvec_rows(y, x, w, b, n, in, out, with_partials ? partials : NULL);
                    for (int64_t row = 0; row < n; row++) {
                        tril_matvec(one, x + row * in, w, b, in, out,
                                    with_partials ? partials : NULL);
                        if (memcmp(one, y + row * out, (size_t)out * 4) != 0)
                            fail_msg("matvec_rows %lldx%lld n=%lld row %lld partials=%d threads=%d "
                                     "differs from matvec alone", (long long)in, (long long)out,
                                     (long long)n, (long long)row, with_partials, threads);
                    }
                }
                /* bf16, wt16 read as [out, in] */
                tril_matvec_bf16_rows(y, x, wt16, b, n, in, out);
                for (int64_t row = 0; row < n; row++) {
                    tril_matvec_bf16(one, x + row * in, wt16, b, in, out);
                    if (memcmp(one, y + row * out, (size_t)out * 4) != 0)
                        fail_msg("matvec_bf16_rows %lldx%lld n=%lld row %lld differs",
                                 (long long)in, (long long)out, (long long)n, (long long)row);
                }
                /* the head: w as [V = in, C = out], rows of x with C columns */
                tril_lm_head_rows(head, xh, w, NULL, n, out, in);
                for (int64_t row = 0; row < n; row++) {
                    assert_int_equal(tril_lm_head(head1, xh + row * out, w, 1, out, in), TRIL_OK);
                    if (memcmp(head1, head + row * in, (size_t)in * 4) != 0)
                        fail_msg("lm_head_rows V=%lld C=%lld n=%lld row %lld differs",
                                 (long long)in, (long long)out, (long long)n, (long long)row);
                }
                tril_lm_head_rows(head, xh, NULL, wt16, n, out, in);
                for (int64_t row = 0; row < n; row++) {
                    assert_int_equal(tril_lm_head_bf16(head1, xh + row * out, wt16, 1, out, in, NULL, 0),
                                     TRIL_OK);
                    if (memcmp(head1, head + row * in, (size_t)in * 4) != 0)
                        fail_msg("lm_head_rows bf16 V=%lld C=%lld n=%lld row %lld differs",
                                 (long long)in, (long long)out, (long long)n, (long long)row);
                }
            }
        }
        free(x); free(xh); free(w); free(b); free(wt16); free(y); free(one); free(head); free(head1);
        free(partials);
    }
    tril_set_num_threads(saved_threads);
}

/* The training loss's softmax against double precision: probabilities and
 * loss, with a vocabulary that leaves a vector tail, logits far below the
 * max (exact zeros) and the target at the max, in the middle and far below.
 * Tolerances: probabilities 2e-6 relative plus 1e-12 absolute (a shifted
 * logit of -34 carries float rounding of ~2e-6 into its tiny p, as in any
 * fp32 softmax; gradients see only the absolute error), loss 1e-6. */
static void test_softmax_xent(void **state)
{
    (void)state;
    test_rng r = {7};
    const int64_t V = 50257;
    float *logits = test_randn(&r, V, 4.0f), *row = malloc((size_t)V * 4);
    logits[5] = -200.0f; /* e^-200 underflows: p must be exactly 0 */
    logits[77] = 30.0f;  /* the max */
    const int32_t targets[3] = {77, 1234, 5};
    for (int k = 0; k < 3; k++) {
        memcpy(row, logits, (size_t)V * 4);
        const double loss = tril_softmax_xent(row, V, targets[k]);
        const double want = tril_cross_entropy(logits, V, targets[k]);
        if (fabs(loss - want) > 1e-6 * fmax(1.0, fabs(want)))
            fail_msg("target %d: loss %.10g, double reference %.10g", targets[k], loss, want);
        double lse = want + (double)logits[targets[k]];
        for (int64_t v = 0; v < V; v++) {
            const double p = exp((double)logits[v] - lse);
            if (fabs(row[v] - p) > 2e-6 * p + 1e-12)
                fail_msg("p[%lld] = %.9g, double reference %.9g", (long long)v, (double)row[v], p);
        }
        assert_true(row[5] == 0.0f);
    }
    free(logits);
    free(row);
}

/* Sizes beyond the BLAS integer range are refused with a status before
 * BLAS sees them truncated (nothing is read or written: the buffers here
 * are tiny). */
static void test_blas_range(void **state)
{
    (void)state;
    const int64_t max = tril_blas_int_max();
    assert_true(max >= INT32_MAX);
    if (max == INT64_MAX) skip(); /* a 64-bit BLAS takes every int64_t size */
    const int64_t big = max + 1;
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 0, 0, 1}, y[4] = {0};
    assert_int_equal(tril_matmul(y, x, w, NULL, big, 1, 1), TRIL_ERR_RANGE);
    assert_non_null(strstr(tril_last_error(), "2147483648"));
    assert_int_equal(tril_lm_head(y, x, w, 2, big, 1), TRIL_ERR_RANGE);
    assert_int_equal(tril_matmul_backward(NULL, w, NULL, y, x, w, big, 1, 1), TRIL_ERR_RANGE);
    assert_int_equal(tril_lm_head_backward(y, w, x, x, w, 2, 1, big), TRIL_ERR_RANGE);
    for (int i = 0; i < 4; i++) assert_true(y[i] == 0.0f); /* untouched */
    /* in range: computed */
    assert_int_equal(tril_matmul(y, x, w, NULL, 2, 2, 2), TRIL_OK);
    assert_true(y[0] == 1 && y[1] == 2 && y[2] == 3 && y[3] == 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_lm_head),
        cmocka_unit_test(test_layernorm_gelu),
        cmocka_unit_test(test_gelu_vector_paths),
        cmocka_unit_test(test_bf16_matvec),
        cmocka_unit_test(test_matvec_threads),
        cmocka_unit_test(test_matvec_rows),
        cmocka_unit_test(test_softmax_xent),
        cmocka_unit_test(test_embed_and_loss),
        cmocka_unit_test(test_blas_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

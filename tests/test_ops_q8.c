/* The int8 (Q8_0) weights: quantisation error bounds, and every int8 kernel
 * against its scalar oracle (tril_ref_gemv_q8) on shapes with short last
 * blocks and vector tails; run under every ISA (test_ops_q8_<isa>).
 * Tolerance: relative 1e-5 of the output's scale, as the fp32 kernels. */
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

/* Each weight comes back within half a step (scale / 2) of its block; the
 * fp16 scale is max |w| / 127 rounded, or one step up so that q fits;
 * q reaches +-127 wherever the scale is a normal fp16; zeros stay zero; an
 * all-zero block has scale 0; blocks too small for a normal (or any) fp16
 * scale keep the bound; one too large for fp16 is refused. */
static void test_quantize_bounds(void **state)
{
    (void)state;
    test_rng r = {11};
    const int64_t rows = 5, cols = 77; /* 2 whole blocks and one of 13 */
    float *w = test_randn(&r, rows * cols, 0.3f), *back = malloc((size_t)(rows * cols) * 4);
    for (int64_t c = 32; c < 64; c++) w[2 * cols + c] = 0.0f; /* row 2, block 1: zeros */
    w[3 * cols + 70] = 1e-30f;                                 /* tiny beside its block */
    /* row 0, block 1: scale exactly 1 (max 127), and ties, which go to even */
    const float ties[6] = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f};
    const int8_t tie_q[6] = {127, 0, 2, 2, 0, -2};
    for (int k = 0; k < 6; k++) w[32 + k] = ties[k];
    for (int64_t c = 0; c < 32; c++) w[4 * cols + c] *= 1e-3f; /* row 4, block 0: a subnormal fp16 scale */
    for (int64_t c = 64; c < 77; c++) w[4 * cols + c] *= 1e-9f; /* row 4, block 2: below fp16's smallest */
    int8_t *q = malloc((size_t)(rows * cols));
    uint16_t *scales = malloc((size_t)TRIL_Q8_SCALES(rows, cols) * sizeof *scales);
    assert_int_equal(TRIL_Q8_SCALES(rows, cols), rows * 3);
    assert_int_equal(tril_q8_quantize(q, scales, w, rows, cols), TRIL_OK);
    tril_q8_dequantize(back, q, scales, rows, cols);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t b = 0; b < 3; b++) {
            const float s = tril_f16_to_f32(scales[i * 3 + b]);
            float amax = 0.0f;
            int qmax = 0;
            for (int64_t c = b * 32; c < cols && c < (b + 1) * 32; c++) {
                const int64_t k = i * cols + c;
                if (fabsf(back[k] - w[k]) > 0.5f * s * (1.0f + 1e-6f))
                    fail_msg("row %lld col %lld: %g -> %g, scale %g", (long long)i, (long long)c,
                             (double)w[k], (double)back[k], (double)s);
                if (w[k] == 0.0f) assert_int_equal(q[k], 0);
                /* exactly libm's rounding of w / scale (ties to even), clamped */
                const float inv = s > 0.0f ? 1.0f / s : 0.0f;
                const long want = lrintf(w[k] * inv);
                if (q[k] != (want > 127 ? 127 : want < -127 ? -127 : want))
                    fail_msg("row %lld col %lld: q %d, lrintf gives %ld", (long long)i, (long long)c, q[k], want);
                amax = fmaxf(amax, fabsf(w[k]));
                qmax = abs(q[k]) > qmax ? abs(q[k]) : qmax;
            }
            /* the fp16 nearest to max |w| / 127, or one step up where that
             * fell below it */
            const uint16_t nearest = tril_f32_to_f16(amax / 127.0f);
            assert_true(scales[i * 3 + b] == nearest || scales[i * 3 + b] == nearest + 1);
            assert_true(s * 127.0f >= amax);
            /* a scale that is normal in fp16 uses the full range of q */
            if (s >= 6.103515625e-05f) assert_int_equal(qmax, 127);
            if (amax == 0.0f) assert_int_equal(qmax, 0);
        }
    assert_true(scales[2 * 3 + 1] == 0);
    assert_int_equal(scales[1], 0x3c00); /* fp16 1.0 */
    for (int k = 0; k < 6; k++) assert_int_equal(q[32 + k], tie_q[k]);
    assert_true(scales[4 * 3 + 0] > 1 && scales[4 * 3 + 0] < 0x400); /* subnormal: the case was reached */
    assert_int_equal(scales[4 * 3 + 2], 1); /* rounded to 0, one step up: the smallest */
    /* a block whose scale would overflow fp16 is refused, naming its row,
     * and so is a non-finite weight */
    w[1 * cols + 5] = 1e10f;
    assert_int_equal(tril_q8_quantize(q, scales, w, rows, cols), TRIL_ERR_RANGE);
    assert_non_null(strstr(tril_last_error(), "row 1"));
    w[1 * cols + 5] = 0.0f;
    w[3 * cols + 9] = NAN;
    assert_int_equal(tril_q8_quantize(q, scales, w, rows, cols), TRIL_ERR_RANGE);
    assert_non_null(strstr(tril_last_error(), "row 3 has a non-finite weight"));
    free(w); free(back); free(q); free(scales);
}

/* The GEMV (quantised activations) against its oracle and, within 2 %,
 * against fp32 activations; its several-row form (each row bit for bit the
 * one-row result); the prefill GEMM (fp32 activations); the head (one row,
 * panels) and the embedding. */
static void test_q8_kernels(void **state)
{
    (void)state;
    const int saved_threads = tril_get_num_threads();
    test_rng r = {12};
    /* in = 200: 7 blocks (four, a pair, a masked pair); 4099: 129 blocks,
     * a last group of one block of 3 values; 250 and 1020: a whole group of
     * eight blocks whose last is short (AVX2 takes it a block at a time) */
    const int64_t shapes[][2] = {{768, 2304}, {3072, 768}, {77, 131}, {13, 5}, {64, 4099},
                                 {200, 37}, {4099, 19}, {250, 37}, {1020, 19}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int64_t in = shapes[k][0], out = shapes[k][1], T = 5;
        float *x = test_randn(&r, T * in, 1.0f), *w = test_randn(&r, out * in, 0.05f), *b = test_randn(&r, out, 0.1f);
        int8_t *q = malloc((size_t)(out * in));
        uint16_t *scales = malloc((size_t)TRIL_Q8_SCALES(out, in) * sizeof *scales);
        assert_int_equal(tril_q8_quantize(q, scales, w, out, in), TRIL_OK);
        float *wd = malloc((size_t)(out * in) * 4); /* the values the int8 model holds */
        tril_q8_dequantize(wd, q, scales, out, in);
        float *y = malloc((size_t)(T * out) * 4), *ref = malloc((size_t)(T * out) * 4);
        float *one = malloc((size_t)out * 4), *wbuf = malloc((size_t)(out * in) * 4);
        for (int threads = 1; threads <= 3; threads += 2) {
            tril_set_num_threads(threads);
            /* one row against the block-wise oracle, plus the bias */
            assert_int_equal(tril_matmul_q8(y, x, q, scales, b, 1, in, out, wbuf), TRIL_OK);
            tril_ref_gemv_q8(ref, q, scales, x, out, in);
            for (int64_t o = 0; o < out; o++) ref[o] += b[o];
            if (test_rel_err(y, ref, out) > 1e-5)
                fail_msg("gemv_q8 %lldx%lld threads=%d: rel err %.3g", (long long)in, (long long)out,
                         threads, test_rel_err(y, ref, out));
            /* the activations' quantisation costs little against the fp32
             * product of the same int8 weights: within 2 % of its scale
             * (about 0.5 % typical; 3 % for the 13-long rows, where one
             * value's rounding weighs more) */
            tril_ref_lm_head(ref, x, wd, 1, in, out);
            for (int64_t o = 0; o < out; o++) ref[o] += b[o];
            if (test_rel_err(y, ref, out) > (in < 32 ? 3e-2 : 2e-2))
                fail_msg("gemv_q8 %lldx%lld vs fp32 activations: rel err %.3g", (long long)in,
                         (long long)out, test_rel_err(y, ref, out));
            /* several rows: each exactly the one-row result */
            assert_int_equal(tril_matvec_q8_rows(y, x, q, scales, b, T, in, out), TRIL_OK);
            for (int64_t t = 0; t < T; t++) {
                assert_int_equal(tril_matmul_q8(one, x + t * in, q, scales, b, 1, in, out, NULL), TRIL_OK);
                if (memcmp(one, y + t * out, (size_t)out * 4) != 0)
                    fail_msg("matvec_q8_rows %lldx%lld row %lld differs", (long long)in,
                             (long long)out, (long long)t);
            }
            /* prefill: fp32 activations, the dequantised matrix through a GEMM */
            assert_int_equal(tril_matmul_q8(y, x, q, scales, b, T, in, out, wbuf), TRIL_OK);
            tril_ref_lm_head(ref, x, wd, T, in, out);
            for (int64_t t = 0; t < T; t++)
                for (int64_t o = 0; o < out; o++) ref[t * out + o] += b[o];
            assert_true(test_rel_err(y, ref, T * out) <= 1e-5);
            /* the head: wte [V = out, C = in]; one row decodes */
            assert_int_equal(tril_lm_head_q8(y, x, q, scales, 1, in, out, NULL, 0), TRIL_OK);
            tril_ref_gemv_q8(ref, q, scales, x, out, in);
            assert_true(test_rel_err(y, ref, out) <= 1e-5);
            assert_int_equal(tril_lm_head_q8(y, x, q, scales, T, in, out, wbuf, 7), TRIL_OK);
            tril_ref_lm_head(ref, x, wd, T, in, out);
            assert_true(test_rel_err(y, ref, T * out) <= 1e-5);
            assert_int_equal(tril_lm_head_q8_rows(y, x, q, scales, T, in, out), TRIL_OK);
            for (int64_t t = 0; t < T; t++) {
                assert_int_equal(tril_lm_head_q8(one, x + t * in, q, scales, 1, in, out, NULL, 0), TRIL_OK);
                assert_memory_equal(one, y + t * out, (size_t)out * 4);
            }
        }
        /* the embedding: row ids[t] dequantised, plus the position row */
        const int32_t ids[2] = {(int32_t)(out - 1), 0};
        float *pos = test_randn(&r, 3 * in, 0.1f), *emb = malloc((size_t)(2 * in) * 4);
        tril_embed_q8(emb, ids, 2, 1, q, scales, pos, in);
        for (int64_t t = 0; t < 2; t++)
            for (int64_t c = 0; c < in; c++)
                assert_true(emb[t * in + c] == wd[ids[t] * in + c] + pos[(1 + t) * in + c]);
        free(pos); free(emb);
        free(x); free(w); free(b); free(q); free(scales); free(wd); free(y); free(ref); free(one);
        free(wbuf);
    }
    tril_set_num_threads(saved_threads);
}

/* The activations' quantisation: the kernel bit for bit the scalar oracle
 * (short last blocks, padding, a block with inf, one with NaN, an all-zero
 * block, a tiny one), and the oracle's own promises: each value within
 * half a step of its block, +-127 at the block's largest magnitude. A
 * non-finite activation makes the GEMV's output NaN. */
static void test_quantize_x(void **state)
{
    (void)state;
    test_rng r = {13};
    const int64_t shapes[][2] = {{1, 768}, {3, 77}, {2, 5}, {4, 4099}, {1, 32}, {2, 64}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int64_t n = shapes[k][0], cols = shapes[k][1];
        const int64_t len = TRIL_Q8_X_LEN(cols), ns = TRIL_Q8_X_SCALES(cols);
        float *x = test_randn(&r, n * cols, 2.0f);
        if (cols >= 77) {
            x[3] = INFINITY;                    /* row 0, block 0 */
            x[40] = NAN;                        /* row 0, block 1 */
            for (int64_t c = 64; c < 96 && c < cols; c++) x[c] = c == 70 ? 1e-31f : 0.0f; /* tiny */
        }
        int8_t *q = malloc((size_t)(n * len)), *qr = malloc((size_t)(n * len));
        float *s = malloc((size_t)(n * ns) * 4), *sr = malloc((size_t)(n * ns) * 4);
        memset(q, 0x55, (size_t)(n * len)); /* the padding must be written */
        for (int64_t i = 0; i < n * ns; i++) s[i] = 9.0f;
        tril_q8_quantize_x(q, s, x, n, cols);
        tril_ref_q8_quantize_x(qr, sr, x, n, cols);
        assert_memory_equal(q, qr, (size_t)(n * len));
        for (int64_t i = 0; i < n * ns; i++)
            if (!(s[i] == sr[i] || (isnan(s[i]) && isnan(sr[i]))))
                fail_msg("%lldx%lld scale %lld: %g vs oracle %g", (long long)n, (long long)cols,
                         (long long)i, (double)s[i], (double)sr[i]);
        for (int64_t t = 0; t < n; t++)
            for (int64_t b = 0; b < ns; b++) {
                const float sc = sr[t * ns + b];
                const int64_t c0 = b * TRIL_Q8_BLOCK;
                if (c0 >= cols) {
                    assert_true(sc == 0.0f);
                    continue;
                }
                if (isnan(sc) || sc == 0.0f) continue;
                float amax = 0.0f;
                int qmax = 0;
                for (int64_t c = c0; c < cols && c < c0 + TRIL_Q8_BLOCK; c++) {
                    const float v = x[t * cols + c];
                    const int qv = qr[t * len + c];
                    if (fabsf(v - (float)qv * sc) > 0.5f * sc * (1.0f + 1e-5f))
                        fail_msg("x %g -> %d x %g", (double)v, qv, (double)sc);
                    amax = fmaxf(amax, fabsf(v));
                    qmax = abs(qv) > qmax ? abs(qv) : qmax;
                }
                assert_true(sc == amax / 127.0f);
                assert_int_equal(qmax, 127);
            }
        for (int64_t t = 0; t < n; t++)
            for (int64_t c = cols; c < len; c++) assert_int_equal(qr[t * len + c], 0);
        if (cols >= 77) {
            assert_true(isnan(sr[0]) && isnan(sr[1]) && sr[2] == 0.0f);
            /* a non-finite activation reaches the output as NaN */
            const int64_t out = 3;
            float *w = test_randn(&r, out * cols, 0.05f), y[3];
            int8_t *wq = malloc((size_t)(out * cols));
            uint16_t *ws = malloc((size_t)TRIL_Q8_SCALES(out, cols) * sizeof *ws);
            assert_int_equal(tril_q8_quantize(wq, ws, w, out, cols), TRIL_OK);
            assert_int_equal(tril_matmul_q8(y, x, wq, ws, NULL, 1, cols, out, NULL), TRIL_OK);
            for (int64_t o = 0; o < out; o++) assert_true(isnan(y[o]));
            free(w); free(wq); free(ws);
        }
        free(x); free(q); free(qr); free(s); free(sr);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_bounds),
        cmocka_unit_test(test_quantize_x),
        cmocka_unit_test(test_q8_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

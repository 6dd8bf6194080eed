/* tril_attention_backward: every SIMD kernel against the oracle, the oracle
 * against finite differences, garbage that no row may see, and bad input
 * (the oracle against PyTorch autograd: test_attention_backward_torch.c).
 * Tolerances (all in fp32):
 *   kernels: per gradient tensor, max abs error <= 1e-5 * the oracle's max
 *     |gradient| of that tensor;
 *   finite differences (central, eps = 1e-3, loss L = sum(out * W) in
 *     double through a forward written here): |analytic - fd| <=
 *     1e-4 * (|fd| + 1e-3), and exactly 0 where L does not depend on the
 *     element;
 *   garbage: NaN/inf in keys and values no row reads changes no gradient
 *     (bit-identical) and their own gradients are exactly 0. */
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

#define REL_TOL 1e-5
#define FD_EPS 1e-3
#define FD_TOL 1e-4

/* One problem: dense fp32 q/k/v/dout, the forward's out and lse, and the
 * gradients, all owned. */
typedef struct {
    tril_attention_args a;
    float *q, *k, *v, *out, *lse, *dout, *dq, *dk, *dv;
    int64_t ks[8], ke[8];
    size_t nq, nk;
} problem;

static void problem_init(problem *p, int64_t B, int64_t H, int64_t D, int64_t Tq, int64_t Tk,
                         tril_mask_mode mask, float fill, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    test_rng rng = {seed};
    p->nq = (size_t)(B * Tq * H * D);
    p->nk = (size_t)(B * Tk * H * D);
    p->q = test_random_buffer(&rng, p->nq, TRIL_F32);
    p->k = test_random_buffer(&rng, p->nk, TRIL_F32);
    p->v = test_random_buffer(&rng, p->nk, TRIL_F32);
    p->dout = test_random_buffer(&rng, p->nq, TRIL_F32);
    p->out = malloc(p->nq * sizeof(float));
    p->lse = malloc((size_t)(B * H * Tq) * sizeof(float));
    p->dq = malloc(p->nq * sizeof(float));
    p->dk = malloc(p->nk * sizeof(float));
    p->dv = malloc(p->nk * sizeof(float));
    assert_true(p->out && p->lse && p->dq && p->dk && p->dv);
    tril_attention_args *a = &p->a;
    *a = tril_attention_args_init();
    a->batch = B; a->heads = H; a->head_dim = D; a->q_len = Tq; a->kv_len = Tk;
    a->q = p->q; a->k = p->k; a->v = p->v; a->out = p->out; a->lse = p->lse;
    a->mask = mask;
    a->fill = fill;
}

static void problem_pad(problem *p, const int64_t *ks, const int64_t *ke)
{
    for (int64_t b = 0; b < p->a.batch; b++) {
        p->ks[b] = ks[b];
        p->ke[b] = ke[b];
    }
    p->a.key_start = p->ks;
    p->a.key_end = p->ke;
}

static void problem_free(problem *p)
{
    free(p->q); free(p->k); free(p->v); free(p->out); free(p->lse);
    free(p->dout); free(p->dq); free(p->dk); free(p->dv);
}

static void fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = NAN;
}

/* Backward with `kernel` into p->dq/dk/dv, which start as NaN so every
 * element must be written. The oracle's forward runs first unless `fwd` is
 * 0 (out and lse already there). */
static void run_bwd(problem *p, tril_attn_kernel kernel, int fwd)
{
    if (fwd) assert_int_equal(tril_attention_forward(&p->a, TRIL_ATTN_REFERENCE), TRIL_OK);
    fill_nan(p->dq, p->nq);
    fill_nan(p->dk, p->nk);
    fill_nan(p->dv, p->nk);
    tril_status st = tril_attention_backward(&p->a, p->dout, p->dq, p->dk, p->dv, kernel);
    if (st != TRIL_OK) fail_msg("backward %s: %s", tril_attn_kernel_name(kernel), tril_last_error());
}

static void run(problem *p, tril_attn_kernel kernel) { run_bwd(p, kernel, 1); }

static double *to_double(const float *x, size_t n)
{
    double *d = malloc(n * sizeof *d);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

static int kernel_runs(int k)
{
    return k != TRIL_ATTN_REFERENCE && tril_attn_kernel_available((tril_attn_kernel)k);
}

/* ---- every SIMD kernel against the oracle --------------------------- */

static double kernels_worst; /* over every SIMD kernel and case */

static void check_kernels(problem *p, const char *what)
{
    run(p, TRIL_ATTN_REFERENCE);
    double *ref[3] = {to_double(p->dq, p->nq), to_double(p->dk, p->nk), to_double(p->dv, p->nk)};
    for (int k = 0; k < TRIL_ATTN_KERNEL_COUNT; k++) {
        if (!kernel_runs(k)) continue;
        run_bwd(p, (tril_attn_kernel)k, 0);
        const float *mine[3] = {p->dq, p->dk, p->dv};
        for (int t = 0; t < 3; t++) {
            double e = test_rel_err_f64(mine[t], ref[t], t ? p->nk : p->nq);
            kernels_worst = fmax(kernels_worst, e);
            if (!(e <= REL_TOL))
                fail_msg("%s B=%lld H=%lld D=%lld Tq=%lld Tk=%lld mask=%s fill=%g pad=%d: %s d%c "
                         "rel err %.3g > %.0e", what, (long long)p->a.batch, (long long)p->a.heads,
                         (long long)p->a.head_dim, (long long)p->a.q_len, (long long)p->a.kv_len,
                         tril_mask_mode_name(p->a.mask), (double)p->a.fill, p->a.key_start != NULL,
                         tril_attn_kernel_name((tril_attn_kernel)k), "qkv"[t], e, REL_TOL);
        }
    }
    free(ref[0]); free(ref[1]); free(ref[2]);
}

static void test_kernels_random(void **state)
{
    (void)state;
    static const int64_t dims[] = {16, 32, 64, 80, 128};
    test_rng rng = {77};
    for (int t = 0; t < 150; t++) {
        int64_t B = test_rng_int(&rng, 1, 3), H = test_rng_int(&rng, 1, 3);
        int64_t D = dims[test_rng_int(&rng, 0, 4)], Tk = test_rng_int(&rng, 1, 200), Tq;
        int kind = (int)test_rng_int(&rng, 0, 3);
        Tq = kind == 0 ? Tk : kind == 1 ? 1 : kind == 2 ? test_rng_int(&rng, 1, Tk)
                                                        : Tk + test_rng_int(&rng, 1, 40);
        tril_mask_mode mask = (tril_mask_mode)test_rng_int(&rng, 0, 3);
        float fill = tril_fill_value((tril_fill)test_rng_int(&rng, 0, TRIL_FILL_COUNT - 1), TRIL_F32);
        problem p;
        problem_init(&p, B, H, D, Tq, Tk, mask, fill, 900 + (uint64_t)t);
        int pad = (int)test_rng_int(&rng, 0, 3);
        if (pad) {
            int64_t ks[3], ke[3];
            for (int64_t b = 0; b < B; b++) {
                ks[b] = (pad & 1) ? test_rng_int(&rng, 0, Tk / 2) : 0;
                ke[b] = (pad & 2) ? test_rng_int(&rng, ks[b], Tk) : Tk;
            }
            problem_pad(&p, ks, ke);
        }
        check_kernels(&p, "random");
        problem_free(&p);
    }
    /* Longer sequences: several tiles and row blocks per head. */
    const int64_t big[][3] = {{300, 300, 64}, {513, 513, 80}, {1, 700, 64}, {200, 450, 16}};
    for (int c = 0; c < 4; c++) {
        problem p;
        problem_init(&p, 1, 2, big[c][2], big[c][0], big[c][1], TRIL_MASK_STRUCTURAL, 0, 50 + c);
        check_kernels(&p, "long");
        problem_free(&p);
    }
    printf("SIMD kernels vs the oracle: worst rel err %.3g\n", kernels_worst);
}

/* GPT-2's packed qkv [B, T, 3C] with a packed dqkv gives the same gradients
 * (bit for bit) as dense buffers, in every kernel. */
static void test_strided(void **state)
{
    (void)state;
    const int64_t B = 2, T = 45, H = 3, D = 32, C = H * D;
    problem p;
    problem_init(&p, B, H, D, T, T, TRIL_MASK_STRUCTURAL, 0, 5);
    test_rng rng = {6};
    float *qkv = test_random_buffer(&rng, (size_t)(B * T * 3 * C), TRIL_F32);
    float *dqkv = malloc((size_t)(B * T * 3 * C) * sizeof(float));
    assert_non_null(dqkv);
    for (int64_t r = 0; r < B * T; r++) {
        memcpy(p.q + r * C, qkv + r * 3 * C, (size_t)C * 4);
        memcpy(p.k + r * C, qkv + r * 3 * C + C, (size_t)C * 4);
        memcpy(p.v + r * C, qkv + r * 3 * C + 2 * C, (size_t)C * 4);
    }
    for (int k = 0; k < TRIL_ATTN_KERNEL_COUNT; k++) {
        if (!tril_attn_kernel_available((tril_attn_kernel)k)) continue;
        run(&p, (tril_attn_kernel)k);
        tril_attention_args a = p.a;
        a.q = qkv; a.k = qkv + C; a.v = qkv + 2 * C;
        a.q_row_stride = a.kv_row_stride = 3 * C;
        fill_nan(dqkv, (size_t)(B * T * 3 * C));
        assert_int_equal(tril_attention_backward(&a, p.dout, dqkv, dqkv + C, dqkv + 2 * C,
                                                 (tril_attn_kernel)k), TRIL_OK);
        for (int64_t r = 0; r < B * T; r++) {
            assert_memory_equal(dqkv + r * 3 * C, p.dq + r * C, (size_t)C * 4);
            assert_memory_equal(dqkv + r * 3 * C + C, p.dk + r * C, (size_t)C * 4);
            assert_memory_equal(dqkv + r * 3 * C + 2 * C, p.dv + r * C, (size_t)C * 4);
        }
    }
    free(qkv);
    free(dqkv);
    problem_free(&p);
}

/* ---- the oracle against finite differences -------------------------- */

/* L = sum(out * W) in double, with tril's semantics written out again: the
 * row window, the fill modes, empty rows giving 0. */
static double fd_loss(const problem *p, const double *q, const double *k, const double *v)
{
    const tril_attention_args *a = &p->a;
    const int64_t H = a->heads, D = a->head_dim, Tq = a->q_len, Tk = a->kv_len;
    const double scale = (double)(float)(1.0 / sqrt((double)D)); /* tril's fp32 scale */
    const int fills = a->mask == TRIL_MASK_ADDITIVE || a->mask == TRIL_MASK_BOOLEAN;
    double s[64], L = 0.0;
    assert_true(Tk <= 64);
    for (int64_t b = 0; b < a->batch; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < Tq; i++) {
                int64_t lo = a->key_start ? a->key_start[b] : 0, hi = a->key_end ? a->key_end[b] : Tk;
                if (a->mask != TRIL_MASK_NONE && hi > Tk - Tq + i + 1) hi = Tk - Tq + i + 1;
                if (hi <= lo) continue; /* no visible key: out = 0 */
                const double *qi = q + ((b * Tq + i) * H + h) * D;
                double mx = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j < Tk; j++) {
                    const double *kj = k + ((b * Tk + j) * H + h) * D;
                    int vis = j >= lo && j < hi;
                    s[j] = -INFINITY;
                    if (!vis && !fills) continue;
                    double dot = 0.0;
                    for (int64_t d = 0; d < D; d++) dot += qi[d] * kj[d];
                    s[j] = dot * scale;
                    if (!vis) s[j] = a->mask == TRIL_MASK_ADDITIVE ? s[j] + a->fill : a->fill;
                    mx = fmax(mx, s[j]);
                }
                for (int64_t j = 0; j < Tk; j++) sum += exp(s[j] - mx);
                for (int64_t d = 0; d < D; d++) {
                    double o = 0.0;
                    for (int64_t j = 0; j < Tk; j++)
                        o += exp(s[j] - mx) * v[((b * Tk + j) * H + h) * D + d];
                    L += o / sum * (double)p->dout[((b * Tq + i) * H + h) * D + d];
                }
            }
    return L;
}

/* Central differences at rows 0, 1, the middle row's diagonal key and the
 * one before it, and the last two rows, for q, k and v. */
static void fd_check(problem *p, const char *what)
{
    const tril_attention_args *a = &p->a;
    const int64_t H = a->heads, D = a->head_dim, Tq = a->q_len, Tk = a->kv_len;
    run(p, TRIL_ATTN_REFERENCE); /* dout is W */
    double *x[3] = {to_double(p->q, p->nq), to_double(p->k, p->nk), to_double(p->v, p->nk)};
    const float *g[3] = {p->dq, p->dk, p->dv};
    const int64_t mid = Tq / 2, past = Tk - Tq;
    double worst = 0.0;
    for (int t = 0; t < 3; t++) {
        const int64_t T = t ? Tk : Tq, off = t ? past : 0;
        const int64_t rows[6] = {0, 1, off + mid - 1, off + mid, T - 2, T - 1};
        for (int r = 0; r < 6; r++) {
            if (rows[r] < 0 || rows[r] >= T) continue;
            for (int c = 0; c < 2; c++) {
                const int64_t b = c ? a->batch - 1 : 0, h = c ? H - 1 : 0, d = c ? D - 1 : r % D;
                const size_t at = (size_t)(((b * T + rows[r]) * H + h) * D + d);
                const double x0 = x[t][at];
                x[t][at] = x0 + FD_EPS;
                double lp = fd_loss(p, x[0], x[1], x[2]);
                x[t][at] = x0 - FD_EPS;
                double lm = fd_loss(p, x[0], x[1], x[2]);
                x[t][at] = x0;
                const double fd = (lp - lm) / (2.0 * FD_EPS), an = g[t][at];
                worst = fmax(worst, fabs(an - fd) / (fabs(fd) + 1e-3));
                if (fd == 0.0 && lp == lm ? an != 0.0 : !(fabs(an - fd) <= FD_TOL * (fabs(fd) + 1e-3)))
                    fail_msg("%s: d%c[b=%lld t=%lld h=%lld d=%lld] = %.9g, finite difference %.9g",
                             what, "qkv"[t], (long long)b, (long long)rows[r], (long long)h,
                             (long long)d, an, fd);
            }
        }
    }
    printf("finite differences, %-24s worst |an - fd| / (|fd| + 1e-3) = %.3g\n", what, worst);
    free(x[0]); free(x[1]); free(x[2]);
}

static void test_finite_differences(void **state)
{
    (void)state;
    problem p;
    problem_init(&p, 2, 2, 16, 9, 9, TRIL_MASK_STRUCTURAL, 0, 11);
    fd_check(&p, "structural square");
    problem_free(&p);
    const int64_t ks[2] = {0, 2}, ke[2] = {11, 9};
    problem_init(&p, 2, 2, 16, 6, 11, TRIL_MASK_STRUCTURAL, 0, 12);
    problem_pad(&p, ks, ke);
    fd_check(&p, "structural past=5, padded");
    problem_free(&p);
    problem_init(&p, 2, 1, 16, 9, 6, TRIL_MASK_STRUCTURAL, 0, 13);
    fd_check(&p, "structural Tq > Tk");
    problem_free(&p);
    problem_init(&p, 2, 2, 16, 11, 11, TRIL_MASK_NONE, 0, 14);
    problem_pad(&p, ks, ke);
    fd_check(&p, "none, padded");
    problem_free(&p);
    problem_init(&p, 1, 2, 16, 8, 8, TRIL_MASK_ADDITIVE, 0.0f, 15);
    fd_check(&p, "additive fill 0");
    problem_free(&p);
    problem_init(&p, 1, 2, 16, 8, 10, TRIL_MASK_BOOLEAN, 0.0f, 16);
    fd_check(&p, "boolean fill 0");
    problem_free(&p);
    problem_init(&p, 1, 2, 64, 8, 8, TRIL_MASK_BOOLEAN, -1e4f, 17);
    fd_check(&p, "boolean fill -1e4, D=64");
    problem_free(&p);
}

/* ---- garbage no row may see ------------------------------------------ */

/* A KV buffer of Tk positions of which [key_start[b], key_end[b]) are valid:
 * NaN and inf in the rest change no gradient, bit for bit, and the rest get
 * exact zeros. Then a NaN in a key and value inside the window: rows before
 * it keep finite dq, identical to the clean run. */
static void test_garbage(void **state)
{
    (void)state;
    const int64_t B = 2, H = 2, D = 80, T = 90, C = H * D;
    const int64_t ks[2] = {0, 6}, ke[2] = {50, 77};
    for (int mode = 0; mode < 2; mode++) {
        problem p, g;
        tril_mask_mode mask = mode ? TRIL_MASK_NONE : TRIL_MASK_STRUCTURAL;
        problem_init(&p, B, H, D, T, T, mask, 0, 21);
        problem_init(&g, B, H, D, T, T, mask, 0, 21);
        problem_pad(&p, ks, ke);
        problem_pad(&g, ks, ke);
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < T; j++)
                for (int64_t c = 0; c < C && (j < ks[b] || j >= ke[b]); c++) {
                    g.k[(b * T + j) * C + c] = c % 2 ? NAN : INFINITY;
                    g.v[(b * T + j) * C + c] = c % 2 ? -INFINITY : NAN;
                }
        for (int k = 0; k < TRIL_ATTN_KERNEL_COUNT; k++) {
            if (!tril_attn_kernel_available((tril_attn_kernel)k)) continue;
            run(&p, (tril_attn_kernel)k);
            run(&g, (tril_attn_kernel)k);
            for (size_t i = 0; i < p.nq; i++) assert_true(isfinite(g.dq[i]));
            assert_memory_equal(p.dq, g.dq, p.nq * sizeof(float));
            assert_memory_equal(p.dk, g.dk, p.nk * sizeof(float));
            assert_memory_equal(p.dv, g.dv, p.nk * sizeof(float));
            for (int64_t b = 0; b < B; b++)
                for (int64_t j = 0; j < T; j++)
                    for (int64_t c = 0; c < C; c++) {
                        const size_t at = (size_t)((b * T + j) * C + c);
                        assert_true(isfinite(g.dk[at]) && isfinite(g.dv[at]));
                        if (j < ks[b] || j >= ke[b]) assert_true(g.dk[at] == 0.0f && g.dv[at] == 0.0f);
                    }
        }
        problem_free(&p);
        problem_free(&g);
    }
    /* The future, structurally masked: key 37 of sequence 0 is NaN. */
    const int64_t bad = 37;
    problem p, g;
    problem_init(&p, B, H, D, T, T, TRIL_MASK_STRUCTURAL, 0, 22);
    problem_init(&g, B, H, D, T, T, TRIL_MASK_STRUCTURAL, 0, 22);
    for (int64_t c = 0; c < C; c++) g.k[bad * C + c] = g.v[bad * C + c] = NAN;
    for (int k = 0; k < TRIL_ATTN_KERNEL_COUNT; k++) {
        if (!tril_attn_kernel_available((tril_attn_kernel)k)) continue;
        run(&p, (tril_attn_kernel)k);
        run(&g, (tril_attn_kernel)k);
        for (size_t i = 0; i < (size_t)(bad * C); i++) assert_true(isfinite(g.dq[i]));
        assert_memory_equal(p.dq, g.dq, (size_t)(bad * C) * sizeof(float));
        /* sequence 1 is clean */
        assert_memory_equal(p.dq + T * C, g.dq + T * C, (size_t)(T * C) * sizeof(float));
        assert_memory_equal(p.dk + T * C, g.dk + T * C, (size_t)(T * C) * sizeof(float));
        assert_memory_equal(p.dv + T * C, g.dv + T * C, (size_t)(T * C) * sizeof(float));
    }
    problem_free(&p);
    problem_free(&g);
}

/* ---- bad input -------------------------------------------------------- */

static void test_bad_input(void **state)
{
    (void)state;
    problem p;
    problem_init(&p, 1, 2, 16, 5, 5, TRIL_MASK_STRUCTURAL, 0, 31);
    run(&p, TRIL_ATTN_REFERENCE);
    fill_nan(p.dq, p.nq);
    const int64_t ks = 0, ke = 6; /* beyond Tk = 5 */
    for (int k = 0; k < TRIL_ATTN_KERNEL_COUNT; k++) {
        if (!tril_attn_kernel_available((tril_attn_kernel)k)) continue;
        for (int c = 0; c < 14; c++) {
            tril_attention_args a = p.a;
            const float *go = p.dout;
            float *g[3] = {p.dq, p.dk, p.dv};
            tril_status want = TRIL_ERR_INVALID_ARG;
            switch (c) {
            case 0: a.dtype = TRIL_F16; break;
            case 1: a.dtype = TRIL_BF16; break;
            case 2: a.lse = NULL; break;
            case 3: go = NULL; break;
            case 4: case 5: case 6: g[c - 4] = NULL; break;
            case 7: a.q = NULL; break;
            case 8: a.mask = (tril_mask_mode)9; break;
            case 9: a.head_dim = 0; want = TRIL_ERR_SHAPE; break;
            case 10: a.q_len = -1; want = TRIL_ERR_SHAPE; break;
            case 11: a.kv_row_stride = 31; want = TRIL_ERR_SHAPE; break; /* < H*D */
            case 12: a.heads = INT64_MAX / 2; want = TRIL_ERR_SHAPE; break;
            default: a.key_start = &ks; a.key_end = &ke; want = TRIL_ERR_RANGE; break;
            }
            tril_status st = tril_attention_backward(&a, go, g[0], g[1], g[2], (tril_attn_kernel)k);
            if (st != want) fail_msg("case %d, %s: status %d, want %d", c,
                                     tril_attn_kernel_name((tril_attn_kernel)k), (int)st, (int)want);
        }
        assert_int_equal(tril_attention_backward(NULL, p.dout, p.dq, p.dk, p.dv, (tril_attn_kernel)k),
                         TRIL_ERR_INVALID_ARG);
    }
    for (int k = -1; k <= TRIL_ATTN_KERNEL_COUNT; k += TRIL_ATTN_KERNEL_COUNT + 1)
        assert_int_equal(tril_attention_backward(&p.a, p.dout, p.dq, p.dk, p.dv, (tril_attn_kernel)k),
                         TRIL_ERR_INVALID_ARG);
    /* Nothing was written by any failing call. */
    for (size_t i = 0; i < p.nq; i++) assert_true(isnan(p.dq[i]));
    problem_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels_random),
        cmocka_unit_test(test_strided),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

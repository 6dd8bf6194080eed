/* The causality property: row i's output must not depend on any key or value
 * at a position later than past + i.
 *
 * For each shape, kernel (reference and every available SIMD build), mask
 * mode / fill and storage dtype: compute out and lse; pick a row i; overwrite
 * every key and value at positions > past + i (all batches, all heads) with
 * fresh random values; recompute. Rows 0..i of out and lse must be
 * bit-identical (memcmp). In STRUCTURAL mode a second trial writes NaN/+inf/
 * -inf garbage there instead: the structural mask never reads the future, so
 * rows 0..i must stay bit-identical and finite.
 *
 * Fill 0 (ADDITIVE or BOOLEAN) and mask NONE are not causal: for them at least
 * one element of rows 0..i must change (the leak is real and detectable).
 *
 * Some shapes use row strides larger than H*D with NaN in the gaps: no kernel
 * may read them, so the outputs must stay finite. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tril/attention.h"

typedef struct {
    int64_t B, H, D, Tq, Tk;
    int padded;            /* use key_start/key_end */
    int64_t ks[3], ke[3];  /* padding windows (B <= 3) */
    int64_t row_pad;       /* extra elements per row (q and kv), NaN-filled */
} shape;

static const shape fixed_shapes[] = {
    {1, 1, 16, 2, 2, 0, {0}, {0}, 0},                   /* smallest with a future */
    {1, 3, 32, 37, 37, 0, {0}, {0}, 0},                 /* T not a multiple of 16 */
    {2, 2, 64, 70, 70, 1, {0, 9}, {70, 50}, 0},         /* left + right padding */
    {1, 2, 80, 13, 45, 0, {0}, {0}, 0},                 /* Tq < Tk, past = 32 */
    {2, 1, 128, 50, 20, 0, {0}, {0}, 0},                /* Tq > Tk: top rows empty */
    {1, 4, 64, 129, 129, 0, {0}, {0}, 8},               /* strided rows, T = 129 */
    {2, 3, 16, 33, 65, 1, {5, 0}, {60, 65}, 3},         /* past, padding, strides */
    {3, 2, 32, 17, 17, 1, {0, 3, 16}, {17, 17, 17}, 0}, /* b=2 sees only key 16 */
};
#define N_FIXED (sizeof fixed_shapes / sizeof fixed_shapes[0])
#define N_RANDOM 4

/* ---- deterministic random numbers ---------------------------------------- */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static float rng_uniform(void) /* [-1, 1) */
{
    return (float)((double)(rng_next() >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}
static int64_t rng_int(int64_t lo, int64_t hi) /* [lo, hi] */
{
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

static shape random_shape(void)
{
    static const int64_t dims[] = {16, 32, 64, 80, 128};
    shape s;
    memset(&s, 0, sizeof s);
    s.B = rng_int(1, 2);
    s.H = rng_int(1, 3);
    s.D = dims[rng_int(0, 4)];
    s.Tk = rng_int(3, 90);
    s.Tq = rng_int(2, s.Tk + 10);
    s.padded = (int)rng_int(0, 1);
    for (int64_t b = 0; b < s.B; b++) {
        s.ks[b] = s.padded ? rng_int(0, s.Tk / 3) : 0;
        s.ke[b] = s.padded ? rng_int(s.Tk - s.Tk / 4, s.Tk) : s.Tk;
    }
    s.row_pad = rng_int(0, 1) ? 5 : 0;
    return s;
}

/* ---- one problem ----------------------------------------------------------- */
typedef struct {
    shape s;
    int64_t past, row;      /* the row i under test */
    int64_t q_rs, kv_rs;    /* row strides (elements) */
    size_t nq, nkv, nout, nlse;
    float *q32, *k32, *v32; /* master fp32 data, NaN in stride gaps */
} problem;

static void fill_rows(float *buf, int64_t rows, int64_t rs, int64_t hd)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t e = 0; e < rs; e++) buf[r * rs + e] = e < hd ? rng_uniform() : NAN;
}

/* A row i that has a visible key and a future key inside the window, for at
 * least one sequence: there the leak of a non-causal mask is observable. */
static int64_t pick_row(const problem *p)
{
    int64_t cand[512];
    int n = 0;
    for (int64_t i = 0; i < p->s.Tq && n < 512; i++) {
        int64_t last = p->past + i; /* last visible absolute position */
        if (last + 1 > p->s.Tk - 1) continue;
        for (int64_t b = 0; b < p->s.B; b++) {
            int64_t ks = p->s.padded ? p->s.ks[b] : 0, ke = p->s.padded ? p->s.ke[b] : p->s.Tk;
            if (ks <= last && last + 1 < ke) {
                cand[n++] = i;
                break;
            }
        }
    }
    if (n == 0) return -1;
    return cand[rng_int(0, n - 1)];
}

static void problem_init(problem *p, const shape *s)
{
    memset(p, 0, sizeof *p);
    p->s = *s;
    int64_t hd = s->H * s->D;
    p->past = s->Tk - s->Tq;
    p->q_rs = hd + s->row_pad;
    p->kv_rs = hd + s->row_pad;
    p->nq = (size_t)(s->B * s->Tq * p->q_rs);
    p->nkv = (size_t)(s->B * s->Tk * p->kv_rs);
    p->nout = (size_t)(s->B * s->Tq * hd);
    p->nlse = (size_t)(s->B * s->H * s->Tq);
    p->q32 = malloc(p->nq * sizeof(float));
    p->k32 = malloc(p->nkv * sizeof(float));
    p->v32 = malloc(p->nkv * sizeof(float));
    assert_non_null(p->q32); assert_non_null(p->k32); assert_non_null(p->v32);
    fill_rows(p->q32, s->B * s->Tq, p->q_rs, hd);
    fill_rows(p->k32, s->B * s->Tk, p->kv_rs, hd);
    fill_rows(p->v32, s->B * s->Tk, p->kv_rs, hd);
    p->row = pick_row(p);
}

static void problem_free(problem *p)
{
    free(p->q32); free(p->k32); free(p->v32);
}

/* Overwrites keys and values at positions > past + row. garbage: NaN, +inf,
 * -inf in turn; otherwise fresh random values, the values 1000x larger so that
 * even a tiny weight leaked onto a future key would show in the output (keys
 * keep their scale: a huge score would legitimately beat a finite fill). */
static void perturb_future(const problem *p, float *k, float *v, int garbage)
{
    static const float junk[3] = {NAN, INFINITY, -INFINITY};
    int64_t hd = p->s.H * p->s.D;
    int64_t n = 0;
    for (int64_t b = 0; b < p->s.B; b++)
        for (int64_t t = p->past + p->row + 1; t < p->s.Tk; t++)
            for (int64_t e = 0; e < hd; e++, n++) {
                size_t at = (size_t)((b * p->s.Tk + t) * p->kv_rs + e);
                k[at] = garbage ? junk[n % 3] : rng_uniform();
                v[at] = garbage ? junk[(n + 1) % 3] : 1000.0f * rng_uniform();
            }
}

/* ---- running a configuration ---------------------------------------------- */
typedef struct {
    tril_mask_mode mode;
    tril_fill fill; /* ADDITIVE/BOOLEAN only */
} mask_cfg;

typedef struct {
    int failures;
    int signed_zeros; /* failures where only the sign of a zero differed */
    int configs;
} tally;

static void *dup_as(const float *src, size_t n, tril_dtype dt)
{
    void *dst = malloc(n * tril_dtype_size(dt));
    assert_non_null(dst);
    tril_convert_from_f32(dst, dt, src, n);
    return dst;
}

/* Runs forward on f32 data converted to dt; returns out (dt) and lse. */
static void run(const problem *p, const float *k32, const float *v32, tril_dtype dt,
                mask_cfg m, tril_attn_kernel kern, void **out, float **lse)
{
    void *q = dup_as(p->q32, p->nq, dt), *k = dup_as(k32, p->nkv, dt), *v = dup_as(v32, p->nkv, dt);
    *out = malloc(p->nout * tril_dtype_size(dt));
    *lse = malloc(p->nlse * sizeof(float));
    assert_non_null(*out);
    assert_non_null(*lse);
    memset(*out, 0xff, p->nout * tril_dtype_size(dt)); /* NaN in every dtype */
    tril_attention_args a = tril_attention_args_init();
    a.batch = p->s.B; a.heads = p->s.H; a.head_dim = p->s.D;
    a.q_len = p->s.Tq; a.kv_len = p->s.Tk; a.dtype = dt;
    a.q = q; a.q_row_stride = p->q_rs;
    a.k = k; a.v = v; a.kv_row_stride = p->kv_rs;
    a.out = *out; a.lse = *lse;
    if (p->s.padded) {
        a.key_start = p->s.ks;
        a.key_end = p->s.ke;
    }
    a.mask = m.mode;
    a.fill = (m.mode == TRIL_MASK_ADDITIVE || m.mode == TRIL_MASK_BOOLEAN)
                 ? tril_fill_value(m.fill, dt) : 0.0f;
    tril_status st = tril_attention_forward(&a, kern);
    if (st != TRIL_OK)
        fail_msg("forward failed: %s: %s", tril_status_name(st), tril_last_error());
    free(q); free(k); free(v);
}

static int rows_finite(const problem *p, const void *out, tril_dtype dt, int64_t upto)
{
    int64_t hd = p->s.H * p->s.D;
    for (int64_t b = 0; b < p->s.B; b++)
        for (int64_t e = 0; e < upto * hd; e++)
            if (!isfinite(tril_load_f32(out, dt, (size_t)(b * p->s.Tq * hd + e)))) return 0;
    return 1;
}

/* Compares rows 0..row of out (and lse) between two runs, bitwise.
 * Returns 0 if identical, 1 if the only differences are +0 vs -0 in out
 * (reported separately: still a bitwise leak), 2 otherwise. */
static int rows_diff(const problem *p, const void *o1, const void *o2, const float *l1,
                     const float *l2, tril_dtype dt, int with_lse)
{
    size_t es = tril_dtype_size(dt);
    int64_t hd = p->s.H * p->s.D, n = p->row + 1;
    int worst = 0;
    for (int64_t b = 0; b < p->s.B; b++) {
        size_t off = (size_t)(b * p->s.Tq * hd);
        if (memcmp((const char *)o1 + off * es, (const char *)o2 + off * es, (size_t)(n * hd) * es))
            for (size_t e = off; e < off + (size_t)(n * hd); e++) {
                if (memcmp((const char *)o1 + e * es, (const char *)o2 + e * es, es) == 0) continue;
                float x = tril_load_f32(o1, dt, e), y = tril_load_f32(o2, dt, e);
                if (x == 0.0f && y == 0.0f) {
                    if (worst < 1) worst = 1;
                } else {
                    return 2;
                }
            }
        if (!with_lse) continue;
        for (int64_t h = 0; h < p->s.H; h++) {
            size_t lo = (size_t)((b * p->s.H + h) * p->s.Tq);
            if (memcmp(l1 + lo, l2 + lo, (size_t)n * sizeof(float)) != 0) return 2;
        }
    }
    return worst;
}

static void report(tally *t, const problem *p, tril_attn_kernel kern, tril_dtype dt, mask_cfg m,
                   const char *what)
{
    t->failures++;
    if (t->failures > 40) return;
    printf("FAIL %s: kernel=%s dtype=%s mask=%s fill=%s | B=%lld H=%lld D=%lld Tq=%lld Tk=%lld "
           "pad=%d row_pad=%lld row=%lld\n",
           what, tril_attn_kernel_name(kern), tril_dtype_name(dt), tril_mask_mode_name(m.mode),
           m.mode == TRIL_MASK_ADDITIVE || m.mode == TRIL_MASK_BOOLEAN ? tril_fill_name(m.fill) : "-",
           (long long)p->s.B, (long long)p->s.H, (long long)p->s.D, (long long)p->s.Tq,
           (long long)p->s.Tk, p->s.padded, (long long)p->s.row_pad, (long long)p->row);
}

static void check_config(tally *t, const problem *p, tril_attn_kernel kern, tril_dtype dt,
                         mask_cfg m)
{
    int fill_zero = (m.mode == TRIL_MASK_ADDITIVE || m.mode == TRIL_MASK_BOOLEAN) &&
                    tril_fill_value(m.fill, dt) == 0.0f;
    int causal = m.mode != TRIL_MASK_NONE && !fill_zero;
    float *k1 = malloc(p->nkv * sizeof(float)), *v1 = malloc(p->nkv * sizeof(float));
    assert_non_null(k1);
    assert_non_null(v1);
    void *o0, *o1;
    float *l0, *l1;
    t->configs++;

    run(p, p->k32, p->v32, dt, m, kern, &o0, &l0);
    if (!rows_finite(p, o0, dt, p->s.Tq)) report(t, p, kern, dt, m, "non-finite output (clean data)");

    memcpy(k1, p->k32, p->nkv * sizeof(float));
    memcpy(v1, p->v32, p->nkv * sizeof(float));
    perturb_future(p, k1, v1, 0);
    run(p, k1, v1, dt, m, kern, &o1, &l1);
    int diff = rows_diff(p, o0, o1, l0, l1, dt, causal);
    if (causal && diff == 1) {
        t->signed_zeros++;
        report(t, p, kern, dt, m, "future keys flipped the sign of a zero in rows <= i");
    }
    if (causal && diff == 2) report(t, p, kern, dt, m, "future keys changed rows <= i");
    if (!causal && diff != 2) report(t, p, kern, dt, m, "non-causal mask showed no leak");
    free(o1); free(l1);

    if (m.mode == TRIL_MASK_STRUCTURAL) {
        memcpy(k1, p->k32, p->nkv * sizeof(float));
        memcpy(v1, p->v32, p->nkv * sizeof(float));
        perturb_future(p, k1, v1, 1);
        run(p, k1, v1, dt, m, kern, &o1, &l1);
        if (!rows_finite(p, o1, dt, p->row + 1))
            report(t, p, kern, dt, m, "NaN/inf future made rows <= i non-finite");
        else if (rows_diff(p, o0, o1, l0, l1, dt, 1) != 0)
            report(t, p, kern, dt, m, "NaN/inf future changed rows <= i");
        free(o1); free(l1);
    }
    free(o0); free(l0); free(k1); free(v1);
}

static void check_dtype(tril_dtype dt)
{
    mask_cfg cfgs[2 + 2 * TRIL_FILL_COUNT];
    int nc = 0;
    cfgs[nc++] = (mask_cfg){TRIL_MASK_STRUCTURAL, TRIL_FILL_NEG_INF};
    cfgs[nc++] = (mask_cfg){TRIL_MASK_NONE, TRIL_FILL_NEG_INF};
    for (int f = 0; f < TRIL_FILL_COUNT; f++) {
        cfgs[nc++] = (mask_cfg){TRIL_MASK_ADDITIVE, (tril_fill)f};
        cfgs[nc++] = (mask_cfg){TRIL_MASK_BOOLEAN, (tril_fill)f};
    }
    assert_true(tril_fill_value(TRIL_FILL_ZERO, dt) == 0.0f);

    rng_state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)dt;
    tally t = {0, 0, 0};
    int kernels = 0;
    for (size_t si = 0; si < N_FIXED + N_RANDOM; si++) {
        shape s = si < N_FIXED ? fixed_shapes[si] : random_shape();
        problem p;
        problem_init(&p, &s);
        if (p.row < 0) fail_msg("test bug: shape %zu has no row with a future", si);
        kernels = 0;
        for (int k = TRIL_ATTN_REFERENCE; k < TRIL_ATTN_KERNEL_COUNT; k++) {
            if (!tril_attn_kernel_available((tril_attn_kernel)k)) continue;
            kernels++;
            for (int c = 0; c < nc; c++) check_config(&t, &p, (tril_attn_kernel)k, dt, cfgs[c]);
        }
        problem_free(&p);
    }
    printf("%s: %d configurations on %d kernels, %d failures (%d of them only +0 vs -0)\n",
           tril_dtype_name(dt), t.configs, kernels, t.failures, t.signed_zeros);
    assert_true(kernels >= 2); /* reference and simd-generic at least */
    assert_int_equal(t.failures, 0);
}

static void test_causality_fp32(void **state) { (void)state; check_dtype(TRIL_F32); }
static void test_causality_fp16(void **state) { (void)state; check_dtype(TRIL_F16); }
static void test_causality_bf16(void **state) { (void)state; check_dtype(TRIL_BF16); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_causality_fp32),
        cmocka_unit_test(test_causality_fp16),
        cmocka_unit_test(test_causality_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The KV cache against full recomputation (what picoGPT does): at every step
 * of a generation, the logits from prefill-once-then-one-token-at-a-time must
 * equal those of re-running the whole sequence. Also: chunked prefill, the
 * context-full error, and greedy generation identical both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "gpt2_cases.h"
#include "gpt2_test_util.h"
#include "tril/generate.h"

#define TOL 2e-5 /* fp32: only the GEMM blocking differs between the paths */

static double decode_loss(tril_gpt2 *m, const int32_t *ids, int64_t n);

static tril_gpt2 *load_case(const char *name)
{
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/%s", cases_dir(), name);
    tril_gpt2 *m = NULL;
    if (tril_gpt2_load(dir, NULL, &m) != TRIL_OK) fail_msg("%s", tril_last_error());
    return m;
}

static double max_diff(const float *a, const float *b, int64_t n)
{
    double w = 0.0;
    for (int64_t i = 0; i < n; i++) w = fmax(w, fabs((double)a[i] - b[i]));
    return w;
}

static void check_model(const char *name, tril_dtype kv, double tol)
{
    tril_gpt2 *m = load_case(name);
    assert_int_equal(tril_gpt2_set_kv_dtype(m, kv), TRIL_OK);
    const tril_gpt2_config *cfg = tril_gpt2_get_config(m);
    const int64_t V = cfg->vocab_size, T = cfg->n_positions < 30 ? cfg->n_positions : 30;
    int32_t ids[30];
    for (int64_t t = 0; t < T; t++) ids[t] = (int32_t)((t * 7919 + 13) % V);
    float *cached = malloc((size_t)V * sizeof(float)), *full = malloc((size_t)V * sizeof(float));
    tril_gpt2_state *inc, *re;
    assert_int_equal(tril_gpt2_state_create(m, T, T, &inc), TRIL_OK);
    assert_int_equal(tril_gpt2_state_create(m, T, T, &re), TRIL_OK);
    const int64_t prefill = 3;
    assert_int_equal(tril_gpt2_forward(m, inc, ids, prefill, cached, NULL), TRIL_OK);
    double worst = 0.0;
    for (int64_t t = prefill; t <= T; t++) {
        tril_gpt2_state_reset(re);
        assert_int_equal(tril_gpt2_forward(m, re, ids, t, full, NULL), TRIL_OK);
        worst = fmax(worst, max_diff(cached, full, V));
        if (t < T) assert_int_equal(tril_gpt2_forward(m, inc, ids + t, 1, cached, NULL), TRIL_OK);
    }
    assert_int_equal(tril_gpt2_state_position(inc), T);
    printf("  %-16s %s KV cache: cached vs recomputed logits, %lld steps: max abs diff %.3g\n",
           name, tril_dtype_name(kv), (long long)(T - prefill + 1), worst);
    assert_true(worst <= tol);

    /* Prefill in uneven chunks gives the same last logits as one block. */
    tril_gpt2_state_reset(inc);
    int64_t done = 0, chunks[] = {5, 1, 7, 2};
    for (int c = 0; done < T; c = (c + 1) % 4) {
        int64_t k = chunks[c] < T - done ? chunks[c] : T - done;
        assert_int_equal(tril_gpt2_forward(m, inc, ids + done, k, cached, NULL), TRIL_OK);
        done += k;
    }
    assert_true(max_diff(cached, full, V) <= tol);

    /* A full cache refuses more tokens and stays intact. */
    int32_t one = 0;
    assert_int_equal(tril_gpt2_forward(m, inc, &one, 1, cached, NULL), TRIL_ERR_RANGE);
    assert_non_null(strstr(tril_last_error(), "context full"));
    assert_int_equal(tril_gpt2_state_position(inc), T);
    tril_gpt2_state_free(inc);
    tril_gpt2_state_free(re);
    free(cached);
    free(full);
    tril_gpt2_free(m);
}

static void test_cache_equals_recompute(void **state)
{
    (void)state;
    char names[16][64];
    int n = read_case_names(cases_dir(), names, 16);
    assert_true(n >= 4);
    for (int c = 0; c < n; c++) check_model(names[c], TRIL_F32, TOL);
}

/* A bf16 KV cache: prefill and decoding both read the cache, so decoding
 * still equals recomputation; what differs is the keys and values a GEMV
 * (decoding) and a GEMM (prefill) computed ~1e-6 apart, which can round to
 * neighbouring bf16 values (2^-8 relative): logits within 2e-3. */
static void test_cache_equals_recompute_bf16_kv(void **state)
{
    (void)state;
    char names[16][64];
    int n = read_case_names(cases_dir(), names, 16);
    assert_true(n >= 4);
    for (int c = 0; c < n; c++) check_model(names[c], TRIL_BF16, 2e-3);
    tril_gpt2 *m = load_case(names[0]);
    assert_int_equal(tril_gpt2_get_kv_dtype(m), TRIL_F32); /* the default */
    assert_int_equal(tril_gpt2_set_kv_dtype(m, TRIL_INT8), TRIL_ERR_UNSUPPORTED);
    assert_int_equal(tril_gpt2_set_kv_dtype(m, TRIL_F16), TRIL_ERR_UNSUPPORTED);
    assert_int_equal(tril_gpt2_get_kv_dtype(m), TRIL_F32);
    tril_gpt2_free(m);
}

/* The accuracy cost of a bf16 KV cache on the reference model's text: eval
 * loss (windows of 32 through the cache) and the teacher-forced decoding
 * loss, fp32 weights and bf16 weights, each against the fp32 cache. */
static void test_bf16_kv_accuracy(void **state)
{
    (void)state;
    char dir[2048], path[4096];
    snprintf(dir, sizeof dir, "%s/small_f32", cases_dir());
    snprintf(path, sizeof path, "%s/small_f32/ref/eval_ids.txt", cases_dir());
    int32_t *eval_ids = NULL;
    const long n = read_ids(path, &eval_ids);
    assert_true(n > 2);
    const tril_dtype weights[] = {TRIL_F32, TRIL_BF16};
    for (int w = 0; w < 2; w++) {
        tril_gpt2_load_opts o = {.weight_dtype = weights[w], .amx = 1};
        tril_gpt2 *m;
        assert_int_equal(tril_gpt2_load(dir, &o, &m), TRIL_OK);
        double loss[2], dec[2];
        for (int kv = 0; kv < 2; kv++) {
            assert_int_equal(tril_gpt2_set_kv_dtype(m, kv ? TRIL_BF16 : TRIL_F32), TRIL_OK);
            double nll;
            int64_t count;
            assert_int_equal(tril_gpt2_eval(m, eval_ids, n, 32, &nll, &count), TRIL_OK);
            loss[kv] = nll / (double)count;
            dec[kv] = decode_loss(m, eval_ids, n < 64 ? n : 64);
        }
        const double rel = fabs(loss[1] - loss[0]) / loss[0], drel = fabs(dec[1] - dec[0]) / dec[0];
        printf("  %s weights: eval loss fp32 KV %.6f, bf16 KV %.6f (%.2e); decoding loss %.6f, "
               "%.6f (%.2e)\n", tril_dtype_name(weights[w]), loss[0], loss[1], rel, dec[0], dec[1],
               drel);
        assert_true(rel <= 1e-4 && drel <= 1e-4); /* measured: under 1e-5 */
        assert_true(loss[0] != loss[1]); /* the cache really was bf16 */
        tril_gpt2_free(m);
    }
    free(eval_ids);
}

typedef struct {
    int32_t ids[64];
    int n;
} collected;

static int collect(int32_t id, void *user)
{
    collected *c = user;
    c->ids[c->n++] = id;
    return c->n >= 64;
}

/* Greedy with the cache == greedy recomputing everything each step. */
static void test_generate_equals_recompute(void **state)
{
    (void)state;
    tril_gpt2 *m = load_case("small_f32");
    const int64_t V = tril_gpt2_get_config(m)->vocab_size, steps = 24;
    int32_t seq[64] = {464, 3290};
    int64_t len = 2;
    float *logits = malloc((size_t)V * sizeof(float));
    tril_gpt2_state *s;
    assert_int_equal(tril_gpt2_state_create(m, 64, 64, &s), TRIL_OK);
    for (int64_t i = 0; i < steps; i++) {
        tril_gpt2_state_reset(s);
        assert_int_equal(tril_gpt2_forward(m, s, seq, len, logits, NULL), TRIL_OK);
        int32_t best = 0;
        for (int64_t v = 1; v < V; v++)
            if (logits[v] > logits[best]) best = (int32_t)v;
        seq[len++] = best;
    }
    tril_sampler_config sc = tril_sampler_config_default();
    sc.temperature = 0.0f;
    collected got = {{0}, 0};
    int64_t produced;
    tril_stop_reason why;
    assert_int_equal(tril_gpt2_generate(m, seq, 2, steps, &sc, -1, collect, &got, &produced, &why), TRIL_OK);
    assert_int_equal(produced, steps);
    assert_memory_equal(got.ids, seq + 2, (size_t)steps * sizeof(int32_t));
    tril_gpt2_state_free(s);
    free(logits);
    tril_gpt2_free(m);
}

/* Generation stops cleanly when the context is full, never writing past it. */
static void test_generate_context_full(void **state)
{
    (void)state;
    tril_gpt2 *m = load_case("small_f32"); /* n_positions = 64 */
    int32_t prompt[60];
    for (int i = 0; i < 60; i++) prompt[i] = i + 100;
    tril_sampler_config sc = tril_sampler_config_default();
    sc.temperature = 0.0f;
    collected got = {{0}, 0};
    int64_t produced;
    tril_stop_reason why;
    assert_int_equal(tril_gpt2_generate(m, prompt, 60, 50, &sc, -1, collect, &got, &produced, &why), TRIL_OK);
    /* 60 prompt tokens + 4 fed back = 64 positions; the 5th token is the last
     * one predictable from a full context. */
    assert_int_equal(produced, 5);
    assert_int_equal(why, TRIL_STOP_CONTEXT_FULL);
    int32_t too_long[65] = {0};
    assert_int_equal(tril_gpt2_generate(m, too_long, 65, 1, &sc, -1, NULL, NULL, &produced, &why),
                     TRIL_ERR_RANGE);
    assert_int_equal(tril_gpt2_generate(m, prompt, 0, 1, &sc, -1, NULL, NULL, &produced, &why),
                     TRIL_ERR_INVALID_ARG);
    tril_gpt2_free(m);
}

static void test_bad_ids(void **state)
{
    (void)state;
    tril_gpt2 *m = load_case("tiny_bf16");
    tril_gpt2_state *s;
    assert_int_equal(tril_gpt2_state_create(m, 8, 8, &s), TRIL_OK);
    int32_t ids[2] = {5, 50257};
    assert_int_equal(tril_gpt2_forward(m, s, ids, 2, NULL, NULL), TRIL_ERR_RANGE);
    assert_non_null(strstr(tril_last_error(), "50257"));
    ids[1] = -1;
    assert_int_equal(tril_gpt2_forward(m, s, ids, 2, NULL, NULL), TRIL_ERR_RANGE);
    assert_int_equal(tril_gpt2_forward(m, s, ids, 9, NULL, NULL), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_gpt2_state_position(s), 0);
    tril_gpt2_state *big;
    assert_int_equal(tril_gpt2_state_create(m, 33, 1, &big), TRIL_ERR_RANGE); /* > n_positions */
    double nats;
    int64_t count;
    assert_int_equal(tril_gpt2_eval(m, ids, 2, 8, &nats, &count), TRIL_ERR_RANGE);
    tril_gpt2_state_free(s);
    tril_gpt2_free(m);
}

/* Teacher-forced decoding: the mean -log p(next) over ids[0..n), one token
 * at a time through the KV cache (what generation computes, unlike eval's
 * whole windows). */
static double decode_loss(tril_gpt2 *m, const int32_t *ids, int64_t n)
{
    const int64_t V = tril_gpt2_get_config(m)->vocab_size;
    float *logits = malloc((size_t)V * 4);
    tril_gpt2_state *s;
    assert_int_equal(tril_gpt2_state_create(m, n, n, &s), TRIL_OK);
    double total = 0.0;
    for (int64_t t = 0; t + 1 < n; t++) {
        assert_int_equal(tril_gpt2_forward(m, s, ids + t, 1, logits, NULL), TRIL_OK);
        double mx = logits[0], sum = 0.0;
        for (int64_t v = 1; v < V; v++) mx = fmax(mx, logits[v]);
        for (int64_t v = 0; v < V; v++) sum += exp(logits[v] - mx);
        total += log(sum) + mx - logits[ids[t + 1]];
    }
    tril_gpt2_state_free(s);
    free(logits);
    return total / (double)(n - 1);
}

/* bf16 / int8 weights: decoding through their GEMVs gives the logits of
 * the rounded model (recomputed through the fp32 GEMM on the same rounded
 * values) within decode_tol: bf16 to rounding, int8 to the quantisation
 * of the activations that the GEMVs do and the prefill GEMM does not (a
 * KV-cache mistake moves logits by whole units); and the accuracy cost
 * against fp32 is small and measured: eval loss, and for int8 the
 * teacher-forced decoding loss too, within max_rel of fp32's. */
static void check_low_precision(tril_dtype dtype, double max_rel, double decode_tol, int amx)
{
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/small_f32", cases_dir());
    tril_gpt2 *m32, *m16;
    tril_gpt2_load_opts o32 = {.weight_dtype = TRIL_F32}, o16 = {.weight_dtype = dtype, .amx = amx};
    assert_int_equal(tril_gpt2_load(dir, &o32, &m32), TRIL_OK);
    assert_int_equal(tril_gpt2_load(dir, &o16, &m16), TRIL_OK);
    if (amx) printf("  AMX %s\n", tril_gpt2_uses_amx(m16) ? "in use" : "not available here");
    else assert_false(tril_gpt2_uses_amx(m16));
    if (tril_gpt2_uses_amx(m16)) { /* reported as packed, neither stored nor transposed */
        const tril_gpt2_tensor qkv = test_param(m16, "h.0.attn.c_attn.weight");
        assert_true(qkv.packed && !qkv.transposed && qkv.dtype == TRIL_BF16);
    }
    assert_int_equal(tril_gpt2_get_weight_dtype(m16), dtype);
    const tril_gpt2_tensor wte = test_param(m16, "wte.weight");
    assert_non_null(wte.dtype == dtype ? wte.data : NULL);
    const int64_t V = tril_gpt2_get_config(m16)->vocab_size, T = 20;
    int32_t ids[20];
    for (int64_t t = 0; t < T; t++) ids[t] = (int32_t)((t * 7919 + 13) % V);
    float *cached = malloc((size_t)V * 4), *full = malloc((size_t)V * 4);
    tril_gpt2_state *inc, *re;
    assert_int_equal(tril_gpt2_state_create(m16, T, T, &inc), TRIL_OK);
    assert_int_equal(tril_gpt2_state_create(m16, T, T, &re), TRIL_OK);
    assert_int_equal(tril_gpt2_forward(m16, inc, ids, 1, cached, NULL), TRIL_OK);
    double worst = 0.0;
    for (int64_t t = 1; t <= T; t++) {
        tril_gpt2_state_reset(re);
        assert_int_equal(tril_gpt2_forward(m16, re, ids, t, full, NULL), TRIL_OK);
        worst = fmax(worst, max_diff(cached, full, V));
        if (t < T) assert_int_equal(tril_gpt2_forward(m16, inc, ids + t, 1, cached, NULL), TRIL_OK);
    }
    printf("  %s decode vs %s recompute: max abs diff %.3g\n", tril_dtype_name(dtype),
           tril_dtype_name(dtype), worst);
    assert_true(worst <= decode_tol);
    /* the cost of rounding the weights, on the eval ids of the reference */
    int32_t *eval_ids = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/small_f32/ref/eval_ids.txt", cases_dir());
    long n = read_ids(path, &eval_ids);
    assert_true(n > 2);
    double n32, n16;
    int64_t c32, c16;
    assert_int_equal(tril_gpt2_eval(m32, eval_ids, n, 32, &n32, &c32), TRIL_OK);
    assert_int_equal(tril_gpt2_eval(m16, eval_ids, n, 32, &n16, &c16), TRIL_OK);
    double rel = fabs(n16 / c16 - n32 / c32) / (n32 / c32);
    printf("  eval loss fp32 %.6f, %s %.6f: relative difference %.2e\n", n32 / c32,
           tril_dtype_name(dtype), n16 / c16, rel);
    assert_int_equal(c16, c32);
    assert_true(rel <= max_rel);
    if (dtype == TRIL_INT8) {
        const int64_t nd = n < 64 ? n : 64; /* within the context */
        const double d32 = decode_loss(m32, eval_ids, nd), d8 = decode_loss(m16, eval_ids, nd);
        const double drel = fabs(d8 - d32) / d32;
        printf("  decoding loss fp32 %.6f, int8 %.6f: relative difference %.2e\n", d32, d8, drel);
        assert_true(drel <= max_rel);
    }
    free(eval_ids);
    tril_gpt2_state_free(inc);
    tril_gpt2_state_free(re);
    free(cached);
    free(full);
    tril_gpt2_free(m32);
    tril_gpt2_free(m16);
}

static void test_bf16_weights(void **state)
{
    (void)state;
    check_low_precision(TRIL_BF16, 1e-3, TOL, 0);
}

/* The same through the AMX layout where the CPU has it. */
static void test_bf16_weights_amx(void **state)
{
    (void)state;
    check_low_precision(TRIL_BF16, 1e-3, TOL, 1);
}

static void test_int8_weights(void **state)
{
    (void)state;
    check_low_precision(TRIL_INT8, 1e-2, 0.1, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_equals_recompute),
        cmocka_unit_test(test_cache_equals_recompute_bf16_kv),
        cmocka_unit_test(test_bf16_kv_accuracy),
        cmocka_unit_test(test_generate_equals_recompute),
        cmocka_unit_test(test_generate_context_full),
        cmocka_unit_test(test_bad_ids),
        cmocka_unit_test(test_bf16_weights),
        cmocka_unit_test(test_bf16_weights_amx),
        cmocka_unit_test(test_int8_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Sampling: greedy picks the argmax (ties to the lowest id); temperature,
 * top-k and top-p sample from the right distribution (frequencies within
 * 4 standard errors over 40000 draws); the seed makes it reproducible.
 * Non-finite logits are errors naming the token; extreme temperatures and
 * filters never leave nothing to draw (they fall back to the arg-max). The
 * draw tril_sampler_next runs gives the plain walk's id for every shape of
 * logits and setting, and the weights kernel is exp on every ISA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "core/isa.h"
#include "model/kernels.h"
#include "model/sampler_internal.h"
#include "tril/cpu.h"
#include "tril/generate.h"
#include "tril/rng.h"

#define DRAWS 40000

/* logits = log of these probabilities */
static const double P[5] = {0.4, 0.25, 0.2, 0.1, 0.05};

static int32_t next_id(tril_sampler *s, const float *logits)
{
    int32_t id = -1;
    assert_int_equal(tril_sampler_next(s, logits, &id), TRIL_OK);
    return id;
}

/* Frequencies of each id over DRAWS draws from logits [n]. */
static void frequencies_of(const tril_sampler_config *cfg, const float *logits, int n, double *freq)
{
    tril_sampler *s;
    assert_int_equal(tril_sampler_create(cfg, n, &s), TRIL_OK);
    int counts[16] = {0};
    assert_true(n <= 16);
    for (int d = 0; d < DRAWS; d++) {
        int32_t id = next_id(s, logits);
        assert_true(id >= 0 && id < n);
        counts[id]++;
    }
    for (int i = 0; i < n; i++) freq[i] = (double)counts[i] / DRAWS;
    tril_sampler_free(s);
}

static void frequencies(const tril_sampler_config *cfg, double *freq)
{
    float logits[5];
    for (int i = 0; i < 5; i++) logits[i] = (float)log(P[i]) + 3.0f; /* shift: softmax-invariant */
    frequencies_of(cfg, logits, 5, freq);
}

static void expect_distribution_n(const double *freq, const double *want, int n)
{
    for (int i = 0; i < n; i++) {
        double se = sqrt(want[i] * (1 - want[i]) / DRAWS);
        if (want[i] == 0.0) assert_true(freq[i] == 0.0);
        else if (fabs(freq[i] - want[i]) > 4 * se + 1e-9)
            fail_msg("token %d: frequency %.4f, expected %.4f (4 se = %.4f)", i, freq[i], want[i], 4 * se);
    }
}

static void expect_distribution(const double *freq, const double *want)
{
    expect_distribution_n(freq, want, 5);
}

static void test_plain_sampling(void **state)
{
    (void)state;
    tril_sampler_config c = tril_sampler_config_default();
    c.seed = 1;
    double f[5];
    frequencies(&c, f);
    expect_distribution(f, P);
}

static void test_temperature(void **state)
{
    (void)state;
    tril_sampler_config c = tril_sampler_config_default();
    c.temperature = 0.5f;
    c.seed = 2;
    double f[5], want[5], z = 0.0;
    for (int i = 0; i < 5; i++) z += want[i] = P[i] * P[i]; /* p^(1/T), T = 0.5 */
    for (int i = 0; i < 5; i++) want[i] /= z;
    frequencies(&c, f);
    expect_distribution(f, want);
}

static void test_top_k(void **state)
{
    (void)state;
    tril_sampler_config c = tril_sampler_config_default();
    c.top_k = 2;
    c.seed = 3;
    double f[5], want[5] = {0.4 / 0.65, 0.25 / 0.65, 0, 0, 0};
    frequencies(&c, f);
    expect_distribution(f, want);
}

static void test_top_p(void **state)
{
    (void)state;
    tril_sampler_config c = tril_sampler_config_default();
    c.top_p = 0.6f; /* 0.4 < 0.6 <= 0.4 + 0.25: the two most likely */
    c.seed = 4;
    double f[5], want[5] = {0.4 / 0.65, 0.25 / 0.65, 0, 0, 0};
    frequencies(&c, f);
    expect_distribution(f, want);
    c.top_p = 0.9f; /* 0.85 < 0.9 <= 0.95: four tokens */
    double want4[5] = {0.4 / 0.95, 0.25 / 0.95, 0.2 / 0.95, 0.1 / 0.95, 0};
    frequencies(&c, f);
    expect_distribution(f, want4);
    c.top_k = 3; /* both: top-k first, then top-p of what is left (0.85 mass) */
    c.top_p = 0.7f; /* 0.7 * 0.85 = 0.595 -> first two */
    frequencies(&c, f);
    expect_distribution(f, want);
}

/* Greedy against a plain first-of-the-largest walk written here, over
 * lengths that leave every vector tail, with many ties, -inf, -0 and +0,
 * and the maximum at the first and the last index: the vector search must
 * pick the same id. */
static void test_greedy_matches_plain_walk(void **state)
{
    (void)state;
    static float logits[50257];
    const float values[] = {-INFINITY, -1.5f, -0.0f, 0.0f, 0.25f, 2.0f, 2.0f};
    const int64_t lengths[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 1000, 50257};
    uint32_t r = 12345;
    tril_sampler_config c = tril_sampler_config_default();
    c.temperature = 0.0f;
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        const int64_t n = lengths[li];
        tril_sampler *s;
        assert_int_equal(tril_sampler_create(&c, n, &s), TRIL_OK);
        for (int trial = 0; trial < 40; trial++) {
            for (int64_t i = 0; i < n; i++) {
                r = r * 1664525u + 1013904223u;
                logits[i] = values[(r >> 16) % (sizeof values / sizeof values[0])];
            }
            if (trial % 4 == 1) logits[0] = 3.0f;     /* the largest first */
            if (trial % 4 == 2) logits[n - 1] = 3.0f; /* the largest last */
            if (trial % 4 == 3) logits[(r >> 8) % (uint32_t)n] = -INFINITY;
            int64_t want = -1;
            for (int64_t i = 0; i < n; i++)
                if (logits[i] != -INFINITY && (want < 0 || logits[i] > logits[want])) want = i;
            if (want < 0) continue; /* all -inf: test_inf_logits */
            assert_int_equal(next_id(s, logits), want);
        }
        tril_sampler_free(s);
    }
}

/* The sampler's weights, on every ISA the machine has: exp((l - mx) / T)
 * within 2 ulp plus what rounding (l - mx) / T to float costs (|q| ulp),
 * exactly 0 only where exp is below 2e-38; and lane by lane: a value is the
 * same wherever it sits in the row (the top-k draw weighs its k tokens
 * alone and must get the values the whole row gets). */
static void test_sample_weights_every_isa(void **state)
{
    (void)state;
    enum { N = 50257 };
    static float logits[N], w[N], part[N], wpart[N];
    const double inv_ts[] = {1.0, 1.0 / 0.7, 1e-30, 1e30, 1.0 / 3.4e38};
    tril_rng rng;
    tril_rng_seed(&rng, 5);
    for (int64_t i = 0; i < N; i++) {
        const uint64_t kind = tril_rng_below(&rng, 10);
        logits[i] = kind == 0 ? -INFINITY : kind == 1 ? -3e38f : (float)(10.0 * tril_rng_normal(&rng));
    }
    logits[7] = 60.0f;
    const double mx = 60.0;
    for (int isa = TRIL_ISA_GENERIC; isa <= TRIL_ISA_AVX512; isa++) {
        if (!tril_cpu_supports((tril_isa)isa)) continue;
        const tril_model_kernels *k = TRIL_ISA_TABLE_FOR(tril_model_kernels, (tril_isa)isa);
        for (size_t ti = 0; ti < sizeof inv_ts / sizeof inv_ts[0]; ti++) {
            k->sample_weights(w, logits, N, mx, inv_ts[ti]);
            for (int64_t i = 0; i < N; i++) {
                const double q = ((double)logits[i] - mx) * inv_ts[ti], want = exp(q);
                const double tol = (want > 0.0 ? want * (2.4e-7 + 1.2e-7 * fabs(q)) : 0.0) + 2e-38;
                if (!(fabs((double)w[i] - want) <= tol) || w[i] < 0.0f)
                    fail_msg("%s: logit %g, 1/T %g: weight %.9g, exp %.9g",
                             tril_isa_name((tril_isa)isa), (double)logits[i], inv_ts[ti],
                             (double)w[i], want);
            }
            assert_true(w[7] == 1.0f); /* the arg-max weighs exactly 1 */
            /* odd lengths at odd offsets: the same values */
            for (int64_t len = 1; len <= 70; len += 3) {
                const int64_t at = (len * 7919) % (N - len);
                memcpy(part, logits + at, (size_t)len * sizeof *part);
                k->sample_weights(wpart, part, len, mx, inv_ts[ti]);
                assert_memory_equal(wpart, w + at, (size_t)len * sizeof *wpart);
            }
        }
    }
}

/* Logits of one shape for the draw comparison below. */
static void fill_logits(float *logits, int64_t n, int shape, tril_rng *rng)
{
    for (int64_t i = 0; i < n; i++) {
        const double g = tril_rng_normal(rng);
        switch (shape) {
        case 0: logits[i] = (float)(0.5 * g); break;                  /* flat: nothing underflows */
        case 1: logits[i] = (float)(20.0 * g); break;                 /* peaked */
        case 2: logits[i] = (float)(0.5 * floor(4.0 * g)); break;    /* many ties */
        case 3: logits[i] = tril_rng_below(rng, 5) == 0 ? -INFINITY : (float)(3.0 * g); break;
        case 4: logits[i] = (float)i * 1e-3f; break;                  /* rising: every token enters a k-best heap */
        case 5: logits[i] = -(float)i * 1e-3f; break;                 /* falling */
        case 6: logits[i] = 1.0f; break;                              /* all tied */
        default: logits[i] = i == n / 2 ? 0.0f : -INFINITY; break;   /* one finite */
        }
    }
}

/* The draw tril_sampler_next runs (a k-best heap, a partly popped heap for
 * top-p) gives the id the plain walk (every weight, a full sort) gives, for
 * every shape of logits, temperature, top-k, top-p and uniform: the same
 * candidates in the same order, summed in the same order. */
static void test_fast_draw_matches_reference(void **state)
{
    (void)state;
    static float logits[50257];
    static tril_candidate cand_ref[50257], cand_fast[50257];
    static float w_ref[50257], w_fast[50257];
    static double sums_ref[50257 / TRIL_SAMPLE_BLOCK + 1], sums_fast[50257 / TRIL_SAMPLE_BLOCK + 1];
    tril_sample_scratch ref = {cand_ref, w_ref, sums_ref}, fast = {cand_fast, w_fast, sums_fast};
    const int64_t sizes[] = {1, 2, 3, 7, 64, 1000, 50257};
    const float temps[] = {1e-30f, 0.05f, 0.7f, 1.0f, 3.0f, 1e30f};
    const float tops_p[] = {1.0f, 0.95f, 0.5f, 1e-3f};
    const double us[] = {0.0, 0.37, 0.999999};
    tril_rng rng;
    tril_rng_seed(&rng, 7);
    int64_t compared = 0, differ = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int64_t n = sizes[si];
        const int big = n > 1000; /* the plain walk's sort is slow: fewer cases */
        const int64_t tops_k[] = {0, 2, 3, 40, n - 1, n, n + 3};
        for (int shape = 0; shape < 8; shape++) {
            fill_logits(logits, n, shape, &rng);
            int32_t best = -1;
            for (int64_t i = 0; i < n; i++)
                if (logits[i] != -INFINITY && (best < 0 || logits[i] > logits[best])) best = (int32_t)i;
            if (best < 0) continue;
            for (size_t ti = 0; ti < sizeof temps / sizeof temps[0]; ti++) {
                if (big && ti != 2 && ti != 0) continue;
                for (size_t ki = 0; ki < sizeof tops_k / sizeof tops_k[0]; ki++) {
                    if (tops_k[ki] == 1 || (big && ki != 0 && ki != 3 && ki != 5)) continue;
                    for (size_t pi = 0; pi < sizeof tops_p / sizeof tops_p[0]; pi++) {
                        if (big && pi == 3) continue;
                        const tril_sampler_config c = {temps[ti], tops_k[ki], tops_p[pi], 0};
                        for (size_t ui = 0; ui < sizeof us / sizeof us[0]; ui++) {
                            const int32_t want = tril_sample_reference(&c, logits, n, best, us[ui], &ref);
                            const int32_t got = tril_sample_fast(&c, logits, n, best, us[ui], &fast);
                            if (got != want && differ++ < 5)
                                print_error("n %lld shape %d T %g k %lld p %g u %g: %d, plain walk %d\n",
                                            (long long)n, shape, (double)c.temperature,
                                            (long long)c.top_k, (double)c.top_p, us[ui], got, want);
                            compared++;
                        }
                    }
                }
            }
        }
    }
    assert_true(compared > 5000);
    assert_int_equal(differ, 0);
}

static void test_greedy_and_seed(void **state)
{
    (void)state;
    float logits[6] = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f, 2.9f};
    tril_sampler_config c = tril_sampler_config_default();
    c.temperature = 0.0f;
    tril_sampler *s;
    assert_int_equal(tril_sampler_create(&c, 6, &s), TRIL_OK);
    assert_int_equal(next_id(s, logits), 1); /* tie between 1 and 3: lowest id */
    tril_sampler_free(s);
    /* top_k = 1 is greedy whatever the temperature */
    c.temperature = 5.0f;
    c.top_k = 1;
    assert_int_equal(tril_sampler_create(&c, 6, &s), TRIL_OK);
    for (int i = 0; i < 50; i++) assert_int_equal(next_id(s, logits), 1);
    tril_sampler_free(s);
    /* same seed, same sequence; another seed, another sequence */
    c.top_k = 0;
    c.temperature = 1.0f;
    int32_t a[64], b[64], d[64];
    tril_sampler *s1, *s2, *s3;
    c.seed = 99;
    assert_int_equal(tril_sampler_create(&c, 6, &s1), TRIL_OK);
    assert_int_equal(tril_sampler_create(&c, 6, &s2), TRIL_OK);
    c.seed = 100;
    assert_int_equal(tril_sampler_create(&c, 6, &s3), TRIL_OK);
    for (int i = 0; i < 64; i++) {
        a[i] = next_id(s1, logits);
        b[i] = next_id(s2, logits);
        d[i] = next_id(s3, logits);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, d, sizeof a);
    tril_sampler_free(s1);
    tril_sampler_free(s2);
    tril_sampler_free(s3);
}

static void test_bad_configs(void **state)
{
    (void)state;
    tril_sampler_config c = tril_sampler_config_default();
    tril_sampler *s = NULL;
    c.top_p = 0.0f;
    assert_int_equal(tril_sampler_create(&c, 5, &s), TRIL_ERR_INVALID_ARG);
    c.top_p = 1.5f;
    assert_int_equal(tril_sampler_create(&c, 5, &s), TRIL_ERR_INVALID_ARG);
    c.top_p = NAN;
    assert_int_equal(tril_sampler_create(&c, 5, &s), TRIL_ERR_INVALID_ARG);
    c = tril_sampler_config_default();
    c.temperature = -1.0f;
    assert_int_equal(tril_sampler_create(&c, 5, &s), TRIL_ERR_INVALID_ARG);
    c.temperature = INFINITY;
    assert_int_equal(tril_sampler_create(&c, 5, &s), TRIL_ERR_INVALID_ARG);
    c = tril_sampler_config_default();
    c.top_k = -1;
    assert_int_equal(tril_sampler_create(&c, 5, &s), TRIL_ERR_INVALID_ARG);
    c.top_k = 0;
    assert_int_equal(tril_sampler_create(&c, 0, &s), TRIL_ERR_INVALID_ARG);
    assert_null(s);
    assert_true(tril_last_error()[0] != '\0');
}

/* The configurations every bad-logit case is tried with: greedy, plain,
 * top-k, top-p, and extreme temperatures with filters. */
static tril_sampler_config config_n(int i)
{
    tril_sampler_config c = tril_sampler_config_default();
    c.seed = (uint64_t)i;
    switch (i) {
    case 0: c.temperature = 0.0f; break;
    case 1: break;
    case 2: c.top_k = 2; break;
    case 3: c.top_p = 0.5f; break;
    case 4: c.temperature = 1e-38f; c.top_k = 3; c.top_p = 1e-30f; break;
    case 5: c.temperature = 1e38f; c.top_p = 1e-30f; break;
    default: c.temperature = 1e38f; c.top_k = 1000000; break;
    }
    return c;
}
#define N_CONFIGS 7

/* logits [n] must be refused with TRIL_ERR_RANGE, the message containing
 * `what`, under every configuration, and *id left alone. */
static void expect_refused(const float *logits, int n, const char *what)
{
    for (int k = 0; k < N_CONFIGS; k++) {
        tril_sampler_config c = config_n(k);
        tril_sampler *s;
        assert_int_equal(tril_sampler_create(&c, n, &s), TRIL_OK);
        int32_t id = -7;
        tril_clear_error();
        if (tril_sampler_next(s, logits, &id) != TRIL_ERR_RANGE)
            fail_msg("config %d: '%s' not refused (id %d)", k, what, id);
        assert_int_equal(id, -7);
        if (!strstr(tril_last_error(), what))
            fail_msg("config %d: message '%s' lacks '%s'", k, tril_last_error(), what);
        tril_sampler_free(s);
    }
}

static void test_nan_logits(void **state)
{
    (void)state;
    float all[6], one[6] = {0.5f, 2.0f, 1.0f, 0.0f, -1.0f, 1.5f};
    for (int i = 0; i < 6; i++) all[i] = NAN;
    expect_refused(all, 6, "token 0 is NaN");
    one[3] = NAN; /* not the arg-max: the old code silently skipped it under greedy */
    expect_refused(one, 6, "token 3 is NaN");
    one[3] = -NAN;
    expect_refused(one, 6, "token 3 is NaN");
}

static void test_inf_logits(void **state)
{
    (void)state;
    float pos[5] = {0.5f, 2.0f, INFINITY, 0.0f, INFINITY};
    expect_refused(pos, 5, "token 2 is +inf");
    float neg[5];
    for (int i = 0; i < 5; i++) neg[i] = -INFINITY;
    expect_refused(neg, 5, "all 5 logits are -inf");
    /* -inf alone is probability 0: legal, and never drawn */
    float some[5] = {-INFINITY, 1.0f, -INFINITY, 0.0f, -INFINITY};
    for (int k = 0; k < N_CONFIGS; k++) {
        tril_sampler_config c = config_n(k);
        tril_sampler *s;
        assert_int_equal(tril_sampler_create(&c, 5, &s), TRIL_OK);
        for (int d = 0; d < 2000; d++) {
            int32_t id = next_id(s, some);
            if (id != 1 && id != 3) fail_msg("config %d drew id %d, whose logit is -inf", k, id);
        }
        tril_sampler_free(s);
    }
}

/* A temperature so small that every token but the arg-max underflows, or so
 * large that every probability rounds to 1/V, with top-k and a tiny top-p:
 * the old code could keep no candidate and read before its array. */
static void test_extreme_temperature(void **state)
{
    (void)state;
    const float logits[6] = {1.0f, 3.0f, -2.0f, 2.5f, 0.5f, 2.9f};
    const struct { float t; int64_t k; float p; } cases[] = {
        {1e-38f, 0, 1.0f},   {1e-38f, 3, 1.0f}, {1e-38f, 0, 0.5f}, {1e-38f, 4, 1e-30f},
        {1e-45f, 0, 1e-30f}, {1e38f, 0, 1e-30f}, {1e38f, 2, 1e-30f}, {3.4e38f, 0, 0.1f},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tril_sampler_config cfg = tril_sampler_config_default();
        cfg.temperature = cases[c].t;
        cfg.top_k = cases[c].k;
        cfg.top_p = cases[c].p;
        tril_sampler *s;
        assert_int_equal(tril_sampler_create(&cfg, 6, &s), TRIL_OK);
        for (int d = 0; d < 200; d++) {
            int32_t id = next_id(s, logits);
            if (id != 1) fail_msg("case %zu (T %g, k %lld, p %g): id %d, not the arg-max 1", c,
                                  (double)cases[c].t, (long long)cases[c].k, (double)cases[c].p, id);
        }
        tril_sampler_free(s);
    }
    /* One token, any settings: that token. */
    tril_sampler_config one = tril_sampler_config_default();
    one.temperature = 1e38f;
    one.top_p = 1e-30f;
    tril_sampler *s;
    assert_int_equal(tril_sampler_create(&one, 1, &s), TRIL_OK);
    const float x = -5.0f;
    assert_int_equal(next_id(s, &x), 0);
    tril_sampler_free(s);
}

/* A huge temperature flattens the distribution, but top-k still keeps the
 * k highest logits (not the lowest ids, although their probabilities round
 * equal), and the kept ones are drawn evenly. */
static void test_huge_temperature_distribution(void **state)
{
    (void)state;
    const float logits[6] = {1.0f, 3.0f, -2.0f, 2.5f, 0.5f, 2.9f};
    tril_sampler_config c = tril_sampler_config_default();
    c.temperature = 1e38f;
    c.seed = 5;
    double f[6], flat[6] = {1 / 6.0, 1 / 6.0, 1 / 6.0, 1 / 6.0, 1 / 6.0, 1 / 6.0};
    frequencies_of(&c, logits, 6, f);
    expect_distribution_n(f, flat, 6);
    c.top_k = 2; /* ids 1 (3.0) and 5 (2.9) */
    double two[6] = {0, 0.5, 0, 0, 0, 0.5};
    frequencies_of(&c, logits, 6, f);
    expect_distribution_n(f, two, 6);
    /* logits near the float limits: logit - max overflows a float, but the
     * probability is exp(-6) / (1 + exp(-6)), not 0 */
    const float wide[2] = {3e38f, -3e38f};
    c.top_k = 0;
    double want[2] = {1 / (1 + exp(-6.0)), exp(-6.0) / (1 + exp(-6.0))};
    frequencies_of(&c, wide, 2, f);
    expect_distribution_n(f, want, 2);
}

/* top-p is measured against the whole distribution: with p = 0.45, 0.4,
 * 0.1, 0.05 and top-p 0.5 the first two are kept (0.45 < 0.5). The old
 * shortcut dropped 0.1 and 0.05 before cutting, measured 0.5 of the rest
 * (0.425) and kept only the first. */
static void test_top_p_whole_mass(void **state)
{
    (void)state;
    const double p[4] = {0.45, 0.4, 0.1, 0.05};
    float logits[4];
    for (int i = 0; i < 4; i++) logits[i] = (float)log(p[i]);
    tril_sampler_config c = tril_sampler_config_default();
    c.top_p = 0.5f;
    c.seed = 6;
    double f[4], want[4] = {0.45 / 0.85, 0.4 / 0.85, 0, 0};
    frequencies_of(&c, logits, 4, f);
    expect_distribution_n(f, want, 4);
}

static void test_null_arguments(void **state)
{
    (void)state;
    tril_sampler_config c = tril_sampler_config_default();
    tril_sampler *s;
    assert_int_equal(tril_sampler_create(&c, 3, &s), TRIL_OK);
    const float logits[3] = {0, 1, 2};
    int32_t id;
    assert_int_equal(tril_sampler_next(NULL, logits, &id), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_sampler_next(s, NULL, &id), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_sampler_next(s, logits, NULL), TRIL_ERR_INVALID_ARG);
    tril_sampler_free(s);
    assert_int_equal(tril_sampler_create(&c, 3, NULL), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_sampler_create(&c, (int64_t)INT32_MAX + 1, &s), TRIL_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_sampling), cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_top_k),          cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_greedy_and_seed), cmocka_unit_test(test_greedy_matches_plain_walk),
        cmocka_unit_test(test_sample_weights_every_isa),
        cmocka_unit_test(test_fast_draw_matches_reference),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_nan_logits),      cmocka_unit_test(test_inf_logits),
        cmocka_unit_test(test_extreme_temperature),
        cmocka_unit_test(test_huge_temperature_distribution),
        cmocka_unit_test(test_top_p_whole_mass), cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

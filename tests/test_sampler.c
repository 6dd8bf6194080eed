/* Sampling: greedy picks the argmax (ties to the lowest id); temperature,
 * top-k and top-p sample from the right distribution (frequencies within
 * 4 standard errors over 40000 draws); the seed makes it reproducible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "tril/generate.h"

#define DRAWS 40000

/* logits = log of these probabilities */
static const double P[5] = {0.4, 0.25, 0.2, 0.1, 0.05};

static void frequencies(const tril_sampler_config *cfg, double *freq)
{
    float logits[5];
    for (int i = 0; i < 5; i++) logits[i] = (float)log(P[i]) + 3.0f; /* shift: softmax-invariant */
    tril_sampler *s;
    assert_int_equal(tril_sampler_create(cfg, 5, &s), TRIL_OK);
    int counts[5] = {0};
    for (int d = 0; d < DRAWS; d++) {
        int32_t id = tril_sampler_next(s, logits);
        assert_true(id >= 0 && id < 5);
        counts[id]++;
    }
    for (int i = 0; i < 5; i++) freq[i] = (double)counts[i] / DRAWS;
    tril_sampler_free(s);
}

static void expect_distribution(const double *freq, const double *want)
{
    for (int i = 0; i < 5; i++) {
        double se = sqrt(want[i] * (1 - want[i]) / DRAWS);
        if (want[i] == 0.0) assert_true(freq[i] == 0.0);
        else if (fabs(freq[i] - want[i]) > 4 * se + 1e-9)
            fail_msg("token %d: frequency %.4f, expected %.4f (4 se = %.4f)", i, freq[i], want[i], 4 * se);
    }
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

static void test_greedy_and_seed(void **state)
{
    (void)state;
    float logits[6] = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f, 2.9f};
    tril_sampler_config c = tril_sampler_config_default();
    c.temperature = 0.0f;
    tril_sampler *s;
    assert_int_equal(tril_sampler_create(&c, 6, &s), TRIL_OK);
    assert_int_equal(tril_sampler_next(s, logits), 1); /* tie between 1 and 3: lowest id */
    tril_sampler_free(s);
    /* top_k = 1 is greedy whatever the temperature */
    c.temperature = 5.0f;
    c.top_k = 1;
    assert_int_equal(tril_sampler_create(&c, 6, &s), TRIL_OK);
    for (int i = 0; i < 50; i++) assert_int_equal(tril_sampler_next(s, logits), 1);
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
        a[i] = tril_sampler_next(s1, logits);
        b[i] = tril_sampler_next(s2, logits);
        d[i] = tril_sampler_next(s3, logits);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_sampling), cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_top_k),          cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_greedy_and_seed), cmocka_unit_test(test_bad_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

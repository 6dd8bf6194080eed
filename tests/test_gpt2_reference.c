/* tril's GPT-2 against an independent PyTorch implementation
 * (tests/ref/gpt2_torch.py) on random-weight models written as real Hugging
 * Face folders (f32, f16, bf16, "transformer." prefix, with and without the
 * attn.bias buffers):
 *   logits of every position within 1e-4 (max abs) of PyTorch's (float64);
 *   eval loss within 1e-5 relative, same predicted-token count;
 *   greedy generation with the KV cache: the same 32 ids as PyTorch's full
 *   recomputation;
 *   the last layer's attention probabilities (one head) within 1e-4.
 * Four cases set the config options that change the math, as HF's
 * GPT2Config spells them: n_inner (300 > 4C), scale_attn_weights false,
 * scale_attn_by_inverse_layer_idx true, and reorder_and_upcast_attn with
 * the other three; the n_inner case (stored bf16) also runs as tril's bf16
 * model, prefill and decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "gpt2_cases.h"
#include "tril/generate.h"

static char names[16][64];
static int n_cases;

static tril_gpt2 *load(const char *name)
{
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/%s", cases_dir(), name);
    tril_gpt2 *m = NULL;
    if (tril_gpt2_load(dir, NULL, &m) != TRIL_OK) fail_msg("load %s: %s", dir, tril_last_error());
    return m;
}

static void test_cases_exist(void **state)
{
    (void)state;
    assert_true(n_cases >= 8);
    /* the option cases are there, and their options were read */
    tril_gpt2 *m = load("inner_bf16");
    const tril_gpt2_config *c = tril_gpt2_get_config(m);
    assert_int_equal(c->n_inner, 300);
    assert_int_equal(c->attn_unscaled + c->attn_inverse_layer, 0);
    tril_gpt2_free(m);
    m = load("unscaled_f32");
    c = tril_gpt2_get_config(m);
    assert_true(c->attn_unscaled && !c->attn_inverse_layer && c->n_inner == 0);
    tril_gpt2_free(m);
    m = load("invlayer_f32");
    c = tril_gpt2_get_config(m);
    assert_true(!c->attn_unscaled && c->attn_inverse_layer && c->n_layer == 4);
    tril_gpt2_free(m);
    m = load("reorder_f16");
    c = tril_gpt2_get_config(m);
    assert_true(c->attn_unscaled && c->attn_inverse_layer && c->reorder_and_upcast_attn &&
                c->n_inner == 96);
    tril_gpt2_free(m);
}

/* float32 [n] from a case's ref/ file into a malloc'd buffer. */
static float *read_floats(const char *name, const char *file, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/ref/%s", cases_dir(), name, file);
    float *x = malloc(n * sizeof *x);
    FILE *f = fopen(path, "rb");
    assert_non_null(x);
    assert_non_null(f);
    assert_int_equal(fread(x, sizeof(float), n, f), n);
    fclose(f);
    return x;
}

static void test_logits(void **state)
{
    (void)state;
    for (int c = 0; c < n_cases; c++) {
        tril_gpt2 *m = load(names[c]);
        char path[4096];
        int32_t *ids = NULL;
        snprintf(path, sizeof path, "%s/%s/ref/ids.txt", cases_dir(), names[c]);
        long T = read_ids(path, &ids);
        assert_true(T > 0);
        const int64_t V = tril_gpt2_get_config(m)->vocab_size;
        float *want = malloc((size_t)(T * V) * sizeof *want), *got = malloc((size_t)(T * V) * sizeof *got);
        snprintf(path, sizeof path, "%s/%s/ref/logits.bin", cases_dir(), names[c]);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(fread(want, sizeof(float), (size_t)(T * V), f), (size_t)(T * V));
        fclose(f);
        tril_gpt2_state *s;
        assert_int_equal(tril_gpt2_state_create(m, T, T, &s), TRIL_OK);
        assert_int_equal(tril_gpt2_forward(m, s, ids, T, NULL, got), TRIL_OK);
        double worst = 0.0;
        for (long i = 0; i < T * V; i++) worst = fmax(worst, fabs((double)got[i] - want[i]));
        printf("  %-16s logits max abs err %.3g over %ld x %lld (stored %s)\n", names[c], worst, T,
               (long long)V, tril_gpt2_get_stored_dtype(m));
        assert_true(worst <= 1e-4);
        tril_gpt2_state_free(s);
        free(want);
        free(got);
        free(ids);
        tril_gpt2_free(m);
    }
}

static void test_eval(void **state)
{
    (void)state;
    for (int c = 0; c < n_cases; c++) {
        tril_gpt2 *m = load(names[c]);
        char path[4096];
        int32_t *ids = NULL;
        snprintf(path, sizeof path, "%s/%s/ref/eval_ids.txt", cases_dir(), names[c]);
        long n = read_ids(path, &ids);
        assert_true(n > 0);
        snprintf(path, sizeof path, "%s/%s/ref/eval.txt", cases_dir(), names[c]);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        long context, tokens;
        double loss;
        assert_int_equal(fscanf(f, "context=%ld tokens=%ld loss=%lf", &context, &tokens, &loss), 3);
        fclose(f);
        double nats;
        int64_t count;
        assert_int_equal(tril_gpt2_eval(m, ids, n, context, &nats, &count), TRIL_OK);
        double rel = fabs(nats / count - loss) / loss;
        printf("  %-16s eval loss %.9f vs torch %.9f (rel %.2g), %lld tokens\n", names[c],
               nats / count, loss, rel, (long long)count);
        assert_int_equal(count, tokens);
        assert_true(rel <= 1e-5);
        free(ids);
        tril_gpt2_free(m);
    }
}

typedef struct {
    int32_t ids[64];
    int n;
} collected;

static int collect(int32_t id, void *user)
{
    collected *c = user;
    if (c->n < 64) c->ids[c->n++] = id;
    return 0;
}

static void test_greedy(void **state)
{
    (void)state;
    int checked = 0;
    for (int c = 0; c < n_cases; c++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/ref/greedy.txt", cases_dir(), names[c]);
        FILE *f = fopen(path, "r");
        if (!f) continue; /* this case's context is too short for 34 tokens */
        int a, b, tokens;
        assert_int_equal(fscanf(f, "prompt=%d,%d tokens=%d", &a, &b, &tokens), 3);
        int32_t want[64];
        /* the file says how many ids follow: never more than want holds */
        assert_true(tokens >= 0 && tokens <= (int)(sizeof want / sizeof want[0]));
        for (int i = 0; i < tokens; i++) assert_int_equal(fscanf(f, "%d", &want[i]), 1);
        fclose(f);
        tril_gpt2 *m = load(names[c]);
        int32_t prompt[2] = {a, b};
        tril_sampler_config sc = tril_sampler_config_default();
        sc.temperature = 0.0f;
        collected got = {{0}, 0};
        int64_t produced;
        tril_stop_reason why;
        assert_int_equal(tril_gpt2_generate(m, prompt, 2, tokens, &sc, -1, collect, &got, &produced, &why),
                         TRIL_OK);
        assert_int_equal(produced, tokens);
        assert_int_equal(why, TRIL_STOP_BUDGET);
        assert_memory_equal(got.ids, want, (size_t)tokens * sizeof(int32_t));
        printf("  %-16s greedy: %d ids identical to PyTorch\n", names[c], tokens);
        checked++;
        tril_gpt2_free(m);
    }
    assert_true(checked >= 3);
}

static void test_attention_probs(void **state)
{
    (void)state;
    for (int c = 0; c < n_cases; c++) {
        tril_gpt2 *m = load(names[c]);
        char path[4096];
        int32_t *ids = NULL;
        snprintf(path, sizeof path, "%s/%s/ref/ids.txt", cases_dir(), names[c]);
        long T = read_ids(path, &ids);
        assert_true(T > 0);
        float *want = read_floats(names[c], "probs.bin", (size_t)(T * T));
        float *got = malloc((size_t)(T * T) * sizeof *got);
        const tril_gpt2_config *cfg = tril_gpt2_get_config(m);
        const int64_t layer = cfg->n_layer - 1, head = cfg->n_head - 1;
        assert_int_equal(tril_gpt2_attention_probs(m, ids, T, layer, head, got), TRIL_OK);
        double worst = 0.0;
        for (long i = 0; i < T * T; i++) worst = fmax(worst, fabs((double)got[i] - want[i]));
        printf("  %-16s layer %lld head %lld probabilities max abs err %.3g\n", names[c],
               (long long)layer, (long long)head, worst);
        assert_true(worst <= 1e-4);
        free(want);
        free(got);
        free(ids);
        tril_gpt2_free(m);
    }
}

/* The n_inner case as the bf16 model (its weights are bf16 values, so it is
 * the same model): a prefill of every token, then decoding one at a time. */
static void test_bf16_model_n_inner(void **state)
{
    (void)state;
    char dir[2048], path[4096];
    snprintf(dir, sizeof dir, "%s/inner_bf16", cases_dir());
    tril_gpt2_load_opts o = {.weight_dtype = TRIL_BF16};
    tril_gpt2 *m = NULL;
    if (tril_gpt2_load(dir, &o, &m) != TRIL_OK) fail_msg("%s", tril_last_error());
    int32_t *ids = NULL;
    snprintf(path, sizeof path, "%s/ref/ids.txt", dir);
    long T = read_ids(path, &ids);
    assert_true(T > 1);
    const int64_t V = tril_gpt2_get_config(m)->vocab_size;
    float *want = read_floats("inner_bf16", "logits.bin", (size_t)(T * V));
    float *got = malloc((size_t)(T * V) * sizeof *got);
    tril_gpt2_state *s;
    assert_int_equal(tril_gpt2_state_create(m, T, T, &s), TRIL_OK);
    assert_int_equal(tril_gpt2_forward(m, s, ids, T, NULL, got), TRIL_OK);
    double prefill = 0.0, decode = 0.0;
    for (long i = 0; i < T * V; i++) prefill = fmax(prefill, fabs((double)got[i] - want[i]));
    tril_gpt2_state_reset(s);
    for (long t = 0; t < T; t++) {
        assert_int_equal(tril_gpt2_forward(m, s, ids + t, 1, got, NULL), TRIL_OK);
        for (int64_t v = 0; v < V; v++) decode = fmax(decode, fabs((double)got[v] - want[t * V + v]));
    }
    printf("  inner_bf16 as the bf16 model: prefill max abs err %.3g, decoding %.3g\n", prefill,
           decode);
    assert_true(prefill <= 1e-4);
    assert_true(decode <= 1e-4);
    tril_gpt2_state_free(s);
    free(want);
    free(got);
    free(ids);
    tril_gpt2_free(m);
}

int main(void)
{
    n_cases = read_case_names(cases_dir(), names, 16);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_exist),
        cmocka_unit_test(test_logits),
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_attention_probs),
        cmocka_unit_test(test_bf16_model_n_inner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Loading a model folder: every kind of bad input gets the right status and
 * a message naming the problem, never a crash. Broken folders are built in a
 * temp dir from a tiny random model written with tril's safetensors writer,
 * and from the PyTorch-made reference folder (truncation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_p(const char *dir) { return mkdir(dir, 0755); }

#include "gpt2_cases.h"
#include "test_util.h"
#include "tril/gpt2.h"
#include "tril/safetensors.h"

static char root[256];
static int folder_counter;

static const char *CONFIG_OK =
    "{\"n_layer\": 1, \"n_head\": 2, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 16,"
    " \"layer_norm_epsilon\": 1e-5, \"activation_function\": \"gelu_new\", \"n_inner\": null}";

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A fresh folder with this config text; returns its path (static buffer). */
static const char *folder(const char *config)
{
    static char dir[512];
    char path[600];
    snprintf(dir, sizeof dir, "%s/m%d", root, folder_counter++);
    assert_int_equal(mkdir_p(dir), 0);
    if (config) {
        snprintf(path, sizeof path, "%s/config.json", dir);
        write_text(path, config);
    }
    return dir;
}

/* What a tiny valid model's file holds, with one change applied by `edit`:
 * drop = index of a tensor to leave out (-1 none), extra = a tensor to add. */
static void write_weights(const char *dir, int drop, const tril_st_write_tensor *extra,
                          tril_st_dtype dtype0)
{
    tril_gpt2_config cfg = {1, 2, 8, 8, 16, 1e-5f};
    tril_gpt2 *m;
    assert_int_equal(tril_gpt2_create(&cfg, &m), TRIL_OK);
    for (int64_t i = 0; i < m->arena_numel; i++) m->arena[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    tril_st_write_tensor t[32];
    size_t n = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        if ((int)i == drop) continue;
        tril_st_write_tensor *w = &t[n++];
        w->name = m->params[i].name;
        w->dtype = (i == 0) ? dtype0 : TRIL_ST_F32;
        w->ndim = m->params[i].ndim;
        w->shape[0] = m->params[i].shape[0];
        w->shape[1] = m->params[i].shape[1];
        w->data = m->param_data[i];
    }
    if (extra) t[n++] = *extra;
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(tril_safetensors_write(path, t, n, NULL), TRIL_OK);
    tril_gpt2_free(m);
}

static void expect_fail(const char *dir, tril_status code, const char *needle)
{
    tril_gpt2 *m = NULL;
    tril_status st = tril_gpt2_load(dir, NULL, &m);
    if (st != code)
        fail_msg("%s: got %s (%s), wanted %s", dir, tril_status_name(st), tril_last_error(),
                 tril_status_name(code));
    assert_null(m);
    if (!strstr(tril_last_error(), needle))
        fail_msg("message '%s' does not mention '%s'", tril_last_error(), needle);
}

static void test_valid_tiny_model_round_trip(void **state)
{
    (void)state;
    const char *dir = folder(CONFIG_OK);
    write_weights(dir, -1, NULL, TRIL_ST_F32);
    tril_gpt2 *m;
    assert_int_equal(tril_gpt2_load(dir, NULL, &m), TRIL_OK);
    assert_null(m->arena); /* F32: used in place from the mapping */
    assert_true(m->wte[5] == (float)((5 * 37) % 101) / 101.0f - 0.5f);
    tril_gpt2_free(m);
    tril_gpt2_load_opts opts = {1, TRIL_F32};
    assert_int_equal(tril_gpt2_load(dir, &opts, &m), TRIL_OK);
    assert_non_null(m->arena); /* training wants its own writable copy */
    tril_gpt2_free(m);
}

static void test_missing_things(void **state)
{
    (void)state;
    expect_fail("/nonexistent/model", TRIL_ERR_IO, "/nonexistent/model");
    expect_fail(folder(NULL), TRIL_ERR_IO, "config.json");
    expect_fail(folder(CONFIG_OK), TRIL_ERR_IO, "model.safetensors");
    const char *dir = folder(CONFIG_OK);
    write_weights(dir, 5, NULL, TRIL_ST_F32); /* h.0.attn.c_attn.bias left out */
    expect_fail(dir, TRIL_ERR_FORMAT, "missing tensor 'h.0.attn.c_attn.bias'");
}

static void test_bad_configs(void **state)
{
    (void)state;
    expect_fail(folder("{not json"), TRIL_ERR_FORMAT, "config.json");
    expect_fail(folder("[1, 2]"), TRIL_ERR_FORMAT, "not a JSON object");
    expect_fail(folder("{\"n_layer\": 1, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 16}"),
                TRIL_ERR_FORMAT, "n_head");
    expect_fail(folder("{\"n_layer\": 1, \"n_head\": 3, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 16}"),
                TRIL_ERR_FORMAT, "multiple of n_head");
    expect_fail(folder("{\"n_layer\": 1, \"n_head\": 2, \"n_embd\": 8, \"vocab_size\": 16}"),
                TRIL_ERR_FORMAT, "n_positions");
    expect_fail(folder("{\"n_layer\": 1.5, \"n_head\": 2, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 16}"),
                TRIL_ERR_FORMAT, "n_layer");
    expect_fail(folder("{\"n_layer\": -1, \"n_head\": 2, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 16}"),
                TRIL_ERR_FORMAT, "n_layer");
    expect_fail(folder("{\"n_layer\": 1, \"n_head\": 2, \"n_embd\": 8, \"n_ctx\": 8, \"vocab_size\": 16,"
                       " \"activation_function\": \"relu\"}"),
                TRIL_ERR_UNSUPPORTED, "relu");
}

static void test_shape_and_dtype_mismatch(void **state)
{
    (void)state;
    /* The file holds a 16 x 8 wte; the config says 20 tokens. */
    const char *dir = folder("{\"n_layer\": 1, \"n_head\": 2, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 20}");
    write_weights(dir, -1, NULL, TRIL_ST_F32);
    expect_fail(dir, TRIL_ERR_FORMAT, "'wte.weight' has shape [16, 8] but config.json implies [20, 8]");
    /* wte stored as I32 bytes: not a float tensor. */
    dir = folder(CONFIG_OK);
    write_weights(dir, -1, NULL, TRIL_ST_I32);
    expect_fail(dir, TRIL_ERR_UNSUPPORTED, "dtype I32");
}

static void test_extra_tensors(void **state)
{
    (void)state;
    float mask[8 * 8], other[4] = {1, 2, 3, 4};
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) mask[i * 8 + j] = j <= i ? 1.0f : 0.0f;
    tril_st_write_tensor buf = {"h.0.attn.bias", TRIL_ST_F32, 4, {1, 1, 8, 8}, mask};
    const char *dir = folder(CONFIG_OK);
    write_weights(dir, -1, &buf, TRIL_ST_F32);
    tril_gpt2 *m;
    assert_int_equal(tril_gpt2_load(dir, NULL, &m), TRIL_OK); /* the real mask is fine */
    tril_gpt2_free(m);
    mask[0 * 8 + 5] = 1.0f; /* row 0 sees key 5: not causal */
    dir = folder(CONFIG_OK);
    write_weights(dir, -1, &buf, TRIL_ST_F32);
    expect_fail(dir, TRIL_ERR_FORMAT, "not the causal mask: element [0, 5]");
    tril_st_write_tensor stray = {"h.0.mlp.extra", TRIL_ST_F32, 1, {4}, other};
    dir = folder(CONFIG_OK);
    write_weights(dir, -1, &stray, TRIL_ST_F32);
    expect_fail(dir, TRIL_ERR_FORMAT, "unexpected tensor 'h.0.mlp.extra'");
    float head[16 * 8] = {0};
    tril_st_write_tensor untied = {"lm_head.weight", TRIL_ST_F32, 2, {16, 8}, head};
    dir = folder(CONFIG_OK);
    write_weights(dir, -1, &untied, TRIL_ST_F32);
    expect_fail(dir, TRIL_ERR_UNSUPPORTED, "lm_head.weight differs from wte");
}

/* Cut the PyTorch-written reference file short: the loader must notice. */
static void test_truncated_file(void **state)
{
    (void)state;
    char src[1024], dst[700];
    snprintf(src, sizeof src, "%s/small_f32/model.safetensors", cases_dir());
    FILE *in = fopen(src, "rb");
    assert_non_null(in);
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    const long cuts[] = {0, 4, 8, 100, size / 2, size - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        char *bytes = malloc((size_t)cuts[c] + 1);
        fseek(in, 0, SEEK_SET);
        assert_int_equal(fread(bytes, 1, (size_t)cuts[c], in), (size_t)cuts[c]);
        const char *dir = folder(NULL);
        snprintf(dst, sizeof dst, "%s/config.json", dir);
        char cfg[1100];
        snprintf(cfg, sizeof cfg, "%s/small_f32/config.json", cases_dir());
        char *text;
        FILE *fc = fopen(cfg, "rb");
        assert_non_null(fc);
        text = calloc(1, 8192);
        assert_true(fread(text, 1, 8191, fc) > 0);
        fclose(fc);
        write_text(dst, text);
        free(text);
        snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
        FILE *out = fopen(dst, "wb");
        fwrite(bytes, 1, (size_t)cuts[c], out);
        fclose(out);
        free(bytes);
        expect_fail(dir, TRIL_ERR_FORMAT, "model.safetensors");
    }
    fclose(in);
}

static int setup(void **state)
{
    (void)state;
    return test_temp_dir(root, sizeof root, "tril_load");
}

static int teardown(void **state)
{
    (void)state;
    return test_remove_dir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_tiny_model_round_trip),
        cmocka_unit_test(test_missing_things),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_shape_and_dtype_mismatch),
        cmocka_unit_test(test_extra_tensors),
        cmocka_unit_test(test_truncated_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

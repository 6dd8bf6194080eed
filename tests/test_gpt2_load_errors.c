/* Loading a model folder: every kind of bad input gets the right status and
 * a message naming the problem, never a crash. Broken folders are built in a
 * temp dir from a tiny random model written with tril's safetensors writer,
 * and from the PyTorch-made reference folder (truncation). Also: tensors at
 * odd byte offsets load exactly, non-finite weights are refused, and finite
 * weights whose logits overflow fail at run time instead of yielding NaN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_p(const char *dir) { return mkdir(dir, 0755); }

#include "gpt2_cases.h"
#include "gpt2_test_util.h"
#include "test_util.h"
#include "tril/dtype.h"
#include "tril/generate.h"
#include "tril/gpt2.h"
#include "tril/ops.h"
#include "tril/safetensors.h"
#include "tril/timing.h"
#include "tril/train.h"

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

/* dir/model.safetensors with every parameter of `m` as F32. */
static void write_model_f32(const tril_gpt2 *m, const char *dir)
{
    tril_st_write_tensor t[64];
    size_t n_params;
    const tril_param_info *params = tril_gpt2_get_params(m, &n_params);
    assert_true(n_params <= 64);
    for (size_t i = 0; i < n_params; i++)
        t[i] = (tril_st_write_tensor){params[i].name, TRIL_ST_F32, params[i].ndim,
                                      {params[i].shape[0], params[i].shape[1]},
                                      test_param_f32(m, params[i].name)};
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(tril_safetensors_write(path, t, n_params, NULL), TRIL_OK);
}

/* What a tiny valid model's file holds, with one change applied by `edit`:
 * drop = index of a tensor to leave out (-1 none), extra = a tensor to add. */
static void write_weights(const char *dir, int drop, const tril_st_write_tensor *extra,
                          tril_st_dtype dtype0)
{
    tril_gpt2_config cfg = {.n_layer = 1, .n_head = 2, .n_embd = 8, .n_positions = 8,
                            .vocab_size = 16, .layer_norm_epsilon = 1e-5f};
    tril_gpt2 *m;
    assert_int_equal(tril_gpt2_create(&cfg, &m), TRIL_OK);
    int64_t numel;
    float *arena = test_arena(m, &numel);
    for (int64_t i = 0; i < numel; i++) arena[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    tril_st_write_tensor t[32];
    size_t n = 0, n_params;
    const tril_param_info *params = tril_gpt2_get_params(m, &n_params);
    for (size_t i = 0; i < n_params; i++) {
        if ((int)i == drop) continue;
        tril_st_write_tensor *w = &t[n++];
        w->name = params[i].name;
        w->dtype = (i == 0) ? dtype0 : TRIL_ST_F32;
        w->ndim = params[i].ndim;
        w->shape[0] = params[i].shape[0];
        w->shape[1] = params[i].shape[1];
        w->data = test_param_f32(m, params[i].name);
    }
    if (extra) t[n++] = *extra;
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(tril_safetensors_write(path, t, n, NULL), TRIL_OK);
    tril_gpt2_free(m);
}

/* Loading `dir` (with options `o`, NULL for the defaults) fails with `code`
 * and a message that mentions `needle`. */
static void expect_fail_with(const char *dir, const tril_gpt2_load_opts *o, tril_status code,
                             const char *needle)
{
    tril_gpt2 *m = NULL;
    tril_status st = tril_gpt2_load(dir, o, &m);
    if (st != code)
        fail_msg("%s: got %s (%s), wanted %s", dir, tril_status_name(st), tril_last_error(),
                 tril_status_name(code));
    assert_null(m);
    if (!strstr(tril_last_error(), needle))
        fail_msg("message '%s' does not mention '%s'", tril_last_error(), needle);
}

static void expect_fail(const char *dir, tril_status code, const char *needle)
{
    expect_fail_with(dir, NULL, code, needle);
}

static void test_valid_tiny_model_round_trip(void **state)
{
    (void)state;
    const char *dir = folder(CONFIG_OK);
    write_weights(dir, -1, NULL, TRIL_ST_F32);
    tril_gpt2 *m;
    assert_int_equal(tril_gpt2_load(dir, NULL, &m), TRIL_OK);
    assert_null(test_arena_or_null(m, NULL)); /* F32: used in place from the mapping */
    assert_true(test_param_f32(m, "wte.weight")[5] == (float)((5 * 37) % 101) / 101.0f - 0.5f);
    tril_gpt2_free(m);
    tril_gpt2_load_opts opts = {.copy_to_arena = 1, .weight_dtype = TRIL_F32};
    assert_int_equal(tril_gpt2_load(dir, &opts, &m), TRIL_OK);
    assert_non_null(test_arena_or_null(m, NULL)); /* training wants its own writable copy */
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

/* The tiny model's values, all parameters in one arena-ordered array. */
static float tiny_value(int64_t i) { return (float)((i * 37) % 101) / 101.0f - 0.5f; }

/* Writes the tiny model with every parameter in `dtype`; value `poke_at` of
 * parameter `poke_param` (if >= 0) set to `poke`. pad: a 1-byte U8 tensor
 * (h.0.attn.masked_bias, which the loader tolerates) goes first, so every
 * later tensor starts at an odd byte offset; an F32 causal mask and an
 * lm_head.weight copy of wte follow the parameters, misaligned too.
 * stored[] gets what the file holds, as fp32 (arena order). */
static void write_model(const char *dir, tril_st_dtype dtype, int pad, int poke_param,
                        int64_t poke_at, float poke, float *stored)
{
    tril_gpt2_config cfg = {.n_layer = 1, .n_head = 2, .n_embd = 8, .n_positions = 8,
                            .vocab_size = 16, .layer_norm_epsilon = 1e-5f};
    tril_gpt2 *m;
    assert_int_equal(tril_gpt2_create(&cfg, &m), TRIL_OK);
    int64_t numel;
    float *arena = test_arena(m, &numel);
    size_t n_params;
    const tril_param_info *params = tril_gpt2_get_params(m, &n_params);
    for (int64_t i = 0; i < numel; i++) arena[i] = tiny_value(i);
    if (poke_param >= 0) arena[params[poke_param].offset + poke_at] = poke;
    tril_dtype d;
    assert_int_equal(tril_st_to_dtype(dtype, &d), TRIL_OK);
    uint8_t *bytes = malloc((size_t)numel * 4);
    assert_non_null(bytes);
    tril_convert_from_f32(bytes, d, arena, (size_t)numel);
    if (stored) tril_convert_to_f32(stored, bytes, d, (size_t)numel);
    const size_t esize = tril_dtype_size(d);
    static const uint8_t one = 1;
    float mask[8 * 8];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) mask[i * 8 + j] = j <= i ? 1.0f : 0.0f;
    tril_st_write_tensor t[32];
    size_t n = 0;
    if (pad) t[n++] = (tril_st_write_tensor){"h.0.attn.masked_bias", TRIL_ST_U8, 1, {1}, &one};
    for (size_t i = 0; i < n_params; i++) {
        tril_st_write_tensor *w = &t[n++];
        w->name = params[i].name;
        w->dtype = dtype;
        w->ndim = params[i].ndim;
        w->shape[0] = params[i].shape[0];
        w->shape[1] = params[i].shape[1];
        w->data = bytes + (size_t)params[i].offset * esize;
    }
    if (pad) {
        t[n++] = (tril_st_write_tensor){"h.0.attn.bias", TRIL_ST_F32, 4, {1, 1, 8, 8}, mask};
        t[n++] = (tril_st_write_tensor){"lm_head.weight", dtype, 2, {16, 8}, bytes};
    }
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(tril_safetensors_write(path, t, n, NULL), TRIL_OK);
    free(bytes);
    tril_gpt2_free(m);
}

static tril_gpt2 *load_ok(const char *dir, int copy, tril_dtype weights)
{
    tril_gpt2_load_opts o = {.copy_to_arena = copy, .weight_dtype = weights};
    tril_gpt2 *m = NULL;
    if (tril_gpt2_load(dir, &o, &m) != TRIL_OK) fail_msg("%s: %s", dir, tril_last_error());
    return m;
}

/* An fp32 model holds exactly the stored values. */
static void expect_values(const tril_gpt2 *m, const float *stored)
{
    size_t n_params;
    const tril_param_info *params = tril_gpt2_get_params(m, &n_params);
    for (size_t i = 0; i < n_params; i++) {
        const float *data = test_param_f32(m, params[i].name);
        for (int64_t k = 0; k < params[i].numel; k++)
            if (data[k] != stored[params[i].offset + k])
                fail_msg("%s[%lld] = %g, stored %g", params[i].name, (long long)k, data[k],
                         stored[params[i].offset + k]);
    }
}

/* A bf16 model holds the bf16 rounding of every stored value: wte and the
 * four matrices per layer as bf16 (matrices transposed to [out, in]), the
 * rest as fp32 holding bf16 values. */
static void expect_bf16_values(tril_gpt2 *m, const float *stored)
{
    assert_int_equal(tril_gpt2_get_weight_dtype(m), TRIL_BF16);
    assert_null(test_arena_or_null(m, NULL));
    const tril_gpt2_tensor wte = test_param(m, "wte.weight");
    const uint16_t *wte16 = wte.dtype == TRIL_BF16 ? wte.data : NULL;
    assert_non_null(wte16);
    for (int64_t k = 0; k < wte.info->numel; k++)
        assert_int_equal(wte16[k], tril_f32_to_bf16(stored[k]));
    const tril_gpt2_config *cfg = tril_gpt2_get_config(m);
    const int64_t C = cfg->n_embd;
    for (int64_t l = 0; l < cfg->n_layer; l++) {
        const struct { const char *suffix; int64_t in, out; } mats[4] = {
            {"attn.c_attn.weight", C, 3 * C}, {"attn.c_proj.weight", C, C},
            {"mlp.c_fc.weight", C, 4 * C}, {"mlp.c_proj.weight", 4 * C, C}};
        for (int k = 0; k < 4; k++) {
            char name[48];
            snprintf(name, sizeof name, "h.%lld.%s", (long long)l, mats[k].suffix);
            const tril_gpt2_tensor w = test_param(m, name);
            assert_int_equal(w.dtype, TRIL_BF16);
            assert_int_equal(w.transposed, 1);
            const uint16_t *wt = w.data;
            const float *src = stored + w.info->offset;
            for (int64_t i = 0; i < mats[k].in; i++)
                for (int64_t o = 0; o < mats[k].out; o++)
                    if (wt[o * mats[k].in + i] != tril_f32_to_bf16(src[i * mats[k].out + o]))
                        fail_msg("%s [%lld, %lld] is not the bf16 of the stored value",
                                 w.info->name, (long long)i, (long long)o);
        }
    }
    size_t n_params;
    const tril_param_info *params = tril_gpt2_get_params(m, &n_params);
    for (size_t i = 0; i < n_params; i++) {
        const float *data = test_param_f32(m, params[i].name);
        if (!data) continue; /* kept only as bf16 */
        for (int64_t k = 0; k < params[i].numel; k++)
            assert_true(data[k] == tril_round_to_dtype(stored[params[i].offset + k], TRIL_BF16));
    }
}

/* Tensors at odd byte offsets (the format allows any offset): every reader
 * of the data (F32 in place or copied, F16/BF16 widened, the bf16 model, the
 * mask and lm_head checks) must not use a misaligned pointer (UBSan reports
 * it) and must load the exact stored values. Aligned files too, for the bf16
 * model's values. */
static void test_unaligned_offsets(void **state)
{
    (void)state;
    const tril_st_dtype dtypes[3] = {TRIL_ST_F32, TRIL_ST_F16, TRIL_ST_BF16};
    float stored[2048];
    tril_gpt2_config cfg = {.n_layer = 1, .n_head = 2, .n_embd = 8, .n_positions = 8,
                            .vocab_size = 16, .layer_norm_epsilon = 1e-5f};
    assert_true(tril_gpt2_num_params(&cfg) <= 2048);
    for (int pad = 0; pad <= 1; pad++) {
        for (int k = 0; k < 3; k++) {
            const char *dir = folder(CONFIG_OK);
            write_model(dir, dtypes[k], pad, -1, 0, 0.0f, stored);
            char path[600];
            snprintf(path, sizeof path, "%s/model.safetensors", dir);
            tril_safetensors *st;
            assert_int_equal(tril_safetensors_open(path, &st), TRIL_OK);
            const tril_st_tensor *wte = tril_safetensors_find(st, "wte.weight");
            assert_int_equal((uintptr_t)wte->data % 2, (uintptr_t)pad); /* really odd */
            tril_safetensors_close(st);
            tril_gpt2 *m = load_ok(dir, 0, TRIL_F32);
            expect_values(m, stored);
            tril_gpt2_free(m);
            m = load_ok(dir, 1, TRIL_F32);
            expect_values(m, stored);
            tril_gpt2_free(m);
            m = load_ok(dir, 0, TRIL_BF16);
            expect_bf16_values(m, stored);
            tril_gpt2_free(m);
        }
    }
}

static void expect_fail_opts(const char *dir, int copy, tril_dtype weights, tril_status code,
                             const char *needle)
{
    tril_gpt2_load_opts o = {.copy_to_arena = copy, .weight_dtype = weights};
    expect_fail_with(dir, &o, code, needle);
}

/* A NaN or inf weight is refused at load, naming the tensor and the index,
 * on every loading path (in place, copied, converted, bf16 model). */
static void test_nonfinite_weights(void **state)
{
    (void)state;
    static const struct {
        tril_st_dtype dtype;
        int pad, param;
        int64_t at;
        float value;
        const char *needle;
    } cases[] = {
        {TRIL_ST_F32, 0, 4, 5, NAN, "tensor 'h.0.attn.c_attn.weight' has a non-finite value (nan) at index 5"},
        {TRIL_ST_F32, 1, 0, 127, INFINITY, "tensor 'wte.weight' has a non-finite value (inf) at index 127"},
        {TRIL_ST_F16, 0, 0, 17, INFINITY, "tensor 'wte.weight' has a non-finite value (inf) at index 17"},
        {TRIL_ST_BF16, 1, 13, 3, -INFINITY, "tensor 'h.0.mlp.c_proj.bias' has a non-finite value (-inf) at index 3"},
        {TRIL_ST_F32, 0, 15, 7, -NAN, "tensor 'ln_f.bias' has a non-finite value (nan) at index 7"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *dir = folder(CONFIG_OK);
        write_model(dir, cases[c].dtype, cases[c].pad, cases[c].param, cases[c].at, cases[c].value,
                    NULL);
        expect_fail_opts(dir, 0, TRIL_F32, TRIL_ERR_FORMAT, cases[c].needle);
        expect_fail_opts(dir, 1, TRIL_F32, TRIL_ERR_FORMAT, cases[c].needle);
        expect_fail_opts(dir, 0, TRIL_BF16, TRIL_ERR_FORMAT, cases[c].needle);
    }
    /* Finite in fp32 but beyond bf16's range: fine as fp32, refused as bf16
     * (it would become inf). */
    const char *dir = folder(CONFIG_OK);
    write_model(dir, TRIL_ST_F32, 0, 10, 9, 3.4e38f, NULL);
    tril_gpt2_free(load_ok(dir, 0, TRIL_F32));
    expect_fail_opts(dir, 0, TRIL_BF16, TRIL_ERR_RANGE,
                     "tensor 'h.0.mlp.c_fc.weight' value 3.4e+38 at index 9 overflows bf16");
    /* ... and as int8, whose fp16 block scale (max |w| / 127) would
     * overflow: both the transposed matrices and wte are checked */
    expect_fail_opts(dir, 0, TRIL_INT8, TRIL_ERR_RANGE,
                     "tensor 'h.0.mlp.c_fc.weight': int8 quantisation: column 9 has a weight beyond what an fp16 block scale holds");
    dir = folder(CONFIG_OK);
    write_model(dir, TRIL_ST_F32, 0, 0, 12, -1e8f, NULL);
    tril_gpt2_free(load_ok(dir, 0, TRIL_F32));
    expect_fail_opts(dir, 0, TRIL_INT8, TRIL_ERR_RANGE,
                     "tensor 'wte.weight': int8 quantisation: row 1 has a weight beyond what an fp16 block scale holds");
    /* The bf16 model made from an arena (tril_gpt2_use_bf16) checks too,
     * and leaves the model as it was when it refuses. */
    tril_gpt2_config cfg = {.n_layer = 1, .n_head = 2, .n_embd = 8, .n_positions = 8,
                            .vocab_size = 16, .layer_norm_epsilon = 1e-5f};
    tril_gpt2 *a;
    assert_int_equal(tril_gpt2_create(&cfg, &a), TRIL_OK);
    const int64_t proj = test_param(a, "h.0.attn.c_proj.weight").info->offset;
    test_arena(a, NULL)[proj + 2] = NAN;
    assert_int_equal(tril_gpt2_use_bf16(a), TRIL_ERR_FORMAT);
    assert_non_null(strstr(tril_last_error(), "'h.0.attn.c_proj.weight' has a non-finite value (nan) at index 2"));
    assert_non_null(test_arena_or_null(a, NULL));
    assert_int_equal(tril_gpt2_get_weight_dtype(a), TRIL_F32);
    test_arena(a, NULL)[proj + 2] = 0.0f;
    assert_int_equal(tril_gpt2_use_bf16(a), TRIL_OK);
    const tril_gpt2_tensor wte = test_param(a, "wte.weight");
    assert_non_null(wte.dtype == TRIL_BF16 ? wte.data : NULL);
    tril_gpt2_free(a);
}

static void expect_nonfinite_logit(tril_status st)
{
    if (st != TRIL_ERR_RANGE)
        fail_msg("got %s (%s), wanted RANGE", tril_status_name(st), tril_last_error());
    if (!strstr(tril_last_error(), "non-finite logit"))
        fail_msg("message '%s' does not say 'non-finite logit'", tril_last_error());
}

/* Finite weights whose logits overflow (one huge row of wte): the forward,
 * generation, eval and the full-sequence logits report an error; nothing
 * hands NaN or inf logits on as if they were fine. The final LayerNorm
 * puts out all ones (weight 0, bias 1), so the huge row's logit overflows
 * in any summation order: with a mean-free LN output its products had mixed
 * signs, and an 8-lane tree (AVX2) kept the sum finite where a serial sum
 * did not. */
static void test_overflowing_logits(void **state)
{
    (void)state;
    const char *dir = folder(CONFIG_OK);
    tril_gpt2_config cfg = {.n_layer = 1, .n_head = 2, .n_embd = 8, .n_positions = 8,
                            .vocab_size = 16, .layer_norm_epsilon = 1e-5f};
    tril_gpt2 *m = NULL;
    assert_int_equal(tril_gpt2_create(&cfg, &m), TRIL_OK);
    int64_t numel;
    float *arena = test_arena(m, &numel);
    for (int64_t i = 0; i < numel; i++) arena[i] = tiny_value(i);
    for (int64_t k = 0; k < 8; k++) arena[3 * 8 + k] = 3e38f; /* wte row 3 */
    const int64_t lnf_w = test_param(m, "ln_f.weight").info->offset;
    const int64_t lnf_b = test_param(m, "ln_f.bias").info->offset;
    for (int64_t k = 0; k < 8; k++) {
        arena[lnf_w + k] = 0.0f;
        arena[lnf_b + k] = 1.0f;
    }
    write_model_f32(m, dir);
    tril_gpt2_free(m);
    const int32_t ids[4] = {1, 2, 5, 7};
    float logits[4 * 16];
    for (int bf16 = 0; bf16 <= 1; bf16++) {
        m = load_ok(dir, !bf16, bf16 ? TRIL_BF16 : TRIL_F32);
        tril_gpt2_state *s;
        assert_int_equal(tril_gpt2_state_create(m, 8, 4, &s), TRIL_OK);
        expect_nonfinite_logit(tril_gpt2_forward(m, s, ids, 4, logits, NULL));
        tril_gpt2_state_reset(s);
        expect_nonfinite_logit(tril_gpt2_forward(m, s, ids, 4, NULL, logits));
        tril_gpt2_state_free(s);
        tril_sampler_config sc = tril_sampler_config_default();
        sc.temperature = 0.0f;
        int64_t produced = -1;
        tril_stop_reason why;
        expect_nonfinite_logit(tril_gpt2_generate(m, ids, 2, 3, &sc, -1, NULL, NULL, &produced, &why));
        assert_int_equal(produced, 0);
        double nats;
        int64_t count;
        expect_nonfinite_logit(tril_gpt2_eval(m, ids, 4, 4, &nats, &count));
        if (!bf16) {
            tril_trainer *tr;
            assert_int_equal(tril_trainer_create(m, 1, 4, 1, &tr), TRIL_OK);
            expect_nonfinite_logit(tril_trainer_logits(tr, ids, 1, 4, logits));
            tril_trainer_free(tr);
        }
        tril_gpt2_free(m);
    }
}

/* The bf16 model is for inference: a trainer on it (its fp32 wte and
 * matrices are gone) is refused with a status, never run on NULL weights. */
static void test_trainer_refuses_bf16(void **state)
{
    (void)state;
    tril_gpt2_config cfg = {.n_layer = 1, .n_head = 2, .n_embd = 8, .n_positions = 8,
                            .vocab_size = 16, .layer_norm_epsilon = 1e-5f};
    tril_gpt2 *m;
    assert_int_equal(tril_gpt2_create(&cfg, &m), TRIL_OK);
    int64_t numel;
    float *arena = test_arena(m, &numel);
    for (int64_t i = 0; i < numel; i++) arena[i] = tiny_value(i);
    const char *dir = folder(CONFIG_OK);
    write_model_f32(m, dir);
    assert_int_equal(tril_gpt2_use_bf16(m), TRIL_OK);
    tril_gpt2 *loaded = load_ok(dir, 0, TRIL_BF16);
    tril_gpt2 *models[2] = {m, loaded};
    for (int k = 0; k < 2; k++) {
        tril_trainer *t = (tril_trainer *)&t; /* untouched on failure */
        assert_int_equal(tril_trainer_create(models[k], 1, 4, 1, &t), TRIL_ERR_UNSUPPORTED);
        assert_ptr_equal(t, (tril_trainer *)&t);
        assert_non_null(strstr(tril_last_error(), "bf16 weights"));
        assert_non_null(strstr(tril_last_error(), "fp32"));
    }
    tril_gpt2_free(loaded);
    tril_gpt2_free(m);
    /* the fp32 model of the same folder trains */
    m = load_ok(dir, 1, TRIL_F32);
    tril_trainer *t;
    assert_int_equal(tril_trainer_create(m, 1, 4, 1, &t), TRIL_OK);
    tril_trainer_free(t);
    tril_gpt2_free(m);
}

/* The bf16 model is converted tensor by tensor from the mapping, whose pages
 * are released as it goes: loading peaks within 1.3x of what the loaded
 * model holds (a whole fp32 copy first made it about 3x). 17M parameters
 * (68 MB of F32), so the weights dominate the process's own memory. */
static void test_bf16_load_peak(void **state)
{
    (void)state;
    tril_gpt2_config cfg = {.n_layer = 4, .n_head = 8, .n_embd = 512, .n_positions = 256,
                            .vocab_size = 8192, .layer_norm_epsilon = 1e-5f};
    const char *dir = folder("{\"n_layer\": 4, \"n_head\": 8, \"n_embd\": 512, \"n_positions\": 256,"
                             " \"vocab_size\": 8192}");
    tril_gpt2 *m;
    assert_int_equal(tril_gpt2_create(&cfg, &m), TRIL_OK);
    int64_t numel;
    float *arena = test_arena(m, &numel);
    for (int64_t i = 0; i < numel; i++) arena[i] = tiny_value(i);
    write_model_f32(m, dir);
    const double weights16 = (double)numel * 2.0;
    tril_gpt2_free(m);
    if (tril_reset_peak_rss() != 0 || test_rss_bytes() < 0) skip(); /* no clear_refs or /proc */
    const long long before = test_rss_bytes();
    m = load_ok(dir, 0, TRIL_BF16);
    const long long peak = tril_peak_rss_bytes(), held = test_rss_bytes();
    printf("  bf16 load of %.1f MB F32: RSS %.1f MB before, peak %.1f MB, %.1f MB after "
           "(peak / after = %.2f)\n",
           weights16 * 2.0 / 1e6, before / 1e6, peak / 1e6, held / 1e6, (double)peak / (double)held);
    assert_true((double)(held - before) >= 0.9 * weights16); /* the weights are what grew */
    assert_true((double)peak <= 1.3 * (double)held);
    tril_gpt2_free(m);
}

/* tril_gpt2_create_random in bf16 and int8 is the model create +
 * init_random + use_dtype makes, byte for byte (every tensor, int8's
 * scales too), with a resident peak near its own size: the fp32 model is
 * never held whole. */
static void test_random_model_per_dtype(void **state)
{
    (void)state;
    /* rows of 520 (16 int8 blocks and a short one); wte's 8191 rows come in
     * blocks with a short last one */
    tril_gpt2_config cfg = {.n_layer = 4, .n_head = 8, .n_embd = 520, .n_positions = 256,
                            .vocab_size = 8191, .layer_norm_epsilon = 1e-5f};
    tril_gpt2 *m = NULL;
    assert_int_equal(tril_gpt2_create_random(&cfg, 5, TRIL_F16, &m), TRIL_ERR_UNSUPPORTED);
    assert_null(m);
    assert_int_equal(tril_gpt2_create_random(NULL, 5, TRIL_BF16, &m), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_gpt2_create_random(&cfg, 5, TRIL_BF16, NULL), TRIL_ERR_INVALID_ARG);
    tril_gpt2_config bad = cfg;
    bad.n_head = 7; /* does not divide n_embd */
    assert_int_not_equal(tril_gpt2_create_random(&bad, 5, TRIL_INT8, &m), TRIL_OK);
    assert_null(m);
    const tril_dtype dtypes[3] = {TRIL_F32, TRIL_BF16, TRIL_INT8};
    for (int d = 0; d < 3; d++) {
        tril_gpt2 *want;
        assert_int_equal(tril_gpt2_create(&cfg, &want), TRIL_OK);
        assert_int_equal(tril_gpt2_init_random(want, 5), TRIL_OK);
        if (dtypes[d] != TRIL_F32) assert_int_equal(tril_gpt2_use_dtype(want, dtypes[d]), TRIL_OK);
        const int measure = tril_reset_peak_rss() == 0 && test_rss_bytes() >= 0;
        const long long before = measure ? test_rss_bytes() : 0;
        assert_int_equal(tril_gpt2_create_random(&cfg, 5, dtypes[d], &m), TRIL_OK);
        const long long peak = measure ? tril_peak_rss_bytes() : 0, held = measure ? test_rss_bytes() : 0;
        assert_int_equal(tril_gpt2_get_weight_dtype(m), dtypes[d]);
        size_t count;
        const tril_param_info *params = tril_gpt2_get_params(m, &count);
        double bytes = 0.0;
        for (size_t i = 0; i < count; i++) {
            const tril_gpt2_tensor a = test_param(m, params[i].name), b = test_param(want, params[i].name);
            assert_int_equal(a.dtype, b.dtype);
            const size_t n = (size_t)params[i].numel * tril_dtype_size(a.dtype);
            if (memcmp(a.data, b.data, n) != 0) fail_msg("%s: tensor %s differs", tril_dtype_name(dtypes[d]), params[i].name);
            if (a.dtype == TRIL_INT8) {
                int64_t rows, cols;
                rows = a.transposed ? params[i].shape[1] : params[i].shape[0];
                cols = params[i].numel / rows;
                if (memcmp(a.scales, b.scales, (size_t)TRIL_Q8_SCALES(rows, cols) * 2) != 0)
                    fail_msg("int8: tensor %s's scales differ", params[i].name);
            }
            bytes += (double)n;
        }
        if (!measure) printf("  no peak RSS here (clear_refs or /proc): the bytes checked, not the peak\n");
        if (measure && dtypes[d] != TRIL_F32) {
            printf("  random %s model of %.1f MB: peak %.1f MB over %.1f MB before, %.1f MB held\n",
                   tril_dtype_name(dtypes[d]), bytes / 1e6, (peak - before) / 1e6, before / 1e6,
                   (held - before) / 1e6);
            /* growth while making it within 1.3x what it holds (the fp32
             * model alone would be 2x the bf16 one, 3.8x the int8 one) */
            assert_true((double)(peak - before) <= 1.3 * (double)(held - before));
        }
        tril_gpt2_free(m);
        m = NULL;
        tril_gpt2_free(want);
    }
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
        cmocka_unit_test(test_unaligned_offsets),
        cmocka_unit_test(test_nonfinite_weights),
        cmocka_unit_test(test_overflowing_logits),
        cmocka_unit_test(test_trainer_refuses_bf16),
        cmocka_unit_test(test_bf16_load_peak),
        cmocka_unit_test(test_random_model_per_dtype),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

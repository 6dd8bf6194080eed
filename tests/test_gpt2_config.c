/* config.json keys of Hugging Face's GPT2Config that change the math:
 * n_inner, scale_attn_weights, scale_attn_by_inverse_layer_idx,
 * reorder_and_upcast_attn and tie_word_embeddings are read as transformers
 * reads them; values tril does not implement (model_type other than gpt2,
 * add_cross_attention true, non-empty pruned_heads, an untied head without
 * lm_head.weight) and malformed values are refused with a message naming the
 * key; the saver writes the options back. The math itself is checked against
 * PyTorch in test_gpt2_reference.c and test_train_grads.c (cases with each
 * option set). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gpt2_test_util.h"
#include "test_util.h"
#include "tril/checkpoint.h"
#include "tril/gpt2.h"
#include "tril/safetensors.h"

static char root[256];
static int counter;

/* The sizes every config here shares: C = 8, two heads (D = 4). */
#define SIZES "\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 16"

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* A fresh folder (static buffer). */
static const char *new_dir(void)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/c%d", root, counter++);
    assert_int_equal(mkdir(dir, 0755), 0);
    return dir;
}

/* config.json = {SIZES, extra} in a fresh folder; returns the file's path. */
static const char *config_file(const char *extra)
{
    static char path[600];
    const char *dir = new_dir();
    char text[1024];
    snprintf(text, sizeof text, "{" SIZES "%s%s}", extra[0] ? ", " : "", extra);
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, text);
    return path;
}

static tril_status load_config(const char *extra, tril_gpt2_config *cfg)
{
    memset(cfg, 0x5a, sizeof *cfg); /* garbage: every field must be set */
    return tril_gpt2_config_load(config_file(extra), cfg);
}

static void test_options_read(void **state)
{
    (void)state;
    tril_gpt2_config c;
    assert_int_equal(load_config("", &c), TRIL_OK); /* none given: GPT-2's defaults */
    assert_int_equal(c.n_inner, 0);
    assert_int_equal(c.attn_unscaled, 0);
    assert_int_equal(c.attn_inverse_layer, 0);
    assert_int_equal(c.reorder_and_upcast_attn, 0);
    assert_int_equal(c.head_untied, 0);
    assert_int_equal(load_config("\"n_inner\": null, \"scale_attn_weights\": true, "
                                 "\"scale_attn_by_inverse_layer_idx\": false, "
                                 "\"reorder_and_upcast_attn\": false, \"tie_word_embeddings\": true, "
                                 "\"add_cross_attention\": false, \"pruned_heads\": {}, "
                                 "\"model_type\": \"gpt2\"",
                                 &c),
                     TRIL_OK);
    assert_int_equal(c.n_inner, 0);
    assert_int_equal(c.attn_unscaled + c.attn_inverse_layer + c.reorder_and_upcast_attn, 0);
    assert_int_equal(load_config("\"n_inner\": 20, \"scale_attn_weights\": false, "
                                 "\"scale_attn_by_inverse_layer_idx\": true, "
                                 "\"reorder_and_upcast_attn\": true, \"tie_word_embeddings\": false",
                                 &c),
                     TRIL_OK);
    assert_int_equal(c.n_inner, 20);
    assert_int_equal(c.attn_unscaled, 1);
    assert_int_equal(c.attn_inverse_layer, 1);
    assert_int_equal(c.reorder_and_upcast_attn, 1);
    assert_int_equal(c.head_untied, 1);
}

static void test_refused_values(void **state)
{
    (void)state;
    static const struct {
        const char *extra;
        tril_status code;
        const char *needle;
    } bad[] = {
        {"\"n_inner\": 0", TRIL_ERR_FORMAT, "\"n_inner\""},
        {"\"n_inner\": -32", TRIL_ERR_FORMAT, "\"n_inner\""},
        {"\"n_inner\": 20.5", TRIL_ERR_FORMAT, "\"n_inner\""},
        {"\"n_inner\": \"20\"", TRIL_ERR_FORMAT, "\"n_inner\""},
        {"\"n_inner\": 8000000", TRIL_ERR_FORMAT, "sizes beyond"},
        {"\"scale_attn_weights\": null", TRIL_ERR_FORMAT, "\"scale_attn_weights\""},
        {"\"scale_attn_weights\": 0", TRIL_ERR_FORMAT, "\"scale_attn_weights\""},
        {"\"scale_attn_by_inverse_layer_idx\": 1", TRIL_ERR_FORMAT,
         "\"scale_attn_by_inverse_layer_idx\""},
        {"\"reorder_and_upcast_attn\": \"true\"", TRIL_ERR_FORMAT, "\"reorder_and_upcast_attn\""},
        {"\"tie_word_embeddings\": null", TRIL_ERR_FORMAT, "\"tie_word_embeddings\""},
        {"\"add_cross_attention\": true", TRIL_ERR_UNSUPPORTED, "\"add_cross_attention\""},
        {"\"pruned_heads\": {\"0\": [1]}", TRIL_ERR_UNSUPPORTED, "\"pruned_heads\""},
        {"\"model_type\": \"gpt_bigcode\"", TRIL_ERR_UNSUPPORTED, "model_type \"gpt_bigcode\""},
        {"\"model_type\": 2", TRIL_ERR_UNSUPPORTED, "model_type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tril_gpt2_config c;
        tril_status st = load_config(bad[i].extra, &c);
        if (st != bad[i].code || !strstr(tril_last_error(), bad[i].needle))
            fail_msg("%s: got %s '%s', wanted %s naming %s", bad[i].extra, tril_status_name(st),
                     tril_last_error(), tril_status_name(bad[i].code), bad[i].needle);
    }
}

static tril_gpt2_config small_config(int64_t n_inner)
{
    tril_gpt2_config c = {.n_layer = 2, .n_head = 2, .n_embd = 8, .n_positions = 8,
                          .vocab_size = 16, .layer_norm_epsilon = 1e-5f, .n_inner = n_inner};
    return c;
}

static void test_width_and_scale(void **state)
{
    (void)state;
    tril_gpt2_config c = small_config(0);
    assert_int_equal(tril_gpt2_mlp_width(&c), 32);
    c.n_inner = 20;
    assert_int_equal(tril_gpt2_mlp_width(&c), 20);
    /* the table and the parameter count agree, with the MLP 20 wide */
    tril_param_info *t;
    size_t n;
    assert_int_equal(tril_gpt2_param_table(&c, &t, &n), TRIL_OK);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) total += t[i].numel;
    assert_int_equal(total, tril_gpt2_num_params(&c));
    assert_string_equal(t[2 + 8].name, "h.0.mlp.c_fc.weight");
    assert_int_equal(t[2 + 8].shape[0], 8);
    assert_int_equal(t[2 + 8].shape[1], 20);
    assert_int_equal(t[2 + 10].shape[0], 20);
    assert_int_equal(t[2 + 10].shape[1], 8);
    free(t);
    /* the attention scale per layer (D = 4) */
    c = small_config(0);
    assert_true(tril_gpt2_attn_scale(&c, 0) == (float)(1.0 / sqrt(4.0))); /* the core's default */
    assert_true(tril_gpt2_attn_scale(&c, 1) == 0.5f);
    c.attn_inverse_layer = 1;
    assert_true(tril_gpt2_attn_scale(&c, 0) == 0.5f);
    assert_true(tril_gpt2_attn_scale(&c, 3) == 0.125f);
    c.attn_unscaled = 1;
    assert_true(tril_gpt2_attn_scale(&c, 3) == 0.25f);
    c.attn_inverse_layer = 0;
    assert_true(tril_gpt2_attn_scale(&c, 3) == 1.0f);
    c = small_config(-1);
    assert_int_equal(tril_gpt2_config_validate(&c), TRIL_ERR_FORMAT);
}

/* A model for cfg with deterministic weights, saved by tril_model_save. */
static tril_gpt2 *saved_model(const tril_gpt2_config *cfg, const char *dir)
{
    tril_gpt2 *m;
    assert_int_equal(tril_gpt2_create(cfg, &m), TRIL_OK);
    assert_int_equal(tril_gpt2_init_random(m, 7), TRIL_OK);
    int64_t numel;
    float *arena = test_arena(m, &numel);
    for (int64_t i = 0; i < numel; i++) arena[i] *= 20.0f; /* attention that matters */
    if (tril_model_save(dir, m, "bytes", NULL) != TRIL_OK) fail_msg("%s", tril_last_error());
    return m;
}

static void logits_of(const tril_gpt2 *m, float *out)
{
    const int32_t ids[6] = {3, 1, 4, 1, 5, 9};
    tril_gpt2_state *s;
    assert_int_equal(tril_gpt2_state_create(m, 6, 6, &s), TRIL_OK);
    assert_int_equal(tril_gpt2_forward(m, s, ids, 6, NULL, out), TRIL_OK);
    tril_gpt2_state_free(s);
}

/* What training saves keeps the options: the folder loads back to the same
 * config and the same logits. */
static void test_saved_options(void **state)
{
    (void)state;
    tril_gpt2_config cfg = small_config(20);
    cfg.vocab_size = 256;
    cfg.attn_unscaled = 1;
    cfg.attn_inverse_layer = 1;
    cfg.reorder_and_upcast_attn = 1;
    const char *dir = new_dir();
    tril_gpt2 *m = saved_model(&cfg, dir), *back;
    if (tril_gpt2_load(dir, NULL, &back) != TRIL_OK) fail_msg("%s", tril_last_error());
    const tril_gpt2_config *bc = tril_gpt2_get_config(back);
    assert_int_equal(bc->n_inner, 20);
    assert_int_equal(bc->attn_unscaled, 1);
    assert_int_equal(bc->attn_inverse_layer, 1);
    assert_int_equal(bc->reorder_and_upcast_attn, 1);
    float a[6 * 256], b[6 * 256];
    logits_of(m, a);
    logits_of(back, b);
    assert_memory_equal(a, b, sizeof a);
    /* and the options do move the logits (the check above can fail) */
    tril_gpt2 *plain;
    tril_gpt2_config p = small_config(20);
    p.vocab_size = 256;
    assert_int_equal(tril_gpt2_create(&p, &plain), TRIL_OK);
    int64_t numel;
    const float *weights = test_arena(m, &numel);
    memcpy(test_arena(plain, NULL), weights, (size_t)numel * sizeof(float));
    logits_of(plain, b);
    double diff = 0.0;
    for (size_t i = 0; i < 6 * 256; i++) diff = fmax(diff, fabs((double)a[i] - b[i]));
    assert_true(diff > 1e-3);
    tril_gpt2_free(plain);
    tril_gpt2_free(back);
    tril_gpt2_free(m);
    /* a default model is saved as HF writes one: "n_inner": null */
    dir = new_dir();
    cfg = small_config(0);
    cfg.vocab_size = 256;
    m = saved_model(&cfg, dir);
    char path[600], *text = calloc(1, 8192);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_true(fread(text, 1, 8191, f) > 0);
    fclose(f);
    assert_non_null(strstr(text, "\"n_inner\":\tnull"));
    assert_non_null(strstr(text, "\"scale_attn_weights\":\ttrue"));
    assert_non_null(strstr(text, "\"scale_attn_by_inverse_layer_idx\":\tfalse"));
    free(text);
    tril_gpt2_free(m);
}

/* Folder with a saved tiny model, config.json replaced by {SIZES, extra}
 * and, if lm_head is not NULL, an lm_head.weight [16, 8] added. */
static const char *untied_folder(const char *extra, const float *lm_head, float *wte_out)
{
    static char dir[512];
    tril_gpt2_config cfg = small_config(0);
    snprintf(dir, sizeof dir, "%s", new_dir());
    tril_gpt2 *m;
    assert_int_equal(tril_gpt2_create(&cfg, &m), TRIL_OK);
    assert_int_equal(tril_gpt2_init_random(m, 3), TRIL_OK);
    memcpy(wte_out, test_param_f32(m, "wte.weight"), 16 * 8 * sizeof(float));
    tril_st_write_tensor t[40];
    size_t n = 0, n_params;
    const tril_param_info *params = tril_gpt2_get_params(m, &n_params);
    for (size_t i = 0; i < n_params; i++, n++) {
        t[n] = (tril_st_write_tensor){params[i].name, TRIL_ST_F32, params[i].ndim,
                                      {params[i].shape[0], params[i].shape[1]},
                                      test_param_f32(m, params[i].name)};
    }
    if (lm_head) t[n++] = (tril_st_write_tensor){"lm_head.weight", TRIL_ST_F32, 2, {16, 8}, lm_head};
    char path[600], text[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(tril_safetensors_write(path, t, n, NULL), TRIL_OK);
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(text, sizeof text, "{" SIZES ", %s}", extra);
    write_text(path, text);
    tril_gpt2_free(m);
    return dir;
}

static void test_untied_head(void **state)
{
    (void)state;
    float wte[16 * 8], other[16 * 8];
    tril_gpt2 *m = NULL;
    /* untied and no lm_head: HF would use a random head, never wte */
    const char *dir = untied_folder("\"tie_word_embeddings\": false", NULL, wte);
    assert_int_equal(tril_gpt2_load(dir, NULL, &m), TRIL_ERR_UNSUPPORTED);
    assert_null(m);
    assert_non_null(strstr(tril_last_error(), "\"tie_word_embeddings\": false"));
    assert_non_null(strstr(tril_last_error(), "lm_head.weight"));
    /* untied in name only: lm_head.weight equal to wte is the same model */
    dir = untied_folder("\"tie_word_embeddings\": false", wte, wte);
    assert_int_equal(tril_gpt2_load(dir, NULL, &m), TRIL_OK);
    tril_gpt2_free(m);
    m = NULL;
    /* really untied: refused, saying so */
    for (int i = 0; i < 16 * 8; i++) other[i] = wte[i] + 0.5f;
    dir = untied_folder("\"tie_word_embeddings\": false", other, wte);
    assert_int_equal(tril_gpt2_load(dir, NULL, &m), TRIL_ERR_UNSUPPORTED);
    assert_null(m);
    assert_non_null(strstr(tril_last_error(), "lm_head.weight differs from wte"));
    /* tied (the default): no lm_head.weight needed */
    dir = untied_folder("\"tie_word_embeddings\": true", NULL, wte);
    assert_int_equal(tril_gpt2_load(dir, NULL, &m), TRIL_OK);
    tril_gpt2_free(m);
}

/* The accessors of the opaque model: config, table, lookup by name, where
 * the weights live; and the configs by name. */
static void test_accessors(void **state)
{
    (void)state;
    tril_gpt2_config cfg = small_config(0);
    const char *dir = new_dir();
    tril_gpt2 *m = saved_model(&cfg, dir), *mapped, *b16;
    const tril_gpt2_config *c = tril_gpt2_get_config(m);
    assert_memory_equal(c, &cfg, sizeof cfg);
    assert_int_equal(tril_gpt2_get_storage(m), TRIL_GPT2_ARENA);
    assert_int_equal(tril_gpt2_get_weight_dtype(m), TRIL_F32);
    assert_string_equal(tril_gpt2_get_stored_dtype(m), "F32");
    size_t n;
    const tril_param_info *table = tril_gpt2_get_params(m, &n);
    assert_int_equal(n, 2 + 12 * 2 + 2);
    int64_t numel;
    float *arena = test_arena(m, &numel);
    assert_int_equal(numel, tril_gpt2_num_params(c));
    /* by name: the table entry and the arena slice it describes */
    tril_gpt2_tensor t;
    assert_int_equal(tril_gpt2_find_param(m, "h.1.mlp.c_fc.weight", &t), TRIL_OK);
    assert_string_equal(t.info->name, "h.1.mlp.c_fc.weight");
    assert_true(t.info >= table && t.info < table + n);
    assert_true(t.info->shape[0] == 8 && t.info->shape[1] == 32 && t.info->numel == 256);
    assert_true(t.dtype == TRIL_F32 && !t.transposed);
    assert_ptr_equal(t.data, arena + t.info->offset);
    assert_int_equal(tril_gpt2_find_param(m, "h.2.ln_1.weight", &t), TRIL_ERR_INVALID_ARG);
    assert_non_null(strstr(tril_last_error(), "'h.2.ln_1.weight'"));
    assert_int_equal(tril_gpt2_find_param(m, "transformer.wte.weight", &t), TRIL_ERR_INVALID_ARG);
    /* loaded F32 in place: no arena to hand out */
    if (tril_gpt2_load(dir, NULL, &mapped) != TRIL_OK) fail_msg("%s", tril_last_error());
    assert_int_equal(tril_gpt2_get_storage(mapped), TRIL_GPT2_MAPPED);
    float *none = (float *)1;
    assert_int_equal(tril_gpt2_get_arena(mapped, &none, &numel), TRIL_ERR_UNSUPPORTED);
    assert_true(none == NULL && numel == 0);
    assert_non_null(strstr(tril_last_error(), "copy_to_arena"));
    assert_int_equal(tril_gpt2_find_param(mapped, "wpe.weight", &t), TRIL_OK);
    assert_memory_equal(t.data, test_param_f32(m, "wpe.weight"), 8 * 8 * sizeof(float));
    /* the bf16 model: bf16 wte as stored, matrices transposed, the rest fp32 */
    tril_gpt2_load_opts o16 = {.weight_dtype = TRIL_BF16};
    if (tril_gpt2_load(dir, &o16, &b16) != TRIL_OK) fail_msg("%s", tril_last_error());
    assert_int_equal(tril_gpt2_get_storage(b16), TRIL_GPT2_BF16);
    assert_int_equal(tril_gpt2_get_weight_dtype(b16), TRIL_BF16);
    assert_int_equal(tril_gpt2_get_arena(b16, &none, &numel), TRIL_ERR_UNSUPPORTED);
    assert_int_equal(tril_gpt2_find_param(b16, "wte.weight", &t), TRIL_OK);
    assert_true(t.dtype == TRIL_BF16 && !t.transposed);
    assert_int_equal(((const uint16_t *)t.data)[5], tril_f32_to_bf16(arena[5]));
    assert_int_equal(tril_gpt2_find_param(b16, "h.0.attn.c_attn.weight", &t), TRIL_OK);
    assert_true(t.dtype == TRIL_BF16 && t.transposed);
    const float *w = arena + t.info->offset; /* [8, 24] in the arena, [24, 8] here */
    assert_int_equal(((const uint16_t *)t.data)[3 * 8 + 2], tril_f32_to_bf16(w[2 * 24 + 3]));
    assert_int_equal(tril_gpt2_find_param(b16, "h.0.ln_2.bias", &t), TRIL_OK);
    assert_true(t.dtype == TRIL_F32 && !t.transposed);
    tril_gpt2_free(b16);
    /* asked for the AMX layout: 8 inputs are no whole tile (32), so the
     * matrices stay transposed on any CPU */
    tril_gpt2_load_opts oamx = {.weight_dtype = TRIL_BF16, .amx = 1};
    if (tril_gpt2_load(dir, &oamx, &b16) != TRIL_OK) fail_msg("%s", tril_last_error());
    assert_false(tril_gpt2_uses_amx(b16));
    assert_int_equal(tril_gpt2_find_param(b16, "h.0.attn.c_attn.weight", &t), TRIL_OK);
    assert_true(t.dtype == TRIL_BF16 && t.transposed && !t.packed);
    tril_gpt2_free(b16);
    /* the int8 model: Q8_0 blocks along each row of the decoding layout,
     * the matrices transposed, the rest fp32 exactly as stored */
    tril_gpt2_load_opts o8 = {.weight_dtype = TRIL_INT8};
    if (tril_gpt2_load(dir, &o8, &b16) != TRIL_OK) fail_msg("%s", tril_last_error());
    assert_int_equal(tril_gpt2_get_storage(b16), TRIL_GPT2_INT8);
    assert_int_equal(tril_gpt2_get_weight_dtype(b16), TRIL_INT8);
    assert_int_equal(tril_gpt2_find_param(b16, "h.0.attn.c_attn.weight", &t), TRIL_OK);
    assert_true(t.dtype == TRIL_INT8 && t.transposed && t.scales);
    { /* row 3 of [24, 8] is column 3 of the arena's [8, 24]: one block of 8 */
        float col[8], amax = 0.0f;
        for (int i = 0; i < 8; i++) col[i] = w[i * 24 + 3], amax = fmaxf(amax, fabsf(col[i]));
        const float scale = tril_f16_to_f32(t.scales[3]);
        assert_true(scale * 127.0f >= amax && scale <= amax / 127.0f * (1.0f + 1.0f / 512));
        for (int i = 0; i < 8; i++)
            assert_true(fabsf(((const int8_t *)t.data)[3 * 8 + i] * scale - col[i]) <=
                        0.5f * scale * 1.0001f);
    }
    assert_int_equal(tril_gpt2_find_param(b16, "h.0.ln_2.bias", &t), TRIL_OK);
    assert_true(t.dtype == TRIL_F32 && !t.scales);
    assert_memory_equal(t.data, arena + t.info->offset, 8 * sizeof(float));
    tril_gpt2_free(b16);
    /* refused, with the reason: fp16 weights, a conversion without an owned
     * fp32 arena, a conversion to fp16 */
    tril_gpt2_load_opts ohalf = {.weight_dtype = TRIL_F16};
    b16 = NULL;
    assert_int_equal(tril_gpt2_load(dir, &ohalf, &b16), TRIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(tril_last_error(), "fp32, bf16 or int8"));
    assert_null(b16);
    assert_int_equal(tril_gpt2_use_dtype(mapped, TRIL_INT8), TRIL_ERR_INVALID_ARG);
    assert_non_null(strstr(tril_last_error(), "owned fp32 arena"));
    assert_int_equal(tril_gpt2_use_dtype(m, TRIL_F16), TRIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(tril_last_error(), "bf16 or int8, not fp16"));
    assert_int_equal(tril_gpt2_get_weight_dtype(m), TRIL_F32); /* left as it was */
    tril_gpt2_free(mapped);
    tril_gpt2_free(m);
    /* NULL-safe queries */
    assert_null(tril_gpt2_get_config(NULL));
    assert_null(tril_gpt2_get_params(NULL, &n));
    assert_int_equal(n, 0);
    assert_int_equal(tril_gpt2_find_param(NULL, "wte.weight", &t), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_gpt2_use_amx(NULL), TRIL_ERR_INVALID_ARG);
    assert_false(tril_gpt2_uses_amx(NULL));
    /* configs by name */
    tril_gpt2_config named = cfg;
    assert_int_equal(tril_gpt2_config_by_name("gpt2-355m", &named), TRIL_OK);
    assert_true(named.n_layer == 24 && named.n_head == 16 && named.n_embd == 1024 &&
                named.n_positions == 1024 && named.vocab_size == 50257);
    tril_gpt2_config before = named;
    assert_int_equal(tril_gpt2_config_by_name("gpt2-7b", &named), TRIL_ERR_INVALID_ARG);
    assert_non_null(strstr(tril_last_error(), "'gpt2-7b'"));
    assert_non_null(strstr(tril_last_error(), "gpt2-1558m"));
    assert_memory_equal(&named, &before, sizeof named);
    assert_int_equal(tril_gpt2_config_by_name(NULL, &named), TRIL_ERR_INVALID_ARG);
}

static int setup(void **state)
{
    (void)state;
    return test_temp_dir(root, sizeof root, "tril_gpt2_config");
}

static int teardown(void **state)
{
    (void)state;
    return test_remove_dir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_read),
        cmocka_unit_test(test_refused_values),
        cmocka_unit_test(test_width_and_scale),
        cmocka_unit_test(test_saved_options),
        cmocka_unit_test(test_untied_head),
        cmocka_unit_test(test_accessors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

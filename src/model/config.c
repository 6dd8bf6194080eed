/* GPT-2 config.json parsing and validation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tril/file.h"
#include "tril/gpt2.h"

/* An integer key >= 1; TRIL_ERR_FORMAT naming the key otherwise. */
static tril_status get_int(const cJSON *root, const char *path, const char *key, int64_t *out,
                           int required)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item) {
        if (required) return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: missing key \"%s\"", path, key);
        return TRIL_OK;
    }
    double v = cJSON_GetNumberValue(item);
    if (!cJSON_IsNumber(item) || v != floor(v) || v < 1 || v > 1e12)
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: \"%s\" must be a positive integer", path, key);
    *out = (int64_t)v;
    return TRIL_OK;
}

/* A boolean key: absent -> def; true/false; anything else (null, 0, "yes")
 * is refused rather than guessed at (Python would read null and 0 as false). */
static tril_status get_bool(const cJSON *root, const char *path, const char *key, int def,
                            int *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item) {
        *out = def;
        return TRIL_OK;
    }
    if (!cJSON_IsBool(item))
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: \"%s\" must be true or false", path, key);
    *out = cJSON_IsTrue(item);
    return TRIL_OK;
}

/* Keys of Hugging Face's GPT2Config (and PretrainedConfig) that change the
 * math: each is honoured exactly as transformers' GPT2 does, or refused
 * naming the key. Dropout, initializer, summary_* (the double-heads model's
 * classifier) and token-id keys do not change inference and are ignored. */
static tril_status read_options(const cJSON *root, const char *path, tril_gpt2_config *c)
{
    tril_status st;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (type && (!cJSON_IsString(type) || strcmp(type->valuestring, "gpt2") != 0))
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not supported (gpt2 only)",
                         path, cJSON_IsString(type) ? type->valuestring : "?");
    /* HF: inner_dim = n_inner if n_inner is not None else 4 * n_embd */
    const cJSON *inner = cJSON_GetObjectItemCaseSensitive(root, "n_inner");
    if (inner && !cJSON_IsNull(inner) && (st = get_int(root, path, "n_inner", &c->n_inner, 1)))
        return st;
    int scaled = 1, tied = 1, cross = 0;
    if ((st = get_bool(root, path, "scale_attn_weights", 1, &scaled)) ||
        (st = get_bool(root, path, "scale_attn_by_inverse_layer_idx", 0, &c->attn_inverse_layer)) ||
        (st = get_bool(root, path, "reorder_and_upcast_attn", 0, &c->reorder_and_upcast_attn)) ||
        (st = get_bool(root, path, "tie_word_embeddings", 1, &tied)) ||
        (st = get_bool(root, path, "add_cross_attention", 0, &cross)))
        return st;
    c->attn_unscaled = !scaled;
    c->head_untied = !tied;
    if (cross)
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED,
                         "%s: \"add_cross_attention\": true is not supported (tril's GPT-2 is "
                         "decoder-only: no cross-attention blocks)",
                         path);
    const cJSON *pruned = cJSON_GetObjectItemCaseSensitive(root, "pruned_heads");
    if (pruned && !cJSON_IsNull(pruned) && cJSON_GetArraySize(pruned) > 0)
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED,
                         "%s: \"pruned_heads\" is not supported (every layer must keep all n_head "
                         "heads)",
                         path);
    return TRIL_OK;
}

tril_status tril_gpt2_config_load(const char *path, tril_gpt2_config *out)
{
    char *text = NULL;
    tril_status st = tril_read_file(path, 1u << 20, &text, NULL);
    if (st != TRIL_OK) return st;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: not a JSON object", path);
    }
    tril_gpt2_config c;
    memset(&c, 0, sizeof c);
    c.layer_norm_epsilon = 1e-5f;
    if ((st = get_int(root, path, "n_layer", &c.n_layer, 1)) ||
        (st = get_int(root, path, "n_head", &c.n_head, 1)) ||
        (st = get_int(root, path, "n_embd", &c.n_embd, 1)) ||
        (st = get_int(root, path, "vocab_size", &c.vocab_size, 1)))
        goto done;
    if (cJSON_HasObjectItem(root, "n_positions")) {
        if ((st = get_int(root, path, "n_positions", &c.n_positions, 1))) goto done;
    } else if ((st = get_int(root, path, "n_ctx", &c.n_positions, 0))) {
        goto done;
    }
    if (c.n_positions == 0) {
        st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: missing key \"n_positions\" (or \"n_ctx\")", path);
        goto done;
    }
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_epsilon");
    if (eps) {
        if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0.0) || eps->valuedouble > 1.0) {
            st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: \"layer_norm_epsilon\" must be in (0, 1]", path);
            goto done;
        }
        c.layer_norm_epsilon = (float)eps->valuedouble;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "activation_function");
    if (act) {
        const char *name = cJSON_GetStringValue(act);
        if (!name || (strcmp(name, "gelu_new") != 0 && strcmp(name, "gelu_pytorch_tanh") != 0)) {
            st = TRIL_FAIL(TRIL_ERR_UNSUPPORTED,
                           "%s: activation_function \"%s\" is not supported (gelu_new only)", path,
                           name ? name : "?");
            goto done;
        }
    }
    if ((st = read_options(root, path, &c))) goto done;
    st = tril_gpt2_config_validate(&c);
    if (st == TRIL_OK) *out = c;
done:
    cJSON_Delete(root);
    return st;
}

tril_status tril_gpt2_config_validate(const tril_gpt2_config *c)
{
    if (!c) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "config must not be NULL");
    if (c->n_layer < 1 || c->n_head < 1 || c->n_embd < 1 || c->n_positions < 1 ||
        c->vocab_size < 1)
        return TRIL_FAIL(TRIL_ERR_FORMAT, "config: every size must be >= 1");
    if (c->n_embd % c->n_head != 0)
        return TRIL_FAIL(TRIL_ERR_FORMAT, "config: n_embd %lld is not a multiple of n_head %lld",
                         (long long)c->n_embd, (long long)c->n_head);
    if (c->n_inner < 0)
        return TRIL_FAIL(TRIL_ERR_FORMAT, "config: n_inner must be >= 1 (0: 4 * n_embd)");
    if (c->vocab_size > INT32_MAX || c->n_positions > (1 << 24) || c->n_embd > (1 << 20) ||
        c->n_layer > 4096 || c->n_inner > (1 << 22))
        return TRIL_FAIL(TRIL_ERR_FORMAT, "config: sizes beyond what tril supports");
    if (!(c->layer_norm_epsilon > 0.0f))
        return TRIL_FAIL(TRIL_ERR_FORMAT, "config: layer_norm_epsilon must be > 0");
    return TRIL_OK;
}

int64_t tril_gpt2_mlp_width(const tril_gpt2_config *c)
{
    return c->n_inner > 0 ? c->n_inner : 4 * c->n_embd;
}

float tril_gpt2_attn_scale(const tril_gpt2_config *c, int64_t layer)
{
    /* One factor for both HF divisions (by sqrt(D), then by layer + 1): the
     * same real number, rounded once instead of twice. With neither option
     * it is the attention core's own default, 1/sqrt(D), to the bit. */
    double s = c->attn_unscaled ? 1.0 : 1.0 / sqrt((double)(c->n_embd / c->n_head));
    if (c->attn_inverse_layer) s /= (double)(layer + 1);
    return (float)s;
}

int64_t tril_gpt2_num_params(const tril_gpt2_config *c)
{
    const int64_t C = c->n_embd, I = tril_gpt2_mlp_width(c);
    int64_t per_layer = 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + 2 * C + (C * I + I) +
                        (I * C + C);
    return c->vocab_size * C + c->n_positions * C + c->n_layer * per_layer + 2 * C;
}

tril_status tril_gpt2_config_by_name(const char *name, tril_gpt2_config *out)
{
    static const struct { const char *name; int64_t layers, heads, embd; } known[] = {
        {"gpt2-124m", 12, 12, 768},
        {"gpt2-355m", 24, 16, 1024},
        {"gpt2-774m", 36, 20, 1280},
        {"gpt2-1558m", 48, 25, 1600},
    };
    for (size_t i = 0; name && i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(name, known[i].name) == 0) {
            tril_gpt2_config c = {.n_layer = known[i].layers, .n_head = known[i].heads,
                                  .n_embd = known[i].embd, .n_positions = 1024,
                                  .vocab_size = 50257, .layer_norm_epsilon = 1e-5f};
            *out = c;
            return TRIL_OK;
        }
    }
    return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                     "unknown model name '%s' (expected gpt2-124m, gpt2-355m, gpt2-774m or "
                     "gpt2-1558m)",
                     name ? name : "(null)");
}

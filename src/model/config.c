/* GPT-2 config.json parsing and validation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/file_util.h"
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
    if (c->vocab_size > INT32_MAX || c->n_positions > (1 << 24) || c->n_embd > (1 << 20) ||
        c->n_layer > 4096)
        return TRIL_FAIL(TRIL_ERR_FORMAT, "config: sizes beyond what tril supports");
    if (!(c->layer_norm_epsilon > 0.0f))
        return TRIL_FAIL(TRIL_ERR_FORMAT, "config: layer_norm_epsilon must be > 0");
    return TRIL_OK;
}

int64_t tril_gpt2_num_params(const tril_gpt2_config *c)
{
    const int64_t C = c->n_embd;
    int64_t per_layer = 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + 2 * C + (C * 4 * C + 4 * C) +
                        (4 * C * C + C);
    return c->vocab_size * C + c->n_positions * C + c->n_layer * per_layer + 2 * C;
}

int tril_gpt2_config_by_name(const char *name, tril_gpt2_config *cfg)
{
    static const struct { const char *name; int64_t layers, heads, embd; } known[] = {
        {"gpt2-124m", 12, 12, 768},
        {"gpt2-355m", 24, 16, 1024},
        {"gpt2-774m", 36, 20, 1280},
        {"gpt2-1558m", 48, 25, 1600},
    };
    for (size_t i = 0; name && i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(name, known[i].name) == 0) {
            tril_gpt2_config c = {known[i].layers, known[i].heads, known[i].embd, 1024, 50257, 1e-5f};
            *cfg = c;
            return 0;
        }
    }
    return -1;
}

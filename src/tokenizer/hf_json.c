/* Reading a Hugging Face tokenizer.json that describes GPT-2's tokenizer:
 * model.type "BPE", model.vocab (token string -> id, the same strings as
 * vocab.json) and model.merges, either as "a b" strings (older files) or as
 * ["a", "b"] pairs (newer ones). Anything that would make the tokenizer
 * behave differently from GPT-2's is refused with TRIL_ERR_UNSUPPORTED
 * rather than silently ignored: a normalizer, a pre-tokenizer other than
 * ByteLevel (or one with add_prefix_space / without its regex), BPE dropout,
 * subword prefixes/suffixes, ignore_merges. added_tokens are not needed:
 * GPT-2's "<|endoftext|>" is in model.vocab. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tril/file.h"
#include "tokenizer/tok_internal.h"

static int is_true(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* Non-empty string value? */
static int nonempty_string(const cJSON *o, const char *key)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(s) && s->valuestring[0] != '\0';
}

static tril_status check_supported(const cJSON *root, const cJSON *model, const char *path)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (type && !(cJSON_IsString(type) && strcmp(type->valuestring, "BPE") == 0))
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "%s: model.type is %s%s%s; only \"BPE\" is supported",
                         path, cJSON_IsString(type) ? "\"" : "",
                         cJSON_IsString(type) ? type->valuestring : "not a string",
                         cJSON_IsString(type) ? "\"" : "");
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(dropout) && dropout->valuedouble != 0.0)
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "%s: model.dropout (BPE dropout) is not supported",
                         path);
    if (nonempty_string(model, "continuing_subword_prefix") ||
        nonempty_string(model, "end_of_word_suffix"))
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED,
                         "%s: model.continuing_subword_prefix / end_of_word_suffix are not GPT-2's "
                         "BPE",
                         path);
    if (is_true(model, "ignore_merges"))
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "%s: model.ignore_merges is not supported", path);
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (norm && !cJSON_IsNull(norm))
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "%s: a normalizer is not supported (GPT-2 has none)",
                         path);
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (pre && !cJSON_IsNull(pre)) {
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(pre, "type");
        const cJSON *use_regex = cJSON_GetObjectItemCaseSensitive(pre, "use_regex");
        if (!cJSON_IsString(pt) || strcmp(pt->valuestring, "ByteLevel") != 0 ||
            is_true(pre, "add_prefix_space") || cJSON_IsFalse(use_regex))
            return TRIL_FAIL(TRIL_ERR_UNSUPPORTED,
                             "%s: the pre_tokenizer must be GPT-2's (ByteLevel, add_prefix_space "
                             "false, use_regex true)",
                             path);
    }
    return TRIL_OK;
}

/* One entry of model.merges: "a b" or ["a", "b"]. */
static tril_status add_merge(const cJSON *item, size_t i, const tok_vocab *v, tok_merges *m,
                             const char *path)
{
    char where[48];
    snprintf(where, sizeof where, "model.merges[%zu]", i);
    if (cJSON_IsString(item)) {
        const char *s = item->valuestring, *sp = strchr(s, ' ');
        const size_t n = strlen(s);
        if (!sp || sp == s || sp[1] == '\0' || strchr(sp + 1, ' '))
            return TRIL_FAIL(TRIL_ERR_FORMAT,
                             "%s: %s: expected two tokens separated by one space, got \"%.*s\"",
                             path, where, (int)(n < 64 ? n : 64), s);
        return tok_merges_add(m, v, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp - s) - 1, path,
                              where);
    }
    if (cJSON_IsArray(item) && cJSON_GetArraySize(item) == 2 && cJSON_IsString(item->child) &&
        cJSON_IsString(item->child->next)) {
        const char *a = item->child->valuestring, *b = item->child->next->valuestring;
        return tok_merges_add(m, v, a, strlen(a), b, strlen(b), path, where);
    }
    return TRIL_FAIL(TRIL_ERR_FORMAT,
                     "%s: %s: a merge must be a string \"a b\" or an array of two strings", path,
                     where);
}

static tril_status load_model(const cJSON *root, const char *path, tok_vocab *v, tok_merges *m)
{
    if (!cJSON_IsObject(root))
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: not a JSON object", path);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model))
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: no \"model\" object", path);
    tril_status st = check_supported(root, model, path);
    if (st != TRIL_OK) return st;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsObject(vocab))
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: model.vocab is not an object of token -> id", path);
    if (!cJSON_IsArray(merges))
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: model.merges is not an array", path);
    if (cJSON_GetArraySize(merges) == 0) /* as an empty merges.txt: see load.c */
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: model.merges is empty", path);
    st = tok_vocab_from_json(vocab, path, v);
    if (st != TRIL_OK) return st;
    st = tok_merges_init(m, (size_t)cJSON_GetArraySize(merges));
    size_t i = 0;
    for (const cJSON *it = merges->child; st == TRIL_OK && it; it = it->next, i++)
        st = add_merge(it, i, v, m, path);
    if (st != TRIL_OK) {
        tok_merges_free(m);
        tok_vocab_free(v);
    }
    return st;
}

tril_status tok_load_hf_json(const char *path, tok_vocab *v, tok_merges *m)
{
    memset(v, 0, sizeof *v);
    v->eot = -1;
    memset(m, 0, sizeof *m);
    char *data;
    size_t len;
    tril_status st = tril_read_file(path, SIZE_MAX - 1, &data, &len);
    if (st != TRIL_OK) return st;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!root) {
        st = end ? TRIL_FAIL(TRIL_ERR_FORMAT, "%s: not valid JSON (parsing stopped at byte %zu)",
                             path, (size_t)(end - data))
                 : TRIL_FAIL(TRIL_ERR_NOMEM, "%s: out of memory parsing JSON", path);
        free(data);
        return st;
    }
    free(data);
    st = load_model(root, path, v, m);
    cJSON_Delete(root);
    return st;
}

/* Reading OpenAI's GPT-2 files: vocab.json (the encoder: a JSON object of
 * byte-level token string -> id) and merges.txt (vocab.bpe: an optional
 * "#version" first line, then one merge "a b" per line, rank = order). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tril/file.h"
#include "tokenizer/tok_internal.h"

tril_status tok_vocab_from_json(const cJSON *obj, const char *src, tok_vocab *v)
{
    const size_t n = (size_t)cJSON_GetArraySize(obj);
    tok_vocab_entry *e = malloc((n ? n : 1) * sizeof *e);
    if (!e) return TRIL_FAIL(TRIL_ERR_NOMEM, "%s: out of memory for %zu entries", src, n);
    size_t i = 0;
    for (const cJSON *it = obj->child; it && i < n; it = it->next, i++) {
        e[i].key = it->string ? it->string : "";
        e[i].key_len = strlen(e[i].key);
        e[i].is_number = cJSON_IsNumber(it);
        e[i].id = e[i].is_number ? it->valuedouble : 0.0;
    }
    tril_status st = tok_vocab_build(v, e, i, src);
    free(e);
    return st;
}

/* Parses JSON text; FORMAT error naming the byte where parsing stopped. */
static tril_status parse_json(const char *path, const char *data, size_t len, cJSON **out)
{
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (*out) return TRIL_OK;
    if (!end) return TRIL_FAIL(TRIL_ERR_NOMEM, "%s: out of memory parsing JSON", path);
    return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: not valid JSON (parsing stopped at byte %zu)", path,
                     (size_t)(end - data));
}

tril_status tok_load_vocab_json(const char *path, tok_vocab *v)
{
    memset(v, 0, sizeof *v);
    v->eot = -1;
    char *data;
    size_t len;
    tril_status st = tril_read_file(path, SIZE_MAX - 1, &data, &len);
    if (st != TRIL_OK) return st;
    cJSON *root;
    st = parse_json(path, data, len, &root);
    free(data);
    if (st != TRIL_OK) return st;
    if (!cJSON_IsObject(root))
        st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: not a JSON object of token -> id", path);
    else
        st = tok_vocab_from_json(root, path, v);
    cJSON_Delete(root);
    return st;
}

tril_status tok_load_merges_txt(const char *path, const tok_vocab *v, tok_merges *m)
{
    memset(m, 0, sizeof *m);
    char *data;
    size_t len;
    tril_status st = tril_read_file(path, SIZE_MAX - 1, &data, &len);
    if (st != TRIL_OK) return st;
    size_t lines = 1;
    for (const char *p = data; (p = memchr(p, '\n', (size_t)(data + len - p))) != NULL; p++)
        lines++;
    st = tok_merges_init(m, lines);
    const char *p = data, *const end = data + len;
    for (size_t line = 1; st == TRIL_OK && p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (eol > p && eol[-1] == '\r') eol--;
        const size_t n = (size_t)(eol - p);
        if ((line == 1 && n >= 8 && memcmp(p, "#version", 8) == 0) || n == 0) {
            p = next;
            continue;
        }
        const char *sp = memchr(p, ' ', n);
        char where[48];
        snprintf(where, sizeof where, "line %zu", line);
        if (!sp || sp == p || sp + 1 == eol || memchr(sp + 1, ' ', (size_t)(eol - sp - 1)))
            st = TRIL_FAIL(TRIL_ERR_FORMAT,
                           "%s: %s: expected two tokens separated by one space, got \"%.*s\"",
                           path, where, (int)(n < 64 ? n : 64), p);
        else
            st = tok_merges_add(m, v, p, (size_t)(sp - p), sp + 1, (size_t)(eol - sp - 1), path,
                                where);
        p = next;
    }
    free(data);
    /* No merges would leave every byte its own token: a GPT-2 vocabulary
     * used as a byte tokenizer, never what a real merges.txt means. */
    if (st == TRIL_OK && m->next_rank == 0)
        st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: no merges (the file is empty or has only a "
                                        "#version line)", path);
    if (st != TRIL_OK) tok_merges_free(m);
    return st;
}

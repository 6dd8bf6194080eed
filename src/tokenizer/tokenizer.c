/* The public tokenizer API (tril/tokenizer.h): loading, encode, decode.
 *
 * encode = pre-tokenize (pretokenize.c) -> per piece: a single byte is its
 * byte's token; otherwise the word cache (cache.c) or BPE (bpe.c). Output
 * ids go straight into the caller's growing array: no allocation per piece
 * or per token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tril/file.h"
#include "tokenizer/tok_internal.h"

static tril_tokenizer *alloc_tokenizer(tril_tokenizer_kind kind)
{
    tril_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->kind = kind;
    t->vocab.eot = -1;
    tok_cache_init(&t->cache, TOK_CACHE_DEFAULT_ENTRIES);
    return t;
}

void tril_tokenizer_free(tril_tokenizer *tok)
{
    if (!tok) return;
    tok_vocab_free(&tok->vocab);
    tok_merges_free(&tok->merges);
    tok_pretok_free(&tok->pretok);
    tok_cache_free(&tok->cache);
    tok_bpe_work_free(&tok->work);
    free(tok);
}

tril_status tok_tokenizer_new_gpt2(tok_vocab *v, tok_merges *m, tril_tokenizer **out)
{
    tril_tokenizer *t = alloc_tokenizer(TRIL_TOKENIZER_GPT2);
    if (!t) {
        tok_vocab_free(v);
        tok_merges_free(m);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory for a tokenizer");
    }
    t->vocab = *v;
    t->merges = *m;
    tril_status st = tok_pretok_init(&t->pretok);
    if (st != TRIL_OK) {
        tril_tokenizer_free(t);
        return st;
    }
    *out = t;
    return TRIL_OK;
}

tril_status tril_tokenizer_load_gpt2(const char *vocab_json_path, const char *merges_path,
                                     tril_tokenizer **out)
{
    if (!out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    if (!vocab_json_path || !merges_path)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "vocab.json or merges.txt path is NULL");
    tok_vocab v;
    tok_merges m;
    tril_status st = tok_load_vocab_json(vocab_json_path, &v);
    if (st != TRIL_OK) return st;
    st = tok_load_merges_txt(merges_path, &v, &m);
    if (st != TRIL_OK) {
        tok_vocab_free(&v);
        return st;
    }
    return tok_tokenizer_new_gpt2(&v, &m, out);
}

tril_status tril_tokenizer_load_hf_json(const char *tokenizer_json_path, tril_tokenizer **out)
{
    if (!out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    if (!tokenizer_json_path) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "tokenizer.json path is NULL");
    tok_vocab v;
    tok_merges m;
    tril_status st = tok_load_hf_json(tokenizer_json_path, &v, &m);
    if (st != TRIL_OK) return st;
    return tok_tokenizer_new_gpt2(&v, &m, out);
}

static int is_file(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

/* Something is there, but not a regular file (a directory, a FIFO...). */
static int is_other(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && !S_ISREG(s.st_mode);
}

tril_status tril_tokenizer_load_dir(const char *dir, tril_tokenizer **out)
{
    if (!out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    if (!dir) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "dir is NULL");
    const size_t n = strlen(dir) + sizeof "/tokenizer.json";
    char *vocab = malloc(n), *merges = malloc(n), *hf = malloc(n);
    tril_status st;
    if (!vocab || !merges || !hf) {
        st = TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory");
    } else {
        snprintf(vocab, n, "%s/vocab.json", dir);
        snprintf(merges, n, "%s/merges.txt", dir);
        snprintf(hf, n, "%s/tokenizer.json", dir);
        const int have_vocab = is_file(vocab), have_merges = is_file(merges);
        if (have_vocab && have_merges)
            st = tril_tokenizer_load_gpt2(vocab, merges, out);
        else if (is_file(hf))
            st = tril_tokenizer_load_hf_json(hf, out);
        else if (is_other(vocab) || is_other(merges) || is_other(hf))
            /* say what is there instead of calling it missing */
            st = tril_check_file(is_other(vocab) ? vocab : is_other(merges) ? merges : hf);
        else
            st = TRIL_FAIL(TRIL_ERR_IO,
                           "%s: no tokenizer files: need vocab.json + merges.txt (missing: %s%s%s) "
                           "or tokenizer.json (missing)",
                           dir, have_vocab ? "" : "vocab.json",
                           !have_vocab && !have_merges ? ", " : "",
                           have_merges ? "" : "merges.txt");
    }
    free(vocab);
    free(merges);
    free(hf);
    return st;
}

tril_status tril_tokenizer_create_bytes(tril_tokenizer **out)
{
    if (!out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    tril_tokenizer *t = alloc_tokenizer(TRIL_TOKENIZER_BYTES);
    if (!t) return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory for a tokenizer");
    tok_vocab *v = &t->vocab;
    v->off = malloc(257 * sizeof *v->off);
    v->bytes = malloc(256);
    if (!v->off || !v->bytes) {
        tril_tokenizer_free(t);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory for a tokenizer");
    }
    for (int i = 0; i < 256; i++) {
        v->off[i] = (uint32_t)i;
        v->bytes[i] = (uint8_t)i;
        v->byte_id[i] = i;
    }
    v->off[256] = 256;
    v->n = 256;
    *out = t;
    return TRIL_OK;
}

tril_tokenizer_kind tril_tokenizer_get_kind(const tril_tokenizer *tok)
{
    return tok ? tok->kind : TRIL_TOKENIZER_GPT2;
}

int64_t tril_tokenizer_vocab_size(const tril_tokenizer *tok) { return tok ? tok->vocab.n : 0; }

int32_t tril_tokenizer_eot(const tril_tokenizer *tok) { return tok ? tok->vocab.eot : -1; }

tril_status tril_tokenizer_set_cache_size(tril_tokenizer *tok, size_t max_words)
{
    if (!tok) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "tokenizer is NULL");
    tok_cache_free(&tok->cache);
    tok_cache_init(&tok->cache, max_words);
    return TRIL_OK;
}

/* ---- encode ---------------------------------------------------------------- */

typedef struct {
    tril_tokenizer *tok;
    int32_t *ids;
    size_t n, cap;
} encoding;

static tril_status on_piece(void *ctx, const uint8_t *piece, size_t len)
{
    encoding *e = ctx;
    tril_tokenizer *t = e->tok;
    if (len > e->cap - e->n) { /* BPE gives at most one id per byte */
        size_t cap = e->cap * 2 > e->n + len ? e->cap * 2 : e->n + len;
        int32_t *p = cap > SIZE_MAX / sizeof *p ? NULL : realloc(e->ids, cap * sizeof *p);
        if (!p) return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory for %zu token ids", cap);
        e->ids = p;
        e->cap = cap;
    }
    int32_t *out = e->ids + e->n;
    if (len == 1) {
        *out = t->vocab.byte_id[piece[0]];
        e->n++;
        return TRIL_OK;
    }
    const int cache = t->cache.max_entries > 0 && len <= TOK_CACHE_MAX_PIECE;
    uint64_t hash = 0;
    if (cache) {
        hash = tok_hash_bytes(piece, len);
        size_t k;
        const int32_t *hit = tok_cache_get(&t->cache, hash, piece, len, &k);
        if (hit) {
            memcpy(out, hit, k * sizeof *out);
            e->n += k;
            return TRIL_OK;
        }
    }
    const long k = tok_bpe(&t->vocab, &t->merges, &t->work, piece, len, out, TOK_BPE_AUTO);
    if (k < 0)
        return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot run BPE on a piece of %zu bytes (out of memory)",
                         len);
    if (cache) tok_cache_put(&t->cache, hash, piece, len, out, (size_t)k);
    e->n += (size_t)k;
    return TRIL_OK;
}

tril_status tril_tokenizer_encode(tril_tokenizer *tok, const char *text, size_t len,
                                  int32_t **ids, size_t *count)
{
    if (!ids || !count) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "ids or count is NULL");
    *ids = NULL;
    *count = 0;
    if (!tok) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "tokenizer is NULL");
    if (!text && len) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "text is NULL");
    if (len == 0) return TRIL_OK;
    const uint8_t *s = (const uint8_t *)text;
    encoding e = {tok, NULL, 0, 0};
    if (tok->kind == TRIL_TOKENIZER_BYTES) {
        e.ids = len > SIZE_MAX / sizeof *e.ids ? NULL : malloc(len * sizeof *e.ids);
        if (!e.ids) return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory for %zu token ids", len);
        for (size_t i = 0; i < len; i++) e.ids[i] = s[i];
        e.n = len;
    } else {
        e.cap = len / 3 + 16;
        e.ids = malloc(e.cap * sizeof *e.ids);
        if (!e.ids) return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory for %zu token ids", e.cap);
        tril_status st = tok_pretok_run(&tok->pretok, s, len, on_piece, &e);
        if (st != TRIL_OK) {
            free(e.ids);
            return st;
        }
        int32_t *shrunk = realloc(e.ids, e.n * sizeof *e.ids);
        if (shrunk) e.ids = shrunk;
    }
    *ids = e.ids;
    *count = e.n;
    return TRIL_OK;
}

/* ---- decode ---------------------------------------------------------------- */

tril_status tril_tokenizer_decode(const tril_tokenizer *tok, const int32_t *ids, size_t count,
                                  char **text, size_t *len)
{
    if (!text || !len) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "text or len is NULL");
    *text = NULL;
    *len = 0;
    if (!tok) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "tokenizer is NULL");
    if (!ids && count) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "ids is NULL");
    const tok_vocab *v = &tok->vocab;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] >= v->n)
            return TRIL_FAIL(TRIL_ERR_RANGE,
                             "token id %d at position %zu is outside the vocabulary [0, %d)",
                             (int)ids[i], i, (int)v->n);
        total += tok_vocab_len(v, ids[i]);
    }
    char *out = malloc(total + 1);
    if (!out) return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory for %zu bytes of text", total);
    char *p = out;
    for (size_t i = 0; i < count; i++) {
        const size_t k = tok_vocab_len(v, ids[i]);
        memcpy(p, v->bytes + v->off[ids[i]], k);
        p += k;
    }
    *p = '\0';
    *text = out;
    *len = total;
    return TRIL_OK;
}

tril_status tril_tokenizer_token_bytes(const tril_tokenizer *tok, int32_t id, const char **bytes,
                                       size_t *len)
{
    if (!tok || !bytes || !len)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "tokenizer, bytes or len is NULL");
    if (id < 0 || id >= tok->vocab.n)
        return TRIL_FAIL(TRIL_ERR_RANGE, "token id %d is outside the vocabulary [0, %d)", (int)id,
                         (int)tok->vocab.n);
    *bytes = (const char *)tok->vocab.bytes + tok->vocab.off[id];
    *len = tok_vocab_len(&tok->vocab, id);
    return TRIL_OK;
}

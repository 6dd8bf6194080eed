/* The vocabulary: token id <-> the bytes it stands for. Built from the
 * (string, id) entries of vocab.json or tokenizer.json, checked on the way:
 * ids must be integers that number the tokens 0..n-1 exactly once, every
 * string must be in the byte-level alphabet, no two entries may be the same
 * token, and each of the 256 single bytes must have a token (so any text can
 * be encoded). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* Shortens keys quoted in messages. */
#define KEY_SHOWN(k, len) (int)((len) < 48 ? (len) : 48), (k)

static uint32_t slot_of(const tok_vocab *v, const uint8_t *s, size_t n)
{
    return (uint32_t)tok_hash_bytes(s, n) & v->mask;
}

int32_t tok_vocab_find(const tok_vocab *v, const uint8_t *s, size_t n)
{
    for (uint32_t i = slot_of(v, s, n);; i = (i + 1) & v->mask) {
        const uint32_t slot = v->slots[i];
        if (slot == 0) return -1;
        const int32_t id = (int32_t)(slot - 1);
        if (tok_vocab_len(v, id) == n && memcmp(v->bytes + v->off[id], s, n) == 0) return id;
    }
}

void tok_vocab_free(tok_vocab *v)
{
    free(v->off);
    free(v->bytes);
    free(v->slots);
    memset(v, 0, sizeof *v);
    v->eot = -1;
}

/* Every byte needs a token. Checked first, on the strings alone: a vocabulary
 * that lacks a byte's token usually has a gap in its ids too, and the gap
 * would otherwise be blamed on the token with the highest id (in GPT-2's,
 * <|endoftext|>) rather than on the missing byte. */
static tril_status check_bytes_covered(const tok_vocab_entry *e, size_t n, const char *src)
{
    uint8_t seen[256] = {0};
    for (size_t i = 0; i < n; i++) {
        /* A byte's character is one or two bytes of UTF-8. */
        uint8_t b[2];
        if (e[i].key_len >= 1 && e[i].key_len <= 2 &&
            tok_unicode_to_bytes(e[i].key, e[i].key_len, b) == 1)
            seen[b[0]] = 1;
    }
    for (int b = 0; b < 256; b++)
        if (!seen[b])
            return TRIL_FAIL(TRIL_ERR_FORMAT,
                             "%s: no token for byte 0x%02X (\"\\u%04X\" in the byte-level "
                             "alphabet); every byte needs one",
                             src, b, (unsigned)tok_byte_to_cp((uint8_t)b));
    return TRIL_OK;
}

/* Checks every id; fills entry_of[id] = index of its entry. */
static tril_status check_ids(const tok_vocab_entry *e, size_t n, const char *src,
                             size_t *entry_of)
{
    for (size_t id = 0; id < n; id++) entry_of[id] = SIZE_MAX;
    size_t outside = SIZE_MAX; /* the first entry whose id is outside [0, n) */
    for (size_t i = 0; i < n; i++) {
        if (!e[i].is_number)
            return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: entry %zu (\"%.*s\"): the id is not a number",
                             src, i, KEY_SHOWN(e[i].key, e[i].key_len));
        const double d = e[i].id;
        if (!(d >= 0.0 && d < (double)n)) {
            if (outside == SIZE_MAX) outside = i;
            continue;
        }
        const size_t id = (size_t)d;
        if ((double)id != d)
            return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: entry %zu (\"%.*s\"): id %g is not an integer",
                             src, i, KEY_SHOWN(e[i].key, e[i].key_len), d);
        if (entry_of[id] != SIZE_MAX) {
            const tok_vocab_entry *f = &e[entry_of[id]];
            return TRIL_FAIL(TRIL_ERR_FORMAT,
                             "%s: entry %zu (\"%.*s\"): id %zu is already used by \"%.*s\"", src,
                             i, KEY_SHOWN(e[i].key, e[i].key_len), id,
                             KEY_SHOWN(f->key, f->key_len));
        }
        entry_of[id] = i;
    }
    if (outside != SIZE_MAX) {
        /* n entries with one id outside [0, n): some id below n has no token;
         * name it, since that is usually what is wrong. */
        size_t gap = 0;
        while (gap < n && entry_of[gap] != SIZE_MAX) gap++;
        return TRIL_FAIL(TRIL_ERR_FORMAT,
                         "%s: entry %zu (\"%.*s\"): id %g is outside [0, %zu) (ids must "
                         "number the %zu tokens; id %zu has no token)",
                         src, outside, KEY_SHOWN(e[outside].key, e[outside].key_len),
                         e[outside].id, n, n, gap);
    }
    return TRIL_OK;
}

/* Token bytes in id order. */
static tril_status fill_bytes(tok_vocab *v, const tok_vocab_entry *e, const size_t *entry_of,
                              const char *src)
{
    size_t total = 0;
    for (int32_t id = 0; id < v->n; id++) total += e[entry_of[id]].key_len;
    if (total >= UINT32_MAX)
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: the tokens are too long in total (%zu bytes)", src,
                         total);
    v->off = malloc(((size_t)v->n + 1) * sizeof *v->off);
    v->bytes = malloc(total ? total : 1);
    if (!v->off || !v->bytes)
        return TRIL_FAIL(TRIL_ERR_NOMEM, "%s: out of memory for %d tokens", src, v->n);
    uint32_t at = 0;
    for (int32_t id = 0; id < v->n; id++) {
        const tok_vocab_entry *t = &e[entry_of[id]];
        v->off[id] = at;
        if (t->key_len == 0)
            return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: entry %zu: the token string is empty", src,
                             entry_of[id]);
        long k = tok_unicode_to_bytes(t->key, t->key_len, v->bytes + at);
        if (k < 0)
            return TRIL_FAIL(TRIL_ERR_FORMAT,
                             "%s: entry %zu (\"%.*s\"): not a byte-level token (a character "
                             "outside GPT-2's bytes_to_unicode alphabet)",
                             src, entry_of[id], KEY_SHOWN(t->key, t->key_len));
        at += (uint32_t)k;
    }
    v->off[v->n] = at;
    return TRIL_OK;
}

static tril_status fill_map(tok_vocab *v, const tok_vocab_entry *e, const size_t *entry_of,
                            const char *src)
{
    const uint32_t cap = tok_pow2_at_least((size_t)v->n * 2);
    v->slots = calloc(cap, sizeof *v->slots);
    if (!v->slots) return TRIL_FAIL(TRIL_ERR_NOMEM, "%s: out of memory for the token map", src);
    v->mask = cap - 1;
    for (int32_t id = 0; id < v->n; id++) {
        const uint8_t *s = v->bytes + v->off[id];
        const size_t len = tok_vocab_len(v, id);
        uint32_t i = slot_of(v, s, len);
        for (; v->slots[i] != 0; i = (i + 1) & v->mask) {
            const int32_t other = (int32_t)(v->slots[i] - 1);
            if (tok_vocab_len(v, other) == len && memcmp(v->bytes + v->off[other], s, len) == 0) {
                const tok_vocab_entry *t = &e[entry_of[id]];
                return TRIL_FAIL(TRIL_ERR_FORMAT,
                                 "%s: entry %zu (\"%.*s\"): the same token as entry %zu (ids %d "
                                 "and %d)",
                                 src, entry_of[id], KEY_SHOWN(t->key, t->key_len),
                                 entry_of[other], other, id);
            }
        }
        v->slots[i] = (uint32_t)id + 1;
    }
    return TRIL_OK;
}

tril_status tok_vocab_build(tok_vocab *v, const tok_vocab_entry *entries, size_t n,
                            const char *src)
{
    memset(v, 0, sizeof *v);
    v->eot = -1;
    if (n == 0) return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: the vocabulary is empty", src);
    if (n >= INT32_MAX / 2)
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: too many tokens (%zu)", src, n);
    size_t *entry_of = malloc(n * sizeof *entry_of);
    if (!entry_of) return TRIL_FAIL(TRIL_ERR_NOMEM, "%s: out of memory for %zu tokens", src, n);
    v->n = (int32_t)n;
    tril_status st = check_bytes_covered(entries, n, src);
    if (st == TRIL_OK) st = check_ids(entries, n, src, entry_of);
    if (st == TRIL_OK) st = fill_bytes(v, entries, entry_of, src);
    if (st == TRIL_OK) st = fill_map(v, entries, entry_of, src);
    free(entry_of);
    for (int b = 0; st == TRIL_OK && b < 256; b++) {
        const uint8_t byte = (uint8_t)b;
        v->byte_id[b] = tok_vocab_find(v, &byte, 1);
        if (v->byte_id[b] < 0) {
            const uint32_t cp = tok_byte_to_cp(byte);
            st = TRIL_FAIL(TRIL_ERR_FORMAT,
                           "%s: no token for byte 0x%02X (\"\\u%04X\" in the byte-level alphabet); "
                           "every byte needs one",
                           src, b, (unsigned)cp);
        }
    }
    if (st != TRIL_OK) {
        tok_vocab_free(v);
        return st;
    }
    static const char eot[] = "<|endoftext|>";
    v->eot = tok_vocab_find(v, (const uint8_t *)eot, sizeof eot - 1);
    return TRIL_OK;
}

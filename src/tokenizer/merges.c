/* The merge rules: (left id, right id) -> (rank, merged id), an open-address
 * table keyed by the id pair. Rules are checked as they are added: both parts
 * and their concatenation must be tokens of the vocabulary (every symbol BPE
 * ever holds is then a token, so the result always has ids). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

static tril_status alloc_slots(tok_merges *m, uint32_t cap)
{
    m->slots = malloc((size_t)cap * sizeof *m->slots);
    if (!m->slots) return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory for %u merge slots", cap);
    for (uint32_t i = 0; i < cap; i++) m->slots[i].key = TOK_PAIR_EMPTY;
    m->mask = cap - 1;
    return TRIL_OK;
}

tril_status tok_merges_init(tok_merges *m, size_t expected)
{
    memset(m, 0, sizeof *m);
    if (expected > (1u << 29)) expected = 1u << 29;
    return alloc_slots(m, tok_pow2_at_least(expected * 2 < 16 ? 16 : expected * 2));
}

void tok_merges_free(tok_merges *m)
{
    free(m->slots);
    free(m->scratch);
    memset(m, 0, sizeof *m);
}

static tok_pair_slot *slot_for(tok_merges *m, uint64_t key)
{
    uint32_t i = (uint32_t)tok_hash_u64(key) & m->mask;
    while (m->slots[i].key != key && m->slots[i].key != TOK_PAIR_EMPTY) i = (i + 1) & m->mask;
    return &m->slots[i];
}

static tril_status grow(tok_merges *m)
{
    tok_pair_slot *old = m->slots;
    const uint32_t old_cap = m->mask + 1;
    if (old_cap >= (1u << 30)) return TRIL_FAIL(TRIL_ERR_FORMAT, "too many merges");
    tril_status st = alloc_slots(m, old_cap * 2);
    if (st != TRIL_OK) {
        m->slots = old;
        return st;
    }
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i].key != TOK_PAIR_EMPTY) *slot_for(m, old[i].key) = old[i];
    free(old);
    return TRIL_OK;
}

/* Converts one part into scratch[at..]; returns its byte length or -1. */
static long part_bytes(tok_merges *m, const char *s, size_t n, size_t at)
{
    return tok_unicode_to_bytes(s, n, m->scratch + at);
}

tril_status tok_merges_add(tok_merges *m, const tok_vocab *v, const char *a, size_t alen,
                           const char *b, size_t blen, const char *src, const char *where)
{
    if (alen == 0 || blen == 0)
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: %s: a merge needs two non-empty tokens", src,
                         where);
    if (alen + blen > m->scratch_cap) {
        uint8_t *p = realloc(m->scratch, alen + blen);
        if (!p) return TRIL_FAIL(TRIL_ERR_NOMEM, "%s: %s: out of memory", src, where);
        m->scratch = p;
        m->scratch_cap = alen + blen;
    }
    const long ka = part_bytes(m, a, alen, 0);
    const long kb = ka < 0 ? -1 : part_bytes(m, b, blen, (size_t)ka);
    if (ka < 0 || kb < 0)
        return TRIL_FAIL(TRIL_ERR_FORMAT,
                         "%s: %s: merge \"%.*s %.*s\" has a character outside GPT-2's "
                         "byte-level alphabet",
                         src, where, (int)alen, a, (int)blen, b);
    const int32_t ia = tok_vocab_find(v, m->scratch, (size_t)ka);
    const int32_t ib = tok_vocab_find(v, m->scratch + ka, (size_t)kb);
    if (ia < 0 || ib < 0)
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: %s: merge \"%.*s %.*s\": \"%.*s\" is not a token",
                         src, where, (int)alen, a, (int)blen, b, ia < 0 ? (int)alen : (int)blen,
                         ia < 0 ? a : b);
    const int32_t im = tok_vocab_find(v, m->scratch, (size_t)(ka + kb));
    if (im < 0)
        return TRIL_FAIL(TRIL_ERR_FORMAT,
                         "%s: %s: merge \"%.*s %.*s\": the merged token \"%.*s%.*s\" is not in "
                         "the vocabulary",
                         src, where, (int)alen, a, (int)blen, b, (int)alen, a, (int)blen, b);
    if (m->next_rank == INT32_MAX)
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: %s: too many merges", src, where);
    if ((size_t)(m->count + 1) * 2 > (size_t)m->mask + 1) {
        tril_status st = grow(m);
        if (st != TRIL_OK) return st;
    }
    const uint64_t key = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
    tok_pair_slot *s = slot_for(m, key);
    if (s->key == TOK_PAIR_EMPTY) m->count++;
    s->key = key;
    s->rank = m->next_rank++;
    s->merged = im;
    return TRIL_OK;
}

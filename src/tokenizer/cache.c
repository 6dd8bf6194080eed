/* A bounded cache of BPE results: piece bytes -> ids, so a word seen before
 * costs one hash lookup. Open addressing over an entry array, with the keys
 * and ids in two arenas. When any part is full the whole cache is emptied
 * and refilled (cheap, and bounds memory at a few MB for the default size). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

void tok_cache_init(tok_cache *c, size_t max_entries)
{
    memset(c, 0, sizeof *c);
    if (max_entries > (1u << 24)) max_entries = 1u << 24;
    c->max_entries = max_entries;
}

void tok_cache_free(tok_cache *c)
{
    free(c->slots);
    free(c->entries);
    free(c->keys);
    free(c->ids);
    tok_cache_init(c, c->max_entries);
}

void tok_cache_clear(tok_cache *c)
{
    if (c->slots) memset(c->slots, 0, ((size_t)c->mask + 1) * sizeof *c->slots);
    c->count = 0;
    c->keys_len = c->ids_len = 0;
}

/* Allocates the tables on first use; 0 if they are there. */
static int ensure(tok_cache *c)
{
    if (c->slots) return 0;
    const uint32_t cap = tok_pow2_at_least(c->max_entries * 2);
    c->keys_cap = c->max_entries * 16;
    c->ids_cap = c->max_entries * 6;
    c->slots = calloc(cap, sizeof *c->slots);
    c->entries = malloc(c->max_entries * sizeof *c->entries);
    c->keys = malloc(c->keys_cap);
    c->ids = malloc(c->ids_cap * sizeof *c->ids);
    if (!c->slots || !c->entries || !c->keys || !c->ids) {
        free(c->slots);
        free(c->entries);
        free(c->keys);
        free(c->ids);
        c->slots = NULL;
        c->entries = NULL;
        c->keys = NULL;
        c->ids = NULL;
        return -1;
    }
    c->mask = cap - 1;
    c->count = 0;
    c->keys_len = c->ids_len = 0;
    return 0;
}

const int32_t *tok_cache_get(const tok_cache *c, uint64_t hash, const uint8_t *piece, size_t len,
                             size_t *n)
{
    if (!c->slots) return NULL;
    for (uint32_t i = (uint32_t)hash & c->mask;; i = (i + 1) & c->mask) {
        const uint32_t slot = c->slots[i];
        if (slot == 0) return NULL;
        const tok_cache_entry *e = &c->entries[slot - 1];
        if (e->hash == hash && e->key_len == len && memcmp(c->keys + e->key_off, piece, len) == 0) {
            *n = e->n_ids;
            return c->ids + e->ids_off;
        }
    }
}

/* Call only after tok_cache_get missed. */
void tok_cache_put(tok_cache *c, uint64_t hash, const uint8_t *piece, size_t len,
                   const int32_t *ids, size_t n)
{
    if (c->max_entries == 0 || len > TOK_CACHE_MAX_PIECE || n > len) return;
    if (ensure(c) < 0) return;
    if (c->count == c->max_entries || c->keys_len + len > c->keys_cap ||
        c->ids_len + n > c->ids_cap)
        tok_cache_clear(c);
    if (len > c->keys_cap || n > c->ids_cap) return;
    uint32_t i = (uint32_t)hash & c->mask;
    while (c->slots[i] != 0) i = (i + 1) & c->mask;
    tok_cache_entry *e = &c->entries[c->count];
    e->hash = hash;
    e->key_off = (uint32_t)c->keys_len;
    e->key_len = (uint32_t)len;
    e->ids_off = (uint32_t)c->ids_len;
    e->n_ids = (uint32_t)n;
    memcpy(c->keys + c->keys_len, piece, len);
    memcpy(c->ids + c->ids_len, ids, n * sizeof *ids);
    c->keys_len += len;
    c->ids_len += n;
    c->slots[i] = ++c->count;
}

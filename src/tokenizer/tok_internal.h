/* Private to src/tokenizer: the tokenizer's parts and how they talk.
 *
 * Everything works on raw bytes. GPT-2's vocabulary stores each token as a
 * string of "byte-level" characters (every byte mapped to a printable code
 * point by bytes_to_unicode()); the loaders map those strings back to bytes
 * once, so encoding never goes through the Unicode alphabet at all: a piece
 * of text starts as one symbol per byte (the id of that byte's token) and
 * BPE merges adjacent ids. Same result as OpenAI's encoder.py, which merges
 * the mapped characters, because the mapping is a bijection. */
#ifndef TRIL_TOK_INTERNAL_H
#define TRIL_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tril/tokenizer.h"
#include "tokenizer/tok_hash.h"

/* ---- bytes_unicode.c: OpenAI's bytes_to_unicode() ---------------------- */

/* Code point that byte b stands for in vocabulary strings. */
uint32_t tok_byte_to_cp(uint8_t b);
/* Byte that code point cp stands for, or -1 if cp is not in the alphabet. */
int tok_cp_to_byte(uint32_t cp);
/* Maps a vocabulary string (UTF-8 of byte-level characters, n bytes) to the
 * raw bytes it stands for; out needs room for n bytes. Returns the number of
 * bytes written, or -1 if s is not valid UTF-8 or has a character outside
 * the alphabet. */
long tok_unicode_to_bytes(const char *s, size_t n, uint8_t *out);
/* Length of the longest prefix of s[0..n) that is valid UTF-8 (no overlong
 * forms, surrogates or code points above U+10FFFF). */
size_t tok_utf8_valid_prefix(const uint8_t *s, size_t n);

/* ---- vocab.c: id <-> bytes --------------------------------------------- */

typedef struct {
    int32_t n;          /* number of ids; ids are exactly 0..n-1 */
    uint32_t *off;      /* token i is bytes[off[i] .. off[i+1]) */
    uint8_t *bytes;
    uint32_t *slots;    /* hash of bytes -> id + 1 (0 = empty) */
    uint32_t mask;
    int32_t byte_id[256]; /* token of each single byte */
    int32_t eot;        /* "<|endoftext|>" or -1 */
} tok_vocab;

/* One vocabulary entry as a loader found it: key (UTF-8 byte-level string,
 * key_len bytes) and its value. */
typedef struct {
    const char *key;
    size_t key_len;
    double id;
    int is_number;
} tok_vocab_entry;

/* Validates and builds. src names the file in error messages. */
tril_status tok_vocab_build(tok_vocab *v, const tok_vocab_entry *entries, size_t n,
                            const char *src);
void tok_vocab_free(tok_vocab *v);
/* Id of the token with exactly these bytes, or -1. */
int32_t tok_vocab_find(const tok_vocab *v, const uint8_t *s, size_t n);

static inline size_t tok_vocab_len(const tok_vocab *v, int32_t id)
{
    return v->off[id + 1] - v->off[id];
}

/* ---- merges.c: (left id, right id) -> rank and merged id --------------- */

typedef struct {
    uint64_t key; /* (uint64_t)left << 32 | right; TOK_PAIR_EMPTY when free */
    int32_t rank;
    int32_t merged;
} tok_pair_slot;

#define TOK_PAIR_EMPTY UINT64_MAX

typedef struct {
    tok_pair_slot *slots;
    uint32_t mask;
    uint32_t count;
    int32_t next_rank;
    uint8_t *scratch;   /* byte conversion of merge parts while loading */
    size_t scratch_cap;
} tok_merges;

/* Room for about `expected` merges (more are allowed: the table grows). */
tril_status tok_merges_init(tok_merges *m, size_t expected);
void tok_merges_free(tok_merges *m);
/* Adds the next merge rule "a b" (byte-level strings). A pair seen before
 * takes the new rank (as dict(zip(merges, range(...))) in encoder.py).
 * Errors (TRIL_ERR_FORMAT) name src and where ("line 12"). */
tril_status tok_merges_add(tok_merges *m, const tok_vocab *v, const char *a, size_t alen,
                           const char *b, size_t blen, const char *src, const char *where);

static inline const tok_pair_slot *tok_merges_find(const tok_merges *m, int32_t a, int32_t b)
{
    const uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    uint32_t i = (uint32_t)tok_hash_u64(key) & m->mask;
    for (;;) {
        const tok_pair_slot *s = &m->slots[i];
        if (s->key == key) return s;
        if (s->key == TOK_PAIR_EMPTY) return NULL;
        i = (i + 1) & m->mask;
    }
}

/* ---- bpe.c: one piece -> ids ------------------------------------------- */

typedef struct {
    uint64_t *a;
    size_t n, cap;
} tok_u64_vec;

typedef struct {
    int32_t *sym;          /* symbol id at its start position; -1 once merged away */
    uint32_t *prev, *next; /* neighbouring symbols' positions; UINT32_MAX = none */
    size_t cap;            /* positions the arrays hold */
    tok_u64_vec heap, pending;
} tok_bpe_work;

typedef enum { TOK_BPE_AUTO = 0, TOK_BPE_SHORT, TOK_BPE_HEAP } tok_bpe_mode;

/* Appends the BPE ids of piece[0..len) (len >= 1) to out[0..], which has room
 * for len ids; returns how many were written (>= 1), or -1 when out of
 * memory. Both modes give the same result; AUTO picks by length. */
long tok_bpe(const tok_vocab *v, const tok_merges *m, tok_bpe_work *w, const uint8_t *piece,
             size_t len, int32_t *out, tok_bpe_mode mode);
void tok_bpe_work_free(tok_bpe_work *w);

/* ---- cache.c: piece bytes -> ids, bounded ------------------------------ */

typedef struct {
    uint64_t hash;
    uint32_t key_off, key_len, ids_off, n_ids;
} tok_cache_entry;

typedef struct {
    size_t max_entries;    /* 0 = disabled */
    uint32_t *slots;       /* entry index + 1; 0 = empty */
    uint32_t mask;
    tok_cache_entry *entries;
    uint32_t count;
    uint8_t *keys;
    size_t keys_len, keys_cap;
    int32_t *ids;
    size_t ids_len, ids_cap;
} tok_cache;

/* Pieces longer than this are not cached. */
#define TOK_CACHE_MAX_PIECE 64u
#define TOK_CACHE_DEFAULT_ENTRIES 32768u

void tok_cache_init(tok_cache *c, size_t max_entries); /* allocates lazily */
void tok_cache_free(tok_cache *c);
void tok_cache_clear(tok_cache *c);
/* The cached ids of the piece (and their number in *n), or NULL. */
const int32_t *tok_cache_get(const tok_cache *c, uint64_t hash, const uint8_t *piece, size_t len,
                             size_t *n);
/* Remembers ids for the piece; when full, starts over. Failing to allocate
 * only means nothing is cached. */
void tok_cache_put(tok_cache *c, uint64_t hash, const uint8_t *piece, size_t len,
                   const int32_t *ids, size_t n);

/* ---- pretokenize.c: GPT-2's regex over any bytes ------------------------ */

typedef struct {
    void *code;        /* pcre2_code_8 */
    void *match_data;  /* pcre2_match_data_8 */
    int jit;
    int ascii_fast;    /* use tok_ascii_piece first (default 1; tests turn it off) */
} tok_pretok;

/* Called once per piece, in order; pieces tile the input exactly. A non-OK
 * status stops the run and is returned. */
typedef tril_status (*tok_piece_fn)(void *ctx, const uint8_t *piece, size_t len);

/* pretokenize_ascii.c: end of the piece starting at p if ASCII alone decides
 * it, else 0 (then PCRE2 must). p < n. */
size_t tok_ascii_piece(const uint8_t *s, size_t n, size_t p);

tril_status tok_pretok_init(tok_pretok *p);
void tok_pretok_free(tok_pretok *p);
tril_status tok_pretok_run(tok_pretok *p, const uint8_t *text, size_t len, tok_piece_fn fn,
                           void *ctx);

/* ---- load.c / hf_json.c: files ----------------------------------------- */

struct cJSON;
/* A JSON object of token string -> id (vocab.json, tokenizer.json's
 * model.vocab) -> vocab. */
tril_status tok_vocab_from_json(const struct cJSON *obj, const char *src, tok_vocab *v);
/* vocab.json -> vocab. */
tril_status tok_load_vocab_json(const char *path, tok_vocab *v);
/* merges.txt -> merges (needs the vocab). */
tril_status tok_load_merges_txt(const char *path, const tok_vocab *v, tok_merges *m);
/* tokenizer.json -> vocab + merges. */
tril_status tok_load_hf_json(const char *path, tok_vocab *v, tok_merges *m);

/* ---- tokenizer.c -------------------------------------------------------- */

struct tril_tokenizer {
    tril_tokenizer_kind kind;
    tok_vocab vocab;
    tok_merges merges;
    tok_pretok pretok;
    tok_cache cache;
    tok_bpe_work work;
};

/* A GPT-2 tokenizer around loaded parts (takes them over, also on failure). */
tril_status tok_tokenizer_new_gpt2(tok_vocab *v, tok_merges *m, tril_tokenizer **out);

#endif

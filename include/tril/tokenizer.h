/* tril/tokenizer.h - GPT-2 byte-level BPE (and a plain byte tokenizer).
 *
 * GPT-2: text -> pre-tokenizer regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (Unicode classes, PCRE2) -> each piece's bytes mapped through the
 * byte-to-unicode table -> BPE merges by rank -> ids from the vocabulary.
 * Exact on any bytes: decode(encode(x)) == x for every byte string, invalid
 * UTF-8 included (such bytes are split off as their own pieces and encoded
 * byte by byte). "<|endoftext|>" in the text is ordinary text, not the
 * special token, as in OpenAI's encoder; the id 50256 is eot.
 *
 * Bytes: one token per byte (vocab 256), for small character-level models.
 *
 * A tokenizer handle caches BPE results for repeated words, so encode is not
 * thread-safe on one handle; decode is. */
#ifndef TRIL_TOKENIZER_H
#define TRIL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "tril/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tril_tokenizer tril_tokenizer;

typedef enum {
    TRIL_TOKENIZER_GPT2 = 0,
    TRIL_TOKENIZER_BYTES = 1
} tril_tokenizer_kind;

/* GPT-2 from vocab.json (token string -> id) and merges.txt ("#version"
 * line optional, then "a b" per line, rank = line order). Errors:
 * TRIL_ERR_IO for unreadable files, TRIL_ERR_FORMAT for malformed content
 * (message names the file and line/entry). */
tril_status tril_tokenizer_load_gpt2(const char *vocab_json_path, const char *merges_path,
                                     tril_tokenizer **out);
/* GPT-2 from a Hugging Face tokenizer.json (model.type "BPE", model.vocab,
 * model.merges as "a b" strings or [a, b] pairs). */
tril_status tril_tokenizer_load_hf_json(const char *tokenizer_json_path, tril_tokenizer **out);
/* From a model folder: vocab.json + merges.txt if both exist, else
 * tokenizer.json; TRIL_ERR_IO naming what is missing otherwise. */
tril_status tril_tokenizer_load_dir(const char *dir, tril_tokenizer **out);
/* The byte tokenizer (ids 0..255 = bytes; no eot). */
tril_status tril_tokenizer_create_bytes(tril_tokenizer **out);
void tril_tokenizer_free(tril_tokenizer *tok);

tril_tokenizer_kind tril_tokenizer_get_kind(const tril_tokenizer *tok);
/* Number of ids (50257 for GPT-2, 256 for bytes). */
int64_t tril_tokenizer_vocab_size(const tril_tokenizer *tok);
/* Id of <|endoftext|>, or -1 if the tokenizer has none. */
int32_t tril_tokenizer_eot(const tril_tokenizer *tok);

/* Encodes `len` bytes of `text` (any bytes). *ids is malloc'd (caller frees;
 * NULL when *count is 0). */
tril_status tril_tokenizer_encode(tril_tokenizer *tok, const char *text, size_t len,
                                  int32_t **ids, size_t *count);
/* Decodes ids to bytes; *text is malloc'd and NUL-terminated (caller frees),
 * *len excludes the NUL. An id outside [0, vocab) is TRIL_ERR_RANGE naming
 * the id and its position. */
tril_status tril_tokenizer_decode(const tril_tokenizer *tok, const int32_t *ids, size_t count,
                                  char **text, size_t *len);
/* The bytes one token stands for (not NUL-terminated; owned by the
 * tokenizer). For streaming output and axis labels. */
tril_status tril_tokenizer_token_bytes(const tril_tokenizer *tok, int32_t id, const char **bytes,
                                       size_t *len);
/* Sets how many distinct pieces (words) the encode cache keeps: default
 * 32768, 0 turns it off. Empties the cache. Ids never depend on it. */
tril_status tril_tokenizer_set_cache_size(tril_tokenizer *tok, size_t max_words);

#ifdef __cplusplus
}
#endif
#endif

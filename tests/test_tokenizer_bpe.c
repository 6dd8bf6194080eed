/* The two BPE implementations (src/tokenizer/bpe.c: the plain loop for short
 * pieces, the heap for long ones) give the same ids, on GPT-2's merges and on
 * random merge tables whose ranks are deliberately inconsistent (a merge of
 * a merged token ranked before the merge that makes it), where only a
 * faithful copy of encoder.py's "merge every occurrence, then look again"
 * passes agrees. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_tokenizer_util.h"
#include "test_util.h"
#include "tokenizer/tok_internal.h"

static void expect_same(tril_tokenizer *tok, const uint8_t *piece, size_t n)
{
    int32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    const long na = tok_bpe(&tok->vocab, &tok->merges, &tok->work, piece, n, a, TOK_BPE_SHORT);
    const long nb = tok_bpe(&tok->vocab, &tok->merges, &tok->work, piece, n, b, TOK_BPE_HEAP);
    assert_true(na >= 1);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, (size_t)na * sizeof *a);
    free(a);
    free(b);
}

static void test_gpt2_pieces(void **state)
{
    tril_tokenizer *tok = tt_gpt2();
    test_rng r = {99};
    uint8_t buf[400];
    static const char alpha[] = "etaoinshrdlucmfwypvbgkjqxz ETAOIN'";
    for (int i = 0; i < 3000; i++) {
        const size_t n = (size_t)test_rng_int(&r, 1, 300);
        const int bytes = i % 4 == 0;
        for (size_t k = 0; k < n; k++)
            buf[k] = bytes ? (uint8_t)test_rng_int(&r, 0, 255)
                           : (uint8_t)alpha[test_rng_int(&r, 0, sizeof alpha - 2)];
        expect_same(tok, buf, n);
    }
    const char *words[] = {"Hello", " antidisestablishmentarianism", "aaaaaaaaaaaaaaaaaaaaaaaa",
                           " the", "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        expect_same(tok, (const uint8_t *)words[i], strlen(words[i]));
    tril_tokenizer_free(tok);
}

/* Writes vocab.json (256 byte tokens + extra) and merges.txt into dir. */
static void write_tables(const char *dir, char **extra, int n_extra, char **merges, int n_merges)
{
    cJSON *v = cJSON_CreateObject();
    for (int b = 0; b < 256; b++) {
        char key[8] = {0};
        uint32_t cp = tok_byte_to_cp((uint8_t)b);
        if (cp < 0x80) key[0] = (char)cp;
        else key[0] = (char)(0xC0 | cp >> 6), key[1] = (char)(0x80 | (cp & 63));
        cJSON_AddNumberToObject(v, key, b);
    }
    for (int i = 0; i < n_extra; i++) cJSON_AddNumberToObject(v, extra[i], 256 + i);
    char *json = cJSON_PrintUnformatted(v);
    tt_write(tt_path(dir, "vocab.json"), json, strlen(json));
    free(json);
    cJSON_Delete(v);
    size_t cap = 64;
    for (int i = 0; i < n_merges; i++) cap += strlen(merges[i]) + 1;
    char *text = malloc(cap), *p = text;
    p += sprintf(p, "#version: 0.2\n");
    for (int i = 0; i < n_merges; i++) p += sprintf(p, "%s\n", merges[i]);
    tt_write(tt_path(dir, "merges.txt"), text, (size_t)(p - text));
    free(text);
}

static tril_tokenizer *load_tables(const char *dir)
{
    tril_tokenizer *tok = NULL;
    char vocab[4096];
    snprintf(vocab, sizeof vocab, "%s", tt_path(dir, "vocab.json"));
    if (tril_tokenizer_load_gpt2(vocab, tt_path(dir, "merges.txt"), &tok) != TRIL_OK) {
        fprintf(stderr, "%s\n", tril_last_error());
        fail();
    }
    return tok;
}

/* "abab" with merges ["ab a", "a b"]: encoder.py merges both "a b" first
 * (ab, ab); merging one at a time would make "aba" + "b". */
static void test_pass_semantics(void **state)
{
    char *dir = tt_mkdtemp();
    char *extra[] = {"ab", "aba"}, *merges[] = {"ab a", "a b"};
    write_tables(dir, extra, 2, merges, 2);
    tril_tokenizer *tok = load_tables(dir);
    int32_t *ids;
    size_t n;
    assert_int_equal(tril_tokenizer_encode(tok, "abab", 4, &ids, &n), TRIL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 256);
    assert_int_equal(ids[1], 256);
    free(ids);
    expect_same(tok, (const uint8_t *)"abab", 4);
    expect_same(tok, (const uint8_t *)"ababababaabab", 13);
    tril_tokenizer_free(tok);
    tt_rmdir(dir);
}

/* Random merge tables over "abcd": tokens grown by random merges, then the
 * merge list shuffled so ranks contradict the order tokens were made in. */
static void test_random_tables(void **state)
{
    test_rng r = {4242};
    for (int table = 0; table < 40; table++) {
        enum { MAX = 120 };
        char *tokens[MAX + 4], *merges[MAX];
        int n_tok = 4, n_merge = 0;
        for (int i = 0; i < 4; i++) tokens[i] = strdup((char[]){(char)('a' + i), 0});
        char *extra[MAX];
        int n_extra = 0;
        while (n_merge < MAX) {
            const char *x = tokens[test_rng_int(&r, 0, n_tok - 1)];
            const char *y = tokens[test_rng_int(&r, 0, n_tok - 1)];
            if (strlen(x) + strlen(y) > 12) continue;
            char joined[32], line[40];
            snprintf(joined, sizeof joined, "%s%s", x, y);
            snprintf(line, sizeof line, "%s %s", x, y);
            int seen = 0;
            for (int i = 0; i < n_merge; i++) seen |= strcmp(merges[i], line) == 0;
            if (seen) continue;
            merges[n_merge++] = strdup(line);
            int have = 0;
            for (int i = 0; i < n_tok; i++) have |= strcmp(tokens[i], joined) == 0;
            if (!have) tokens[n_tok++] = extra[n_extra++] = strdup(joined);
        }
        for (int i = n_merge - 1; i > 0 && table % 4 != 0; i--) { /* table 0, 4..: in order */
            const int j = (int)test_rng_int(&r, 0, i);
            char *t = merges[i];
            merges[i] = merges[j];
            merges[j] = t;
        }
        char *dir = tt_mkdtemp();
        write_tables(dir, extra, n_extra, merges, n_merge);
        tril_tokenizer *tok = load_tables(dir);
        uint8_t buf[200];
        for (int i = 0; i < 200; i++) {
            const size_t n = (size_t)test_rng_int(&r, 1, sizeof buf);
            for (size_t k = 0; k < n; k++) buf[k] = (uint8_t)('a' + test_rng_int(&r, 0, 3));
            expect_same(tok, buf, n);
        }
        tril_tokenizer_free(tok);
        tt_rmdir(dir);
        for (int i = 0; i < 4; i++) free(tokens[i]);
        for (int i = 0; i < n_extra; i++) free(extra[i]);
        for (int i = 0; i < n_merge; i++) free(merges[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2_pieces),
        cmocka_unit_test(test_pass_semantics),
        cmocka_unit_test(test_random_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

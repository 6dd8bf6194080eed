/* GPT-2 byte-level BPE against an independent implementation, and its
 * properties.
 *
 * Reference ids come from tests/fixtures/tokenizer/gpt2_cases.json, written
 * by make_fixture.js with the npm package gpt-3-encoder (a JavaScript port of
 * OpenAI's encoder.py): a multi-script corpus, 400 random strings built from
 * fragments that stress the pre-tokenizer, and the token count of
 * data/tinyshakespeare.txt. Then: decode(encode(x)) == x on the fixture and
 * on thousands of random byte strings (invalid UTF-8 and NULs included) and
 * random UTF-8 text; how invalid bytes are cut; the White_Space characters
 * where JavaScript and Python differ (ids from OpenAI's encoder.py);
 * the cache never changes ids; token_bytes; the byte tokenizer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_tokenizer_util.h"
#include "test_util.h"

static tril_tokenizer *gpt2;

static int setup(void **state)
{
    gpt2 = tt_gpt2();
    return 0;
}

static int teardown(void **state)
{
    tril_tokenizer_free(gpt2);
    return 0;
}

/* Encodes and checks the ids equal want[0..n). */
static void expect_ids(tril_tokenizer *tok, const char *text, size_t len, const int32_t *want,
                       size_t n)
{
    int32_t *ids;
    size_t count;
    assert_int_equal(tril_tokenizer_encode(tok, text, len, &ids, &count), TRIL_OK);
    if (count != n || memcmp(ids, want, n * sizeof *ids) != 0) {
        fprintf(stderr, "ids differ for \"%.*s\": got", (int)len, text);
        for (size_t i = 0; i < count; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, ", want");
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", want[i]);
        fprintf(stderr, "\n");
        fail();
    }
    free(ids);
}

/* decode(encode(text)) == text byte for byte; returns the token count. */
static size_t round_trip(tril_tokenizer *tok, const char *text, size_t len)
{
    int32_t *ids;
    size_t count, back_len;
    char *back;
    assert_int_equal(tril_tokenizer_encode(tok, text, len, &ids, &count), TRIL_OK);
    assert_true(count <= len);
    assert_true(count > 0 || ids == NULL);
    assert_int_equal(tril_tokenizer_decode(tok, ids, count, &back, &back_len), TRIL_OK);
    assert_int_equal(back_len, len);
    assert_memory_equal(back, text, len);
    assert_int_equal(back[len], '\0');
    free(ids);
    free(back);
    return count;
}

static void test_known_ids(void **state)
{
    const int32_t hello[] = {15496, 11, 995, 0}, dog[] = {464, 3290};
    expect_ids(gpt2, "Hello, world!", 13, hello, 4);
    expect_ids(gpt2, "The dog", 7, dog, 2);
    assert_int_equal(tril_tokenizer_vocab_size(gpt2), 50257);
    assert_int_equal(tril_tokenizer_eot(gpt2), 50256);
    assert_int_equal(tril_tokenizer_get_kind(gpt2), TRIL_TOKENIZER_GPT2);
    int32_t *ids = (int32_t *)1;
    size_t count = 7;
    assert_int_equal(tril_tokenizer_encode(gpt2, "", 0, &ids, &count), TRIL_OK);
    assert_null(ids);
    assert_int_equal(count, 0);
    char *text;
    size_t len;
    assert_int_equal(tril_tokenizer_decode(gpt2, NULL, 0, &text, &len), TRIL_OK);
    assert_int_equal(len, 0);
    assert_string_equal(text, "");
    free(text);
}

static void test_fixture(void **state)
{
    cJSON *root = tt_fixture();
    const cJSON *cases = cJSON_GetObjectItem(root, "cases");
    assert_true(cJSON_GetArraySize(cases) >= 400);
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        const cJSON *jids = cJSON_GetObjectItem(c, "ids");
        const size_t n = (size_t)cJSON_GetArraySize(jids);
        int32_t *want = malloc((n + 1) * sizeof *want);
        size_t i = 0;
        const cJSON *id;
        cJSON_ArrayForEach(id, jids) want[i++] = (int32_t)id->valueint;
        expect_ids(gpt2, text, strlen(text), want, n);
        round_trip(gpt2, text, strlen(text));
        free(want);
    }
    cJSON_Delete(root);
}

static void test_shakespeare(void **state)
{
    cJSON *root = tt_fixture();
    const double want = cJSON_GetObjectItem(root, "tinyshakespeare_tokens")->valuedouble;
    cJSON_Delete(root);
    size_t len;
    char *text = tt_read(SHAKESPEARE, &len);
    assert_int_equal(round_trip(gpt2, text, len), (size_t)want);
    free(text);
}

/* Random bytes, ASCII-heavy, with high bytes, NULs and broken sequences. */
static size_t random_bytes(test_rng *r, char *buf)
{
    const size_t n = (size_t)test_rng_int(r, 0, 200);
    for (size_t i = 0; i < n; i++) {
        const int64_t kind = test_rng_int(r, 0, 9);
        buf[i] = kind < 5   ? (char)test_rng_int(r, 32, 126)
                 : kind < 6 ? "\t\n \r\v\f"[test_rng_int(r, 0, 5)]
                 : kind < 7 ? 0
                            : (char)test_rng_int(r, 0, 255);
    }
    return n;
}

static size_t put_utf8(char *p, uint32_t c)
{
    if (c < 0x80) return (size_t)(p[0] = (char)c, 1);
    if (c < 0x800) return (size_t)(p[0] = (char)(0xC0 | c >> 6), p[1] = (char)(0x80 | (c & 63)), 2);
    if (c < 0x10000) {
        p[0] = (char)(0xE0 | c >> 12);
        p[1] = (char)(0x80 | (c >> 6 & 63));
        p[2] = (char)(0x80 | (c & 63));
        return 3;
    }
    p[0] = (char)(0xF0 | c >> 18);
    p[1] = (char)(0x80 | (c >> 12 & 63));
    p[2] = (char)(0x80 | (c >> 6 & 63));
    p[3] = (char)(0x80 | (c & 63));
    return 4;
}

/* Random valid UTF-8 from a mix of scripts, spaces, marks and emoji. */
static size_t random_utf8(test_rng *r, char *buf)
{
    static const uint32_t ranges[][2] = {
        {0x20, 0x7E},     {0x20, 0x20},     {0x09, 0x0D},     {0xA0, 0x17F},
        {0x300, 0x36F},   {0x391, 0x3C9},   {0x410, 0x44F},   {0x5D0, 0x5EA},
        {0x620, 0x64A},   {0x660, 0x669},   {0x900, 0x97F},   {0x2000, 0x206F},
        {0x3000, 0x303F}, {0x4E00, 0x4FFF}, {0xAC00, 0xAD00}, {0x1F300, 0x1F64F},
        {0x1F1E6, 0x1F1FF}, {0x200D, 0x200D}, {0x85, 0x85},   {0x10000, 0x10FFFF}};
    const size_t chars = (size_t)test_rng_int(r, 0, 60);
    size_t n = 0;
    for (size_t i = 0; i < chars; i++) {
        const size_t k = (size_t)test_rng_int(r, 0, sizeof ranges / sizeof ranges[0] - 1);
        uint32_t c = (uint32_t)test_rng_int(r, ranges[k][0], ranges[k][1]);
        if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
        n += put_utf8(buf + n, c);
    }
    return n;
}

static void test_random_round_trip(void **state)
{
    test_rng r = {20240611};
    char buf[256];
    for (int i = 0; i < 3000; i++) {
        const size_t n = random_bytes(&r, buf);
        round_trip(gpt2, buf, n);
    }
    for (int i = 0; i < 2000; i++) {
        const size_t n = random_utf8(&r, buf);
        round_trip(gpt2, buf, n);
    }
    /* Long single pieces and long runs (the heap BPE path, regex limits). */
    const size_t big = 1 << 20;
    char *s = malloc(big);
    const char fills[] = {'a', ' ', '\n', '!', '7', '\0', (char)0xFF};
    for (size_t f = 0; f < sizeof fills; f++) {
        memset(s, fills[f], big);
        round_trip(gpt2, s, big);
    }
    for (size_t i = 0; i < big; i++) s[i] = "ab \n'\xC3\xA9"[test_rng_int(&r, 0, 6)];
    round_trip(gpt2, s, big);
    /* Long runs that only PCRE2 can cut: letters, U+3000, emoji, " é". */
    const char *units[] = {"\xc3\xa9", "\xe3\x80\x80", "\xf0\x9f\x98\x80", " \xc3\xa9"};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        const size_t k = strlen(units[u]);
        size_t n = 0;
        for (; n + k <= big; n += k) memcpy(s + n, units[u], k);
        round_trip(gpt2, s, n);
    }
    free(s);
}

/* Invalid bytes are pieces of their own; valid runs around them are cut as
 * if alone. NUL is an ordinary (punctuation) character. */
static void test_invalid_utf8(void **state)
{
    const int32_t abc_ff_def[] = {39305, 187 /* byte 0xFF */, 4299};
    expect_ids(gpt2, "abc\xff" "def", 7, abc_ff_def, 3);
    const int32_t nul[] = {64, 188, 65}, nuls[] = {188, 188, 220, 188};
    expect_ids(gpt2, "a\0b", 3, nul, 3);
    expect_ids(gpt2, "\0\0 \0", 4, nuls, 4);
    /* A truncated 3-byte sequence: two lone bytes, each its byte's token. */
    int32_t *ids;
    size_t count;
    assert_int_equal(tril_tokenizer_encode(gpt2, "\xe2\x82", 2, &ids, &count), TRIL_OK);
    assert_int_equal(count, 2);
    const char *b;
    size_t blen;
    assert_int_equal(tril_tokenizer_token_bytes(gpt2, ids[0], &b, &blen), TRIL_OK);
    assert_int_equal(blen, 1);
    assert_int_equal((unsigned char)b[0], 0xE2);
    free(ids);
    /* Surrogates and overlong forms are invalid too. */
    static const char bad[] = "\xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80 x";
    round_trip(gpt2, bad, sizeof bad - 1);
}

/* Python's \s (White_Space) has U+0085 and not U+FEFF or U+180E; JavaScript
 * and PCRE2 differ. Ids from OpenAI's encoder.py (regex 2026.5.9). */
static void test_white_space_class(void **state)
{
    const int32_t a[] = {64, 126, 227, 65}, b[] = {0, 126, 227, 2124};
    const int32_t c[] = {27332, 119, 123, 87}, d[] = {64, 1587, 227, 126, 227, 65};
    const int32_t e[] = {157, 254, 236, 2124}, f[] = {0, 157, 254, 236};
    const int32_t g[] = {220, 126, 227, 0};
    expect_ids(gpt2, "a\xc2\x85" "b", 4, a, 4);
    expect_ids(gpt2, "!\xc2\x85 x", 5, b, 4);
    expect_ids(gpt2, " \xef\xbb\xbfx", 5, c, 4);
    expect_ids(gpt2, "a \xc2\x85\xc2\x85" "b", 7, d, 6);
    expect_ids(gpt2, "\xe1\xa0\x8e x", 5, e, 4);
    expect_ids(gpt2, "!\xe1\xa0\x8e", 4, f, 4);
    expect_ids(gpt2, " \xc2\x85!", 4, g, 4);
}

static void encode_all(tril_tokenizer *tok, const cJSON *cases, int32_t **out, size_t *n)
{
    size_t total = 0, cap = 1 << 16;
    int32_t *all = malloc(cap * sizeof *all);
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        int32_t *ids;
        size_t count;
        assert_int_equal(tril_tokenizer_encode(tok, text, strlen(text), &ids, &count), TRIL_OK);
        assert_true(total + count <= cap);
        memcpy(all + total, ids, count * sizeof *ids);
        total += count;
        free(ids);
    }
    *out = all;
    *n = total;
}

static void test_cache(void **state)
{
    cJSON *root = tt_fixture();
    const cJSON *cases = cJSON_GetObjectItem(root, "cases");
    int32_t *first, *again;
    size_t n1, n2;
    encode_all(gpt2, cases, &first, &n1); /* warm cache */
    encode_all(gpt2, cases, &again, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(first, again, n1 * sizeof *first);
    free(again);
    const size_t sizes[] = {0, 1, 2, 7, 100000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        assert_int_equal(tril_tokenizer_set_cache_size(gpt2, sizes[s]), TRIL_OK);
        for (int rep = 0; rep < 2; rep++) {
            encode_all(gpt2, cases, &again, &n2);
            assert_int_equal(n1, n2);
            assert_memory_equal(first, again, n1 * sizeof *first);
            free(again);
        }
    }
    assert_int_equal(tril_tokenizer_set_cache_size(gpt2, 32768), TRIL_OK);
    free(first);
    cJSON_Delete(root);
}

static void test_token_bytes(void **state)
{
    const struct { int32_t id; const char *bytes; } want[] = {
        {15496, "Hello"}, {220, " "}, {198, "\n"}, {50256, "<|endoftext|>"}, {11, ","}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *b;
        size_t n;
        assert_int_equal(tril_tokenizer_token_bytes(gpt2, want[i].id, &b, &n), TRIL_OK);
        assert_int_equal(n, strlen(want[i].bytes));
        assert_memory_equal(b, want[i].bytes, n);
    }
    /* Every id: its bytes encode back to itself only if BPE reaches it, but
     * decoding single ids must always give exactly its bytes. */
    for (int32_t id = 0; id < 50257; id++) {
        const char *b;
        size_t n, len;
        char *text;
        assert_int_equal(tril_tokenizer_token_bytes(gpt2, id, &b, &n), TRIL_OK);
        assert_int_equal(tril_tokenizer_decode(gpt2, &id, 1, &text, &len), TRIL_OK);
        assert_int_equal(len, n);
        assert_memory_equal(text, b, n);
        free(text);
    }
}

static void test_byte_tokenizer(void **state)
{
    tril_tokenizer *tok = NULL;
    assert_int_equal(tril_tokenizer_create_bytes(&tok), TRIL_OK);
    assert_int_equal(tril_tokenizer_get_kind(tok), TRIL_TOKENIZER_BYTES);
    assert_int_equal(tril_tokenizer_vocab_size(tok), 256);
    assert_int_equal(tril_tokenizer_eot(tok), -1);
    test_rng r = {7};
    char buf[256];
    for (int i = 0; i < 500; i++) {
        const size_t n = random_bytes(&r, buf);
        assert_int_equal(round_trip(tok, buf, n), n);
        int32_t *ids;
        size_t count;
        assert_int_equal(tril_tokenizer_encode(tok, buf, n, &ids, &count), TRIL_OK);
        for (size_t k = 0; k < n; k++) assert_int_equal(ids[k], (unsigned char)buf[k]);
        free(ids);
    }
    const int32_t bad[] = {65, 256};
    char *text = (char *)1;
    size_t len;
    assert_int_equal(tril_tokenizer_decode(tok, bad, 2, &text, &len), TRIL_ERR_RANGE);
    assert_null(text);
    assert_non_null(strstr(tril_last_error(), "256"));
    const char *b;
    size_t n;
    assert_int_equal(tril_tokenizer_token_bytes(tok, 200, &b, &n), TRIL_OK);
    assert_int_equal(n, 1);
    assert_int_equal((unsigned char)b[0], 200);
    tril_tokenizer_free(tok);
}

static void test_load_dir(void **state)
{
    tril_tokenizer *tok = NULL;
    assert_int_equal(tril_tokenizer_load_dir(GPT2_DIR, &tok), TRIL_OK);
    const int32_t hello[] = {15496, 11, 995, 0};
    expect_ids(tok, "Hello, world!", 13, hello, 4);
    tril_tokenizer_free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_ids),        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_shakespeare),      cmocka_unit_test(test_random_round_trip),
        cmocka_unit_test(test_invalid_utf8),     cmocka_unit_test(test_white_space_class),
        cmocka_unit_test(test_cache),            cmocka_unit_test(test_token_bytes),
        cmocka_unit_test(test_byte_tokenizer),   cmocka_unit_test(test_load_dir),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

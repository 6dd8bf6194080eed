/* Every error path of the tokenizer: unreadable files (TRIL_ERR_IO naming the
 * path), malformed vocab.json and merges.txt (TRIL_ERR_FORMAT naming the file
 * and the entry or line), ids outside the vocabulary (TRIL_ERR_RANGE naming
 * the id and its position), bad arguments. Small vocabularies are written to
 * a temp dir: the 256 byte tokens (as \uXXXX escapes of bytes_to_unicode)
 * plus a few more. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_tokenizer_util.h"
#include "tokenizer/tok_internal.h"

static char *dir;

static int setup(void **state)
{
    dir = tt_mkdtemp();
    return 0;
}

static int teardown(void **state)
{
    tt_rmdir(dir);
    return 0;
}

/* Own buffers: tt_path's is shared, and argument order is unspecified. */
static const char *vocab_path(void)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    return p;
}

static const char *merges_path(void)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s/merges.txt", dir);
    return p;
}

/* vocab.json: byte tokens 0..255 except `skip_byte` (-1: none), numbered in
 * order, then `extra` (JSON members, starting with ", ") verbatim. */
static void write_vocab(int skip_byte, const char *extra)
{
    char *s = malloc(256 * 16 + strlen(extra) + 16), *p = s;
    *p++ = '{';
    int id = 0;
    for (int b = 0; b < 256; b++) {
        if (b == skip_byte) continue;
        p += sprintf(p, "%s\"\\u%04X\": %d", id ? ", " : "", (unsigned)tok_byte_to_cp((uint8_t)b),
                     id);
        id++;
    }
    p += sprintf(p, "%s}", extra);
    tt_write(vocab_path(), s, strlen(s));
    free(s);
}

static void write_merges(const char *text, size_t len)
{
    tt_write(merges_path(), text, len);
}

/* Loads dir's files; expects `want` and a message containing each of the
 * NULL-terminated strings. */
static void expect_load(tril_status want, const char *must, const char *must2)
{
    tril_tokenizer *tok = (tril_tokenizer *)1;
    tril_clear_error();
    const tril_status st = tril_tokenizer_load_gpt2(vocab_path(), merges_path(), &tok);
    if (getenv("TRIL_TEST_VERBOSE")) fprintf(stderr, "%s: %s\n", tril_status_name(st), tril_last_error());
    if (st != want || (must && !strstr(tril_last_error(), must)) ||
        (must2 && !strstr(tril_last_error(), must2))) {
        fprintf(stderr, "got %s: \"%s\"; want %s with \"%s\" and \"%s\"\n", tril_status_name(st),
                tril_last_error(), tril_status_name(want), must ? must : "",
                must2 ? must2 : "");
        fail();
    }
    if (want != TRIL_OK) assert_null(tok);
    tril_tokenizer_free(want == TRIL_OK ? tok : NULL);
}

static void test_vocab_format(void **state)
{
    static const char merges[] = "#version: 0.2\na b\n";
    write_merges(merges, sizeof merges - 1);
    static const struct {
        const char *text; /* whole file, or NULL to use `extra` */
        int skip;
        const char *extra, *must;
    } cases[] = {
        {"{\"a\": 1", -1, "", "not valid JSON"},
        {"[1, 2, 3]", -1, "", "not a JSON object"},
        {"{}", -1, "", "empty"},
        {NULL, -1, ", \"ab\": 256.5", "not an integer"},
        {NULL, -1, ", \"ab\": \"256\"", "not a number"},
        {NULL, -1, ", \"ab\": null", "not a number"},
        {NULL, -1, ", \"ab\": 255", "already used"},
        {NULL, -1, ", \"ab\": 300", "outside [0, 257)"},
        {NULL, -1, ", \"ab\": -1", "outside"},
        {NULL, 0x41, ", \"ab\": 255", "no token for byte 0x41"},
        /* a byte missing and the ids after it unchanged (GPT-2's vocab.json
         * less one byte): the byte is named, not the token with the last id */
        {NULL, 0x41, ", \"ab\": 256", "no token for byte 0x41"},
        /* a gap in the ids: the first id without a token is named */
        {NULL, -1, ", \"ab\": 257, \"abc\": 258", "id 256 has no token"},
        {NULL, -1, ", \"a b\": 256", "byte-level"},
        {NULL, -1, ", \"a\\u20ACb\": 256", "byte-level"},
        {NULL, -1, ", \"\": 256", "empty"},
        {NULL, -1, ", \"ab\": 256, \"ab\": 257", "same token"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].text)
            tt_write(vocab_path(), cases[i].text, strlen(cases[i].text));
        else
            write_vocab(cases[i].skip, cases[i].extra);
        expect_load(TRIL_ERR_FORMAT, cases[i].must, "vocab.json");
    }
    write_vocab(-1, ", \"ab\": 256"); /* and the valid one loads */
    expect_load(TRIL_OK, NULL, NULL);
}

static void test_merges_format(void **state)
{
    write_vocab(-1, ", \"ab\": 256, \"abc\": 257, \"\\u0120a\": 258");
    static const struct {
        const char *text;
        size_t len;
        const char *line, *must;
    } cases[] = {
        {"#version: 0.2\na b\nab\n", 0, "line 3", "one space"},
        {"#version: 0.2\na  b\n", 0, "line 2", "one space"},
        {" a\n", 0, "line 1", "one space"},
        {"a b\nab \n", 0, "line 2", "one space"},
        {"a b\nab c d\n", 0, "line 2", "one space"},
        {"a\tb\n", 0, "line 1", "one space"},
        {"a b\nb c\n", 0, "line 2", "\"bc\" is not in the vocabulary"},
        {"a b\nzz q\n", 0, "line 2", "\"zz\" is not"},
        {"a b\nab c\nab\xc4 c\n", 0, "line 3", "byte-level"},
        {"a\0 b\n", 5, "line 1", "byte-level"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_merges(cases[i].text, cases[i].len ? cases[i].len : strlen(cases[i].text));
        expect_load(TRIL_ERR_FORMAT, cases[i].line, cases[i].must);
        assert_non_null(strstr(tril_last_error(), "merges.txt"));
    }
    /* No merges at all: every byte would stay its own token. */
    static const char *const none[] = {"", "#version: 0.2\n", "\n\r\n\n"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        write_merges(none[i], strlen(none[i]));
        expect_load(TRIL_ERR_FORMAT, "merges.txt", "no merges");
    }
    /* Valid: no version line, CRLF, blank lines, no final newline. */
    static const char ok[] = "a b\r\n\r\nab c\r\n\xc4\xa0 a";
    write_merges(ok, sizeof ok - 1);
    tril_tokenizer *tok;
    assert_int_equal(tril_tokenizer_load_gpt2(vocab_path(), merges_path(), &tok),
                     TRIL_OK);
    int32_t *ids;
    size_t n;
    assert_int_equal(tril_tokenizer_encode(tok, "abc a", 5, &ids, &n), TRIL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 257);
    assert_int_equal(ids[1], 258);
    assert_int_equal(tril_tokenizer_vocab_size(tok), 259);
    assert_int_equal(tril_tokenizer_eot(tok), -1);
    free(ids);
    tril_tokenizer_free(tok);
}

static void test_io(void **state)
{
    tril_tokenizer *tok = (tril_tokenizer *)1;
    assert_int_equal(tril_tokenizer_load_gpt2("/nonexistent/tril/vocab.json", GPT2_MERGES, &tok),
                     TRIL_ERR_IO);
    assert_null(tok);
    assert_non_null(strstr(tril_last_error(), "/nonexistent/tril/vocab.json"));
    assert_int_equal(tril_tokenizer_load_gpt2(GPT2_VOCAB, "/nonexistent/tril/merges.txt", &tok),
                     TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), "/nonexistent/tril/merges.txt"));
    assert_int_equal(tril_tokenizer_load_gpt2(dir, GPT2_MERGES, &tok), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), dir));
    assert_int_equal(tril_tokenizer_load_hf_json("/nonexistent/tokenizer.json", &tok), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), "/nonexistent/tokenizer.json"));
    /* load_dir: nothing there, then only vocab.json. */
    char *empty = tt_mkdtemp();
    assert_int_equal(tril_tokenizer_load_dir(empty, &tok), TRIL_ERR_IO);
    assert_null(tok);
    const char *msg = tril_last_error();
    assert_non_null(strstr(msg, empty));
    assert_non_null(strstr(msg, "vocab.json"));
    assert_non_null(strstr(msg, "merges.txt"));
    assert_non_null(strstr(msg, "tokenizer.json"));
    tt_write(tt_path(empty, "vocab.json"), "{}", 2);
    assert_int_equal(tril_tokenizer_load_dir(empty, &tok), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), "missing: merges.txt"));
    /* merges.txt there but a directory: said so, not called missing */
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/merges.txt", empty);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(tril_tokenizer_load_dir(empty, &tok), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), "merges.txt' is a directory, not a regular file"));
    assert_int_equal(rmdir(sub), 0);
    tt_rmdir(empty);
}

static void test_range_and_args(void **state)
{
    tril_tokenizer *tok = tt_gpt2();
    const int32_t ids[] = {464, 3290, 50257}, neg[] = {-1};
    char *text = (char *)1;
    size_t len = 9;
    assert_int_equal(tril_tokenizer_decode(tok, ids, 3, &text, &len), TRIL_ERR_RANGE);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_non_null(strstr(tril_last_error(), "50257"));
    assert_non_null(strstr(tril_last_error(), "position 2"));
    assert_int_equal(tril_tokenizer_decode(tok, neg, 1, &text, &len), TRIL_ERR_RANGE);
    assert_non_null(strstr(tril_last_error(), "-1"));
    assert_non_null(strstr(tril_last_error(), "position 0"));
    const char *b;
    size_t n;
    assert_int_equal(tril_tokenizer_token_bytes(tok, 50257, &b, &n), TRIL_ERR_RANGE);
    assert_non_null(strstr(tril_last_error(), "50257"));
    assert_int_equal(tril_tokenizer_token_bytes(tok, -5, &b, &n), TRIL_ERR_RANGE);
    /* Bad arguments. */
    int32_t *out;
    size_t count;
    assert_int_equal(tril_tokenizer_encode(NULL, "a", 1, &out, &count), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_tokenizer_encode(tok, NULL, 1, &out, &count), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_tokenizer_encode(tok, "a", 1, NULL, &count), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_tokenizer_decode(tok, NULL, 2, &text, &len), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_tokenizer_decode(NULL, ids, 1, &text, &len), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_tokenizer_token_bytes(tok, 1, NULL, &n), TRIL_ERR_INVALID_ARG);
    tril_tokenizer *none = (tril_tokenizer *)1;
    assert_int_equal(tril_tokenizer_load_gpt2(NULL, GPT2_MERGES, &none), TRIL_ERR_INVALID_ARG);
    assert_null(none);
    assert_int_equal(tril_tokenizer_load_dir(NULL, &none), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_tokenizer_load_hf_json(GPT2_VOCAB, NULL), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_tokenizer_create_bytes(NULL), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_tokenizer_set_cache_size(NULL, 5), TRIL_ERR_INVALID_ARG);
    tril_tokenizer_free(NULL);
    tril_tokenizer_free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_format),
        cmocka_unit_test(test_merges_format),
        cmocka_unit_test(test_io),
        cmocka_unit_test(test_range_and_args),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

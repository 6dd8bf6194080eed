/* The pre-tokenizer: the ASCII fast path (src/tokenizer/pretokenize_ascii.c)
 * must cut exactly where PCRE2 alone cuts, above all where ASCII meets
 * non-ASCII (a letter run running on into "é", spaces before U+00A0, digits
 * before Arabic-Indic digits, an apostrophe before a non-ASCII letter). And
 * the pieces always tile the input, invalid bytes included. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_tokenizer_util.h"
#include "test_util.h"
#include "tokenizer/tok_internal.h"

typedef struct {
    const uint8_t *base;
    size_t ends[4096];
    size_t n, next;
} pieces;

static tril_status collect(void *ctx, const uint8_t *piece, size_t len)
{
    pieces *p = ctx;
    assert_ptr_equal(piece, p->base + p->next); /* contiguous, in order */
    assert_true(len > 0);
    p->next += len;
    assert_true(p->n < 4096);
    p->ends[p->n++] = p->next;
    return TRIL_OK;
}

static void cut(tok_pretok *pt, int fast, const char *s, size_t len, pieces *out)
{
    pt->ascii_fast = fast;
    out->base = (const uint8_t *)s;
    out->n = out->next = 0;
    assert_int_equal(tok_pretok_run(pt, (const uint8_t *)s, len, collect, out), TRIL_OK);
    assert_int_equal(out->next, len);
}

static void expect_same_cuts(tok_pretok *pt, const char *s, size_t len)
{
    static pieces a, b;
    cut(pt, 1, s, len, &a);
    cut(pt, 0, s, len, &b);
    if (a.n != b.n || memcmp(a.ends, b.ends, a.n * sizeof a.ends[0]) != 0) {
        fprintf(stderr, "cuts differ on \"%.*s\":\n fast ", (int)len, s);
        for (size_t i = 0; i < a.n; i++) fprintf(stderr, " %zu", a.ends[i]);
        fprintf(stderr, "\n regex");
        for (size_t i = 0; i < b.n; i++) fprintf(stderr, " %zu", b.ends[i]);
        fprintf(stderr, "\n");
        fail();
    }
}

static void test_fast_path_matches_regex(void **state)
{
    static const char *const pool[] = {
        "a", "Z", "xyz", "\xc3\xa9", "\xd0\xb6", "\xe4\xb8\xad", "1", "42", "\xd9\xa3",
        "\xc2\xbd", "\xe2\x85\xab", " ", " ", "  ", "\t", "\n", "\r\n", "\v", "\f",
        "\xc2\xa0", "\xe3\x80\x80", "\xe2\x80\xa8", "\xc2\x85", "\xe1\xa0\x8e", "\xef\xbb\xbf",
        "'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'r", "'l", "'v", ".", ",", "!",
        "?", "-", "\"", "(", "#", "\x01", "\x1f", "\x7f", "\xe2\x80\x94", "\xc2\xab",
        "\xf0\x9f\x98\x80", "\xe2\x80\x8d", "\xcc\x81", "\xff", "\xc3", "\xe2\x82", "\x80"};
    const size_t n_pool = sizeof pool / sizeof pool[0];
    tok_pretok pt;
    assert_int_equal(tok_pretok_init(&pt), TRIL_OK);
    test_rng r = {777};
    char buf[512];
    for (int i = 0; i < 30000; i++) {
        const int frags = (int)test_rng_int(&r, 1, 40);
        size_t len = 0;
        for (int f = 0; f < frags; f++) {
            const char *s = pool[test_rng_int(&r, 0, (int64_t)n_pool - 1)];
            memcpy(buf + len, s, strlen(s));
            len += strlen(s);
        }
        expect_same_cuts(&pt, buf, len);
        /* NULs too (strlen-free). */
        if (len > 2) {
            buf[test_rng_int(&r, 0, (int64_t)len - 1)] = '\0';
            expect_same_cuts(&pt, buf, len);
        }
    }
    size_t len;
    char *text = tt_read(SHAKESPEARE, &len);
    expect_same_cuts(&pt, text, 8000);
    free(text);
    tok_pretok_free(&pt);
}

/* Long runs (one piece of megabytes, or a million pieces): same cuts both
 * ways, compared by count and a hash of the piece ends. */
typedef struct {
    const uint8_t *base;
    uint64_t hash, n;
} digest;

static tril_status digest_piece(void *ctx, const uint8_t *piece, size_t len)
{
    digest *d = ctx;
    d->hash = (d->hash ^ (uint64_t)(piece + len - d->base)) * 0x100000001b3ull;
    d->n++;
    return TRIL_OK;
}

static void test_long_runs(void **state)
{
    tok_pretok pt;
    assert_int_equal(tok_pretok_init(&pt), TRIL_OK);
    const size_t big = 1 << 21;
    uint8_t *s = malloc(big);
    const char *units[] = {"a",  " ",  "\n", "!",  "7",  " a",  "  a", "\xc3\xa9", "\xe3\x80\x80",
                           "\xf0\x9f\x98\x80", " \xc3\xa9", "\xc2\xa0", "a\xc3\xa9", "\xd9\xa3"};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        const size_t k = strlen(units[u]);
        size_t n = 0;
        for (; n + k <= big; n += k) memcpy(s + n, units[u], k);
        digest d[2];
        for (int fast = 0; fast < 2; fast++) {
            pt.ascii_fast = fast;
            d[fast] = (digest){s, 0, 0};
            assert_int_equal(tok_pretok_run(&pt, s, n, digest_piece, &d[fast]), TRIL_OK);
        }
        assert_int_equal(d[0].n, d[1].n);
        assert_true(d[0].hash == d[1].hash);
    }
    free(s);
    tok_pretok_free(&pt);
}

/* A few cuts spelled out (where the regex's lookahead decides). */
static void test_known_cuts(void **state)
{
    tok_pretok pt;
    assert_int_equal(tok_pretok_init(&pt), TRIL_OK);
    static const struct {
        const char *text;
        size_t ends[8];
        size_t n;
    } cases[] = {
        {"a  b", {1, 2, 4}, 3},           /* "a" " " " b" */
        {"a \n b", {1, 3, 5}, 3},         /* "a" " \n" " b" */
        {"x\ny", {1, 2, 3}, 3},           /* "x" "\n" "y" */
        {"x   ", {1, 4}, 2},              /* trailing spaces stay together */
        {"it's", {2, 4}, 2},              /* "it" "'s" */
        {" 's", {2, 3}, 2},               /* " '" "s" */
        {"'sa", {2, 3}, 2},               /* "'s" "a" */
        {"!!'ll", {3, 5}, 2},             /* "!!'" "ll" */
        {"a\xc3\xa9 1\xd9\xa3", {3, 7}, 2}, /* "aé" " 1٣" */
        {" \xc2\xa0x", {1, 3, 4}, 3},     /* " " "\u00a0" "x": U+00A0 is \s, not a letter */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int fast = 0; fast < 2; fast++) {
            static pieces p;
            cut(&pt, fast, cases[c].text, strlen(cases[c].text), &p);
            if (p.n != cases[c].n) fprintf(stderr, "case %zu (fast=%d)\n", c, fast);
            assert_int_equal(p.n, cases[c].n);
            assert_memory_equal(p.ends, cases[c].ends, p.n * sizeof p.ends[0]);
        }
    }
    tok_pretok_free(&pt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_path_matches_regex),
        cmocka_unit_test(test_long_runs),
        cmocka_unit_test(test_known_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

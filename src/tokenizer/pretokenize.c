/* GPT-2's pre-tokenizer: the text is cut into pieces by
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * run with PCRE2 (UTF mode, Unicode properties; JIT-compiled when the library
 * has a JIT, else interpreted). The regex is compiled once per tokenizer and
 * its match data allocated once, so a piece costs one match call. Pieces that
 * ASCII alone decides are cut without it (pretokenize_ascii.c, same result).
 *
 * \s is spelled out as the Unicode White_Space property, which is what
 * OpenAI's encoder gets from Python's `regex` module: PCRE2's own \s adds
 * U+180E, and JavaScript's adds U+FEFF and drops U+0085.
 *
 * \p{L} and \p{N} come from PCRE2's Unicode tables (14.0 in PCRE2 10.42);
 * letters and digits added to Unicode later are "other" here, as they are
 * for an encoder.py whose `regex` module predates them.
 *
 * Invalid UTF-8. PCRE2 in UTF mode only accepts valid UTF-8, and OpenAI's
 * encoder only takes (valid) text. tril takes any bytes: the input is split
 * into maximal runs of valid UTF-8 and the bytes in between; the regex runs
 * on each valid run by itself, and every byte that starts no valid sequence
 * is a piece of its own (which BPE then maps to that byte's token). So valid
 * text is cut exactly as OpenAI cuts it, and decode(encode(x)) == x for
 * every byte string. NUL is an ordinary character; lengths, never strlen. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/tok_internal.h"

#define WS "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}" \
           "\\x{202F}\\x{205F}\\x{3000}"

static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+"
    "|[" WS "]+(?![^" WS "])|[" WS "]+";

tril_status tok_pretok_init(tok_pretok *p)
{
    p->code = p->match_data = NULL;
    p->jit = 0;
    p->ascii_fast = 1;
    int err;
    PCRE2_SIZE err_off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)gpt2_pattern, PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_UCP, &err, &err_off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED,
                         "PCRE2 cannot compile GPT-2's pre-tokenizer regex (at %zu): %s",
                         (size_t)err_off, (const char *)msg);
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    if (!md) {
        pcre2_code_free(code);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory for PCRE2 match data");
    }
    /* No JIT (or no memory for it) only means the slower interpreter. */
    p->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    p->code = code;
    p->match_data = md;
    return TRIL_OK;
}

void tok_pretok_free(tok_pretok *p)
{
    pcre2_match_data_free(p->match_data);
    pcre2_code_free(p->code);
    p->code = p->match_data = NULL;
}

/* Length of the (valid) UTF-8 character at s. */
static size_t char_len(uint8_t c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Cuts one valid UTF-8 run. */
static tril_status run_regex(tok_pretok *p, const uint8_t *s, size_t n, tok_piece_fn fn,
                             void *ctx)
{
    pcre2_code *code = p->code;
    pcre2_match_data *md = p->match_data;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t off = 0;
    while (off < n) {
        const size_t fast = p->ascii_fast ? tok_ascii_piece(s, n, off) : 0;
        if (fast) {
            tril_status st = fn(ctx, s + off, fast - off);
            if (st != TRIL_OK) return st;
            off = fast;
            continue;
        }
        int rc = p->jit ? pcre2_jit_match(code, s, n, off, 0, md, NULL)
                        : pcre2_match(code, s, n, off, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && p->jit) /* e.g. JIT stack: interpret */
            rc = pcre2_match(code, s, n, off, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
        size_t start, end;
        if (rc == PCRE2_ERROR_NOMATCH) {
            start = n, end = n; /* cannot happen: every character matches some branch */
        } else if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "pre-tokenizer regex failed at byte %zu: %s",
                             off, (const char *)msg);
        } else {
            start = ov[0], end = ov[1];
        }
        /* Never lose or repeat a byte, whatever the regex did. */
        tril_status st;
        if (start > off && (st = fn(ctx, s + off, start - off)) != TRIL_OK) return st;
        if (end <= start) end = start < n ? start + char_len(s[start]) : n;
        if (end > start && (st = fn(ctx, s + start, end - start)) != TRIL_OK) return st;
        off = end;
    }
    return TRIL_OK;
}

tril_status tok_pretok_run(tok_pretok *p, const uint8_t *text, size_t len, tok_piece_fn fn,
                           void *ctx)
{
    size_t i = 0;
    while (i < len) {
        const size_t valid = tok_utf8_valid_prefix(text + i, len - i);
        if (valid) {
            tril_status st = run_regex(p, text + i, valid, fn, ctx);
            if (st != TRIL_OK) return st;
            i += valid;
        }
        if (i < len) { /* text[i] starts no valid sequence */
            tril_status st = fn(ctx, text + i, 1);
            if (st != TRIL_OK) return st;
            i++;
        }
    }
    return TRIL_OK;
}

/* A fast path for GPT-2's pre-tokenizer on ASCII: for a piece starting at p,
 * decide where the regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * would end it, using only ASCII classes: letters [A-Za-z], digits [0-9],
 * white space [\t\n\v\f\r ] and everything else (punctuation, controls,
 * NUL). Whenever the answer depends on a byte >= 0x80 (a run that might go
 * on into a Unicode letter, digit, space or symbol), it gives up and the
 * caller asks PCRE2, so the result is always the regex's. The tests compare
 * both ways on mixed text.
 *
 * How the alternatives play out at p (c = s[p]):
 *   c == '\'' and a contraction follows      -> the contraction
 *   c == ' ' and s[p+1] is a letter/digit/punct -> ' ' + that class's run
 *   c a letter, digit or punctuation          -> that class's run
 *   otherwise (white space, incl. a ' ' before white space or at the end):
 *     the maximal white-space run [p, q); at the end of the text all of it;
 *     else \s+(?!\S) backs off one (so the last space can lead the next
 *     word) if that leaves at least one, else \s+ takes the single one. */
#include "tokenizer/tok_internal.h"

enum { P = 0, L = 1, N = 2, W = 3, U = 4 };

/* Class of each ASCII byte (U = not ASCII). */
static inline int cls(uint8_t c)
{
    if (c >= 0x80) return U;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return L;
    if (c >= '0' && c <= '9') return N;
    if (c == ' ' || (c >= '\t' && c <= '\r')) return W;
    return P;
}

size_t tok_ascii_piece(const uint8_t *s, size_t n, size_t p)
{
    const uint8_t c = s[p];
    int k = cls(c);
    if (k == U) return 0;
    if (c == '\'' && p + 1 < n) {
        const uint8_t d = s[p + 1];
        if (d == 's' || d == 't' || d == 'm' || d == 'd') return p + 2;
        if (p + 2 < n) {
            const uint8_t e = s[p + 2];
            if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l'))
                return p + 3;
        }
    }
    size_t i = p; /* where the class run starts */
    if (c == ' ' && p + 1 < n) {
        const int kd = cls(s[p + 1]);
        if (kd == U) return 0;
        if (kd != W) {
            i = p + 1;
            k = kd;
        }
    }
    size_t q = i + 1;
    while (q < n && cls(s[q]) == k) q++;
    if (q == n) return n;
    if (cls(s[q]) == U) return 0;
    if (k != W) return q;
    return q - p >= 2 ? q - 1 : q;
}

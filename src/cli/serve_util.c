/* tril serve: byte buffers, UTF-8, clocks, the key comparison. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/serve.h"
#include "tril/rng.h"

static int sbuf_reserve(sbuf *b, size_t extra)
{
    if (b->failed) return -1;
    if (extra <= b->cap - b->n && b->p) return 0;
    if (extra > ((size_t)-1) / 2 - b->n) {
        b->failed = 1;
        return -1;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->n < extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int sbuf_add(sbuf *b, const void *data, size_t len)
{
    if (sbuf_reserve(b, len + 1)) return -1;
    if (len) memcpy(b->p + b->n, data, len);
    b->n += len;
    b->p[b->n] = '\0';
    return 0;
}

int sbuf_addstr(sbuf *b, const char *s) { return sbuf_add(b, s, strlen(s)); }

int sbuf_printf(sbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return -1;
    }
    if ((size_t)n < sizeof small) return sbuf_add(b, small, (size_t)n);
    if (sbuf_reserve(b, (size_t)n + 1)) return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
    return 0;
}

void sbuf_free(sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

uint64_t serve_unique_u64(uint64_t k)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t state = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
                     (k * 0x9E3779B97F4A7C15ull);
    return tril_splitmix64(&state);
}

double serve_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The length of the UTF-8 sequence at in[0..len): > 0 for a complete valid
 * one, 0 for a valid but incomplete prefix, -1 for an invalid first byte
 * (or a sequence that cannot become valid). */
static int utf8_seq(const unsigned char *in, size_t len)
{
    const unsigned c = in[0];
    int need;
    unsigned lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;      /* no overlong forms */
        else if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F; /* <= U+10FFFF */
    } else {
        return -1;
    }
    for (int i = 1; i < need; i++) {
        if ((size_t)i >= len) return 0;
        const unsigned b = in[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return -1;
    }
    return need;
}

size_t serve_utf8_take(const char *in, size_t len, int final, sbuf *out)
{
    const unsigned char *u = (const unsigned char *)in;
    size_t i = 0, start = 0; /* in[start..i) is valid and not yet copied */
    while (i < len) {
        int n = utf8_seq(u + i, len - i);
        if (n > 0) {
            i += (size_t)n;
            continue;
        }
        if (n == 0 && !final) break; /* wait for the rest of the sequence */
        sbuf_add(out, in + start, i - start);
        sbuf_add(out, "\xEF\xBF\xBD", 3); /* U+FFFD */
        i++;
        start = i;
    }
    sbuf_add(out, in + start, i - start);
    return i;
}

int serve_utf8_valid(const char *in, size_t len)
{
    const unsigned char *u = (const unsigned char *)in;
    for (size_t i = 0; i < len;) {
        if (u[i] == 0) return 0;
        int n = utf8_seq(u + i, len - i);
        if (n <= 0) return 0;
        i += (size_t)n;
    }
    return 1;
}

int serve_secret_equal(const char *a, const char *b)
{
    const size_t la = strlen(a), lb = strlen(b);
    /* Every byte of the longer string is looked at, whatever matches. */
    const size_t n = la > lb ? la : lb;
    size_t diff = la ^ lb;
    for (size_t i = 0; i < n; i++) {
        const unsigned char x = i < la ? (unsigned char)a[i] : 0;
        const unsigned char y = i < lb ? (unsigned char)b[i] : 0;
        diff |= (size_t)(x ^ y);
    }
    volatile size_t sink = diff; /* keep the compiler from an early exit */
    return sink == 0;
}

/* Private to src/tokenizer: the hash used by every table (vocabulary, merge
 * pairs, word cache). Multiply-xorshift mixing: fast on short keys, and every
 * input bit reaches the low bits the tables index with. */
#ifndef TRIL_TOK_HASH_H
#define TRIL_TOK_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* splitmix64's finalizer. */
static inline uint64_t tok_hash_u64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t tok_hash_bytes(const uint8_t *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xc6a4a7935bd1e995ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, s, n);
        h = (h ^ w) * 0xc6a4a7935bd1e995ull;
        h ^= h >> 29;
    }
    return tok_hash_u64(h);
}

/* Smallest power of two >= n (n >= 1, n <= 2^31). */
static inline uint32_t tok_pow2_at_least(size_t n)
{
    uint32_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

#endif

/* tril's random numbers (tril/rng.h): xoshiro256** (Blackman & Vigna), its
 * four words seeded from one 64-bit seed by splitmix64, as the authors
 * recommend; and splitmix64 itself, the initialisation stream. Every draw of
 * a training run (batch windows) comes from one xoshiro generator, so its
 * 4 x 64-bit state is all a checkpoint needs to replay the data order
 * exactly. */
#include "tril/rng.h"

#include <math.h>

uint64_t tril_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double tril_splitmix64_normal(uint64_t *state)
{
    /* u in (0, 1): log(u) is finite. The order of the two draws is part of
     * the stream (tril_gpt2_init_random's weights depend on it). */
    const double u = ((tril_splitmix64(state) >> 11) + 0.5) * 0x1.0p-53;
    const double v = (tril_splitmix64(state) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void tril_rng_seed(tril_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = tril_splitmix64(&x);
    /* splitmix64 is a bijection of its counter, so four consecutive outputs
     * are never all zero (the one state xoshiro cannot leave). */
}

uint64_t tril_rng_next(tril_rng *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Unbiased: draws below 2^64 mod n are rejected, so every residue class
 * keeps exactly floor(2^64 / n) draws. n = 0 returns 0. */
uint64_t tril_rng_below(tril_rng *rng, uint64_t n)
{
    if (n <= 1) return 0;
    const uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t x = tril_rng_next(rng);
        if (x >= threshold) return x % n;
    }
}

double tril_rng_uniform(tril_rng *rng) { return (double)(tril_rng_next(rng) >> 11) * 0x1.0p-53; }

double tril_rng_normal(tril_rng *rng)
{
    double u = 1.0 - tril_rng_uniform(rng), v = tril_rng_uniform(rng); /* u in (0, 1] */
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

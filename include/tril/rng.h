/* tril/rng.h - tril's seeded random numbers. Every random draw of the
 * library comes from here, in one of two named streams:
 *
 *  - tril_rng (xoshiro256**, seeded through splitmix64): the one general
 *    generator - sampling tokens, training data order, evaluation batches,
 *    tril leakcheck, the mask-numerics scenarios. Its 4-word state is what a
 *    checkpoint saves to replay the data order.
 *  - tril_splitmix64 (one 64-bit word): splitmix64 alone, the generator
 *    behind tril_rng_seed and the stream tril_gpt2_init_random draws its
 *    weights from. That stream's exact sequence is fixed: the bundled
 *    default model was initialised with it, and retraining it
 *    (scripts/train_default_model.sh) must reproduce the same weights. */
#ifndef TRIL_RNG_H
#define TRIL_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t s[4]; /* xoshiro256** */
} tril_rng;

void tril_rng_seed(tril_rng *rng, uint64_t seed);
uint64_t tril_rng_next(tril_rng *rng);
/* Uniform in [0, n). */
uint64_t tril_rng_below(tril_rng *rng, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double tril_rng_uniform(tril_rng *rng);
/* Standard normal (Box-Muller). */
double tril_rng_normal(tril_rng *rng);

/* splitmix64 (Steele, Lea & Flood 2014): advances *state by the golden
 * gamma and returns the mixed value. Any state is valid; the seed is the
 * initial state. */
uint64_t tril_splitmix64(uint64_t *state);
/* Standard normal from two splitmix64 draws (Box-Muller, cosine branch):
 * u = (top 53 bits of the first + 0.5) / 2^53 in (0, 1), v = top 53 bits of
 * the second / 2^53; sqrt(-2 ln u) cos(2 pi v). */
double tril_splitmix64_normal(uint64_t *state);

#ifdef __cplusplus
}
#endif
#endif

/* tril/rng.h - the one seeded random-number generator (xoshiro256**):
 * sampling tokens, training data order, initialisation. */
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

#ifdef __cplusplus
}
#endif
#endif

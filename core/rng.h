/* Deterministic random numbers for everything in core (sampling, dropout, init, search).
 * xoshiro256** seeded through splitmix64; the whole state is 4 words so that checkpoints and
 * search state can save and restore it exactly. Not for cryptography. */
#ifndef MOS_RNG_H
#define MOS_RNG_H

#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
} Rng;

void     rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint32_t rng_below(Rng *r, uint32_t n);
/* Uniform float in [0, 1) with 24 random bits. */
float    rng_float(Rng *r);
/* Standard normal (Box-Muller, no cached second value so the state stays 4 words). */
float    rng_normal(Rng *r);

#endif

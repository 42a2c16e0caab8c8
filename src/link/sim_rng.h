/* A small deterministic PRNG for the simulator: xoshiro256** seeded by
 * splitmix64 (Blackman & Vigna, https://prng.di.unimi.it/). The same seed
 * gives the same sequence on every machine, which is what makes a simulated
 * run with random loss reproducible. Header-only. */
#ifndef SYNACK_SIM_RNG_H
#define SYNACK_SIM_RNG_H

#include <stdint.h>

struct sim_rng {
    uint64_t s[4];
};

/* splitmix64: one step; also handy to derive per-host keys from a seed. */
static inline uint64_t sim_rng_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static inline void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = sim_rng_splitmix64(&seed);
}

static inline uint64_t sim_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sim_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rng_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1): the top 53 bits as a double. */
static inline double sim_rng_unit(struct sim_rng *r)
{
    return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n) (n > 0); the tiny modulo bias does not matter here. */
static inline uint64_t sim_rng_below(struct sim_rng *r, uint64_t n)
{
    return n ? sim_rng_next(r) % n : 0;
}

#endif

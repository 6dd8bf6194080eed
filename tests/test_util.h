/* Small helpers shared by the C tests: a seeded RNG and buffer makers. */
#ifndef TRIL_TEST_UTIL_H
#define TRIL_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tril/dtype.h"

typedef struct {
    uint64_t state;
} test_rng;

static inline uint64_t test_rng_u64(test_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double test_rng_uniform(test_rng *r) { return (test_rng_u64(r) >> 11) * 0x1.0p-53; }

/* Integer in [lo, hi]. */
static inline int64_t test_rng_int(test_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(test_rng_u64(r) % (uint64_t)(hi - lo + 1));
}

static inline float test_rng_normal(test_rng *r)
{
    double u = test_rng_uniform(r) + 1e-300, v = test_rng_uniform(r);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* n random normal values stored in `dtype` (caller frees). */
static inline void *test_random_buffer(test_rng *r, size_t n, tril_dtype dtype)
{
    void *buf = malloc(n * tril_dtype_size(dtype) + 1);
    if (!buf) abort();
    for (size_t i = 0; i < n; i++) tril_store_f32(buf, dtype, i, test_rng_normal(r));
    return buf;
}

/* n normal values times scale (malloc'd; aborts when out of memory). */
static inline float *test_randn(test_rng *r, int64_t n, float scale)
{
    float *x = malloc((size_t)n * sizeof *x);
    if (!x) abort();
    for (int64_t i = 0; i < n; i++) x[i] = scale * test_rng_normal(r);
    return x;
}

/* max |a - b| / max |b| (b: the reference; 1e-30 floor for all-zero b). */
static inline double test_rel_err(const float *a, const float *b, int64_t n)
{
    double worst = 0.0, scale = 1e-30;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)b[i]));
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst / scale;
}

/* max |x - ref| / max |ref| against a double reference (the plain max abs
 * error when ref is all 0); NaN anywhere counts as infinite. */
static inline double test_rel_err_f64(const float *x, const double *ref, size_t n)
{
    double err = 0.0, mag = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)x[i] - ref[i]);
        err = e <= err ? err : (isnan(e) ? INFINITY : e);
        mag = fmax(mag, fabs(ref[i]));
    }
    return mag > 0.0 ? err / mag : err;
}

/* A fresh directory <$TMPDIR or /tmp>/<name>_XXXXXX in dir; 0 on success. */
static inline int test_temp_dir(char *dir, size_t size, const char *name)
{
    const char *base = getenv("TMPDIR");
    if ((size_t)snprintf(dir, size, "%s/%s_XXXXXX", base && *base ? base : "/tmp", name) >= size)
        return -1;
    return mkdtemp(dir) ? 0 : -1;
}

/* rm -rf dir; 0 on success. */
static inline int test_remove_dir(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* VmRSS of this process in bytes (Linux /proc/self/status), -1 if unknown. */
static inline long long test_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld kB", &kib) == 1) break;
    fclose(f);
    return kib < 0 ? -1 : kib * 1024;
}

#endif

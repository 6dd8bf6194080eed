/* Portable SIMD through GCC/Clang vector extensions.
 *
 * One source, compiled once per instruction set (see CMakeLists.txt): the
 * vector width follows the target, so the AVX-512 build uses 16-lane zmm
 * registers, the AVX2 build 8-lane ymm, and the generic build 4 lanes that
 * any target (SSE2, NEON, or plain scalar code) can lower. */
#ifndef TRIL_SIMD_H
#define TRIL_SIMD_H

#include <stdint.h>

#if defined(__AVX512F__)
#define TRIL_VL 16
#elif defined(__AVX2__)
#define TRIL_VL 8
#else
#define TRIL_VL 4
#endif

typedef float vf __attribute__((vector_size(TRIL_VL * 4)));
typedef int32_t vi __attribute__((vector_size(TRIL_VL * 4)));
/* Unaligned, aliasing-safe view for loads and stores from float arrays. */
typedef float vf_u __attribute__((vector_size(TRIL_VL * 4), aligned(4), may_alias));

#define VINLINE static inline __attribute__((always_inline))

/* Software prefetch into L2 (locality 2) this far ahead of streaming reads:
 * with the hardware prefetchers alone a core keeps too few misses in flight
 * to saturate memory. Used by the AVX2 int8 GEMV and one of the streaming
 * probe's passes; the fp32 layer GEMVs fetch their next block of rows. */
#define TRIL_PREFETCH_BYTES 4096
#define vprefetch_l2(p) __builtin_prefetch((p), 0, 2)
/* Two levels, as the AMX tile products fetch: into L2 8 KB ahead, then into
 * L1 2 KB ahead. A plain read fetched this way ran 6-10 % faster than with
 * L2 alone 4 KB ahead (Intel Emerald Rapids, 2 threads, alternating passes),
 * so the streaming probe tries it too; the one-row GEMVs over bf16 and
 * int8 rows and the fp32 head fetch this way (gemv_internal.h). */
#define TRIL_PREFETCH_FAR_BYTES 8192
#define TRIL_PREFETCH_NEAR_BYTES 2048
#define vprefetch_l1(p) __builtin_prefetch((p), 0, 3)
/* The two-level fetch for a stream read at p: its line FAR bytes ahead into
 * L2, its line NEAR bytes ahead into L1. */
#define vprefetch_ahead(p)                                                  \
    do {                                                                    \
        vprefetch_l2((const char *)(p) + TRIL_PREFETCH_FAR_BYTES);          \
        vprefetch_l1((const char *)(p) + TRIL_PREFETCH_NEAR_BYTES);         \
    } while (0)

VINLINE vf vload(const float *p) { return *(const vf_u *)p; }

/* bf16 is the top half of an fp32: widening is a shift, exact. */
typedef uint16_t vh16 __attribute__((vector_size(TRIL_VL * 2), aligned(2), may_alias));
typedef uint32_t vu32 __attribute__((vector_size(TRIL_VL * 4)));
/* Intrinsics on x86: GCC lowers the 16-lane vector-extension conversion to
 * two 8-lane halves joined by extract/insert (7 instructions per 16 weights
 * instead of 3), which held the bf16 GEMV to 9-10 G weights/s per core. */
#if defined(__AVX512F__)
#include <immintrin.h>
VINLINE vf vload_bf16(const uint16_t *p)
{
    return (vf)_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16);
}
#elif defined(__AVX2__)
#include <immintrin.h>
VINLINE vf vload_bf16(const uint16_t *p)
{
    return (vf)_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16);
}
#else
VINLINE vf vload_bf16(const uint16_t *p)
{
    vh16 h = *(const vh16 *)p;
    return (vf)(__builtin_convertvector(h, vu32) << 16);
}
#endif
/* fp16 bits (the int8 model's block scales) to fp32, exact: one
 * instruction with F16C (every AVX2 and AVX-512 target), else the library's
 * bit conversion. */
#if defined(__F16C__)
#include <immintrin.h>
VINLINE float f16_scalar(uint16_t h) { return _cvtsh_ss(h); }
#else
#include "tril/dtype.h"
VINLINE float f16_scalar(uint16_t h) { return tril_f16_to_f32(h); }
#endif
static inline float bf16_scalar(uint16_t h)
{
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}
VINLINE void vstore(float *p, vf x) { *(vf_u *)p = x; }
/* x - (+0) is exactly x for every x (unlike 0 + x at -0), so this folds to
 * a plain broadcast. */
VINLINE vf vbcast(float x) { return x - (vf){0}; }
VINLINE vf vsel(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }
VINLINE vf vmax(vf a, vf b) { return vsel(a > b, a, b); }

/* Horizontal reductions: fold the vector into 128-bit quarters first (a few
 * vector ops), then finish on 4 lanes, instead of a 16-step scalar chain. */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t vi4 __attribute__((vector_size(16)));

VINLINE v4f vquarter(vf x, int i)
{
    v4f part;
    __builtin_memcpy(&part, (const char *)&x + 16 * i, 16);
    return part;
}

VINLINE float vhmax(vf x)
{
    v4f m = vquarter(x, 0);
    for (int i = 1; i < TRIL_VL / 4; i++) {
        v4f p = vquarter(x, i);
        m = (v4f)(((vi4)m & (vi4)(m > p)) | ((vi4)p & ~(vi4)(m > p)));
    }
    float a = m[0] > m[1] ? m[0] : m[1], b = m[2] > m[3] ? m[2] : m[3];
    return a > b ? a : b;
}

VINLINE float vhsum(vf x)
{
    v4f s = vquarter(x, 0);
    for (int i = 1; i < TRIL_VL / 4; i++) s += vquarter(x, i);
    return (s[0] + s[2]) + (s[1] + s[3]);
}

/* s[c] = vhsum(v[c]) for 16 vectors, by vhsum's own tree (the quarters
 * added in order, then (e0 + e2) + (e1 + e3)), 16 lanes at a time with
 * AVX-512: ~60 instructions instead of ~180. */
#if TRIL_VL == 16
VINLINE void vhsum16(const vf *v, float *s)
{
    __m512 sum4[4]; /* sum4[g]: 128-bit lane l holds vector 4 g + l's quarter sums */
    for (int g = 0; g < 4; g++) {
        const __m512 a = (__m512)v[4 * g], b = (__m512)v[4 * g + 1];
        const __m512 c = (__m512)v[4 * g + 2], d = (__m512)v[4 * g + 3];
        /* 4x4 transpose of 128-bit quarters: q[i] lane l = vector 4g+l's quarter i */
        const __m512 ab_lo = _mm512_shuffle_f32x4(a, b, 0x44), ab_hi = _mm512_shuffle_f32x4(a, b, 0xee);
        const __m512 cd_lo = _mm512_shuffle_f32x4(c, d, 0x44), cd_hi = _mm512_shuffle_f32x4(c, d, 0xee);
        const __m512 q0 = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0x88);
        const __m512 q1 = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0xdd);
        const __m512 q2 = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0x88);
        const __m512 q3 = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0xdd);
        sum4[g] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(q0, q1), q2), q3);
    }
    /* 4x4 transpose inside each 128-bit lane: e[i] lane l element g = vector 4g+l's s_i */
    const __m512 t0 = _mm512_unpacklo_ps(sum4[0], sum4[1]), t1 = _mm512_unpackhi_ps(sum4[0], sum4[1]);
    const __m512 t2 = _mm512_unpacklo_ps(sum4[2], sum4[3]), t3 = _mm512_unpackhi_ps(sum4[2], sum4[3]);
    const __m512 e0 = (__m512)_mm512_unpacklo_pd((__m512d)t0, (__m512d)t2);
    const __m512 e1 = (__m512)_mm512_unpackhi_pd((__m512d)t0, (__m512d)t2);
    const __m512 e2 = (__m512)_mm512_unpacklo_pd((__m512d)t1, (__m512d)t3);
    const __m512 e3 = (__m512)_mm512_unpackhi_pd((__m512d)t1, (__m512d)t3);
    const __m512 r = _mm512_add_ps(_mm512_add_ps(e0, e2), _mm512_add_ps(e1, e3));
    /* lane 4 l + g holds vector 4 g + l */
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    _mm512_storeu_ps(s, _mm512_permutexvar_ps(order, r));
}
#elif TRIL_VL == 8 && defined(__AVX2__)
/* Eight vectors at a time with AVX2, by the same tree: ~25 instructions
 * per eight instead of ~65 (the decoding attention's scores: 4 % of a
 * pass over one layer's cache held in L2, on an AMD Zen 3 host). */
VINLINE void vhsum8_of(const vf *v, float *s)
{
    __m256 half[4]; /* half[i]: 128-bit lane l holds vector 2 i + l's quarter sum */
    for (int i = 0; i < 4; i++) {
        const __m256 a = (__m256)v[2 * i], b = (__m256)v[2 * i + 1];
        half[i] = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
    }
    /* 4x4 transpose inside each 128-bit lane: e[i] lane l element j = vector 2 j + l's s_i */
    const __m256 t0 = _mm256_unpacklo_ps(half[0], half[1]), t1 = _mm256_unpackhi_ps(half[0], half[1]);
    const __m256 t2 = _mm256_unpacklo_ps(half[2], half[3]), t3 = _mm256_unpackhi_ps(half[2], half[3]);
    const __m256 e0 = (__m256)_mm256_unpacklo_pd((__m256d)t0, (__m256d)t2);
    const __m256 e1 = (__m256)_mm256_unpackhi_pd((__m256d)t0, (__m256d)t2);
    const __m256 e2 = (__m256)_mm256_unpacklo_pd((__m256d)t1, (__m256d)t3);
    const __m256 e3 = (__m256)_mm256_unpackhi_pd((__m256d)t1, (__m256d)t3);
    const __m256 r = _mm256_add_ps(_mm256_add_ps(e0, e2), _mm256_add_ps(e1, e3));
    /* lane 4 l + j holds vector 2 j + l */
    _mm256_storeu_ps(s, _mm256_permutevar8x32_ps(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

VINLINE void vhsum16(const vf *v, float *s)
{
    vhsum8_of(v, s);
    vhsum8_of(v + 8, s + 8);
}
#else
VINLINE void vhsum16(const vf *v, float *s)
{
    for (int c = 0; c < 16; c++) s[c] = vhsum(v[c]);
}
#endif

/* exp(x) for x <= 0 region and beyond: Cephes polynomial after Cody-Waite
 * range reduction, ~1 ulp. exp(-inf) and anything below the smallest normal
 * gives exactly 0 (masked keys must weigh exactly nothing); NaN stays NaN. */
VINLINE vf vexp(vf x)
{
    const vf hi = vbcast(88.3762626647949f), lo = vbcast(-87.3365447504f);
    vi tiny = x < lo;
    vi nan = x != x;
    vf xc = vsel(x > hi, hi, vsel(tiny, lo, x));
    /* n = round(x / ln2) by the 1.5*2^23 trick (exact under round-to-nearest) */
    vf t = xc * 1.44269504088896341f + 12582912.0f;
    vf n = t - 12582912.0f;
    vf r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = vbcast(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    vi e = (__builtin_convertvector(n, vi) + 127) << 23;
    vf y = p * (vf)e;
    y = vsel(tiny, vbcast(0.0f), y);
    return vsel(nan, x, y);
}

#endif

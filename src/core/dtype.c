/* fp16/bf16 <-> fp32 conversions with IEEE round-to-nearest-even. */
#include "tril/dtype.h"

#include <math.h>
#include <string.h>

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

const char *tril_dtype_name(tril_dtype dtype)
{
    switch (dtype) {
    case TRIL_F32: return "fp32";
    case TRIL_F16: return "fp16";
    case TRIL_BF16: return "bf16";
    case TRIL_INT8: return "int8";
    }
    return NULL;
}

tril_status tril_dtype_parse(const char *name, tril_dtype *out)
{
    static const struct { const char *name; tril_dtype dtype; } table[] = {
        {"fp32", TRIL_F32}, {"f32", TRIL_F32}, {"float32", TRIL_F32},
        {"fp16", TRIL_F16}, {"f16", TRIL_F16}, {"float16", TRIL_F16},
        {"bf16", TRIL_BF16}, {"bfloat16", TRIL_BF16},
        {"int8", TRIL_INT8}, {"i8", TRIL_INT8}, {"q8_0", TRIL_INT8},
    };
    for (size_t i = 0; name && i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(name, table[i].name) == 0) {
            *out = table[i].dtype;
            return TRIL_OK;
        }
    }
    return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                     "unknown dtype '%s' (expected fp32/f32/float32, fp16/f16/float16, "
                     "bf16/bfloat16 or int8/i8/q8_0)",
                     name ? name : "(null)");
}

size_t tril_dtype_size(tril_dtype dtype)
{
    switch (dtype) {
    case TRIL_F32: return 4;
    case TRIL_F16:
    case TRIL_BF16: return 2;
    case TRIL_INT8: return 1;
    }
    return 0;
}

float tril_dtype_min(tril_dtype dtype)
{
    switch (dtype) {
    case TRIL_F32: return -3.4028234663852886e38f;
    case TRIL_F16: return -65504.0f;
    case TRIL_BF16: return -3.3895313892515355e38f;
    case TRIL_INT8: return -128.0f;
    }
    return NAN;
}

float tril_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13)); /* inf/NaN */
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in fp32 */
        float v = (float)man * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t tril_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t abs = u & 0x7fffffffu;
    if (abs >= 0x7f800000u) /* inf or NaN (keep NaN quiet and non-zero) */
        return (uint16_t)(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
    if (abs >= 0x477ff000u) /* >= 65520: rounds to infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (abs < 0x38800000u) {
        /* below the smallest normal (2^-14): subnormal or zero.
         * Adding 0.5 makes the FPU round to nearest even at the 2^-24 grid. */
        float a = bits_f32(abs);
        uint32_t r = f32_bits(a + 0.5f) - f32_bits(0.5f);
        return (uint16_t)(sign | r);
    }
    /* normal: rebias exponent, round mantissa to 10 bits (nearest even) */
    uint32_t mant_odd = (abs >> 13) & 1u;
    abs += 0xc8000fffu + mant_odd; /* (15-127)<<23 rebias + rounding bias */
    return (uint16_t)(sign | (abs >> 13));
}

float tril_bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

uint16_t tril_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* The nearest int8 (ties to even), saturating; NaN is 0. */
static int8_t int8_of(float x)
{
    if (!(x == x)) return 0;
    const float r = x > 127.0f ? 127.0f : x < -128.0f ? -128.0f : nearbyintf(x);
    return (int8_t)r;
}

float tril_round_to_dtype(float x, tril_dtype dtype)
{
    switch (dtype) {
    case TRIL_F32: return x;
    case TRIL_F16: return tril_f16_to_f32(tril_f32_to_f16(x));
    case TRIL_BF16: return tril_bf16_to_f32(tril_f32_to_bf16(x));
    case TRIL_INT8: return (float)int8_of(x);
    }
    return NAN;
}

/* Element loads and stores go through memcpy: a buffer may sit at any byte
 * offset (a safetensors tensor need not be aligned), and dereferencing a
 * misaligned float* or uint16_t* is undefined behaviour. On x86 memcpy of 2
 * or 4 bytes compiles to the same single move. */
static float load32(const void *buf, size_t i)
{
    float f;
    memcpy(&f, (const unsigned char *)buf + i * 4, sizeof f);
    return f;
}

static uint16_t load16(const void *buf, size_t i)
{
    uint16_t h;
    memcpy(&h, (const unsigned char *)buf + i * 2, sizeof h);
    return h;
}

float tril_load_f32(const void *buf, tril_dtype dtype, size_t i)
{
    switch (dtype) {
    case TRIL_F32: return load32(buf, i);
    case TRIL_F16: return tril_f16_to_f32(load16(buf, i));
    case TRIL_BF16: return tril_bf16_to_f32(load16(buf, i));
    case TRIL_INT8: return (float)((const int8_t *)buf)[i];
    }
    return NAN;
}

void tril_store_f32(void *buf, tril_dtype dtype, size_t i, float x)
{
    unsigned char *p = buf;
    uint16_t h;
    switch (dtype) {
    case TRIL_F32: memcpy(p + i * 4, &x, sizeof x); break;
    case TRIL_F16: h = tril_f32_to_f16(x); memcpy(p + i * 2, &h, sizeof h); break;
    case TRIL_BF16: h = tril_f32_to_bf16(x); memcpy(p + i * 2, &h, sizeof h); break;
    case TRIL_INT8: ((int8_t *)buf)[i] = int8_of(x); break;
    }
}

/* One loop per dtype (not a switch per element), so each vectorises. */
void tril_convert_from_f32(void *dst, tril_dtype dtype, const float *src, size_t n)
{
    unsigned char *p = dst;
    switch (dtype) {
    case TRIL_F32: memmove(dst, src, n * sizeof *src); break;
    case TRIL_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = tril_f32_to_f16(load32(src, i));
            memcpy(p + i * 2, &h, sizeof h);
        }
        break;
    case TRIL_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = tril_f32_to_bf16(load32(src, i));
            memcpy(p + i * 2, &h, sizeof h);
        }
        break;
    case TRIL_INT8:
        for (size_t i = 0; i < n; i++) ((int8_t *)dst)[i] = int8_of(load32(src, i));
        break;
    }
}

void tril_convert_to_f32(float *dst, const void *src, tril_dtype dtype, size_t n)
{
    switch (dtype) {
    case TRIL_F32: memmove(dst, src, n * sizeof *dst); break;
    case TRIL_F16:
        for (size_t i = 0; i < n; i++) dst[i] = tril_f16_to_f32(load16(src, i));
        break;
    case TRIL_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = tril_bf16_to_f32(load16(src, i));
        break;
    case TRIL_INT8:
        for (size_t i = 0; i < n; i++) dst[i] = (float)((const int8_t *)src)[i];
        break;
    }
}

/* NaN and inf are the values whose exponent bits are all ones. Blocks of
 * 1024 are tested with a branch-free OR (vectorised), and only a block that
 * holds one is searched for the first index. */
#define NONFINITE_BLOCK 1024

static size_t first_nonfinite32(const void *buf, size_t n)
{
    for (size_t b = 0; b < n; b += NONFINITE_BLOCK) {
        const size_t e = n - b < NONFINITE_BLOCK ? n : b + NONFINITE_BLOCK;
        uint32_t any = 0;
        for (size_t i = b; i < e; i++) {
            uint32_t u;
            memcpy(&u, (const unsigned char *)buf + i * 4, sizeof u);
            any |= (u & 0x7f800000u) == 0x7f800000u;
        }
        if (any)
            for (size_t i = b; i < e; i++)
                if (!isfinite(load32(buf, i))) return i;
    }
    return n;
}

static size_t first_nonfinite16(const void *buf, size_t n, uint16_t exp_mask)
{
    for (size_t b = 0; b < n; b += NONFINITE_BLOCK) {
        const size_t e = n - b < NONFINITE_BLOCK ? n : b + NONFINITE_BLOCK;
        uint32_t any = 0;
        for (size_t i = b; i < e; i++) any |= (load16(buf, i) & exp_mask) == exp_mask;
        if (any)
            for (size_t i = b; i < e; i++)
                if ((load16(buf, i) & exp_mask) == exp_mask) return i;
    }
    return n;
}

size_t tril_find_nonfinite(const void *buf, tril_dtype dtype, size_t n)
{
    switch (dtype) {
    case TRIL_F32: return first_nonfinite32(buf, n);
    case TRIL_F16: return first_nonfinite16(buf, n, 0x7c00u);
    case TRIL_BF16: return first_nonfinite16(buf, n, 0x7f80u);
    case TRIL_INT8: return n; /* integers are finite */
    }
    return 0;
}

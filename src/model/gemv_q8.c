/* int8 decoding GEMVs: Q8_0 weights against Q8_0 activations, as ggml's
 * vec_dot_q8_0_q8_0. Compiled once per instruction set.
 *
 * Why the activations are quantised too: widening every int8 weight to
 * fp32 (sign-extend, convert, FMA: 7 vector instructions per 32 weights)
 * capped one core at 15-20 G weights/s with the matrix in cache, barely
 * above what memory delivers to two cores, so int8 decoding was bound by
 * instructions, not bytes (and fp16 scales, one conversion more per block,
 * made it slower). Products of two int8 vectors are summed exactly in int32
 * by the integer dot instructions (maddubs + madd: 5 instructions per 64
 * weights), and the float work is one convert and one FMA per two blocks.
 *
 * Each x row is quantised once per GEMV (q8_quantize_x): a scale per
 * block of TRIL_Q8_BLOCK, max |x| / 127, values rounded to nearest, the
 * same bits as the scalar oracle's (tril_ref_q8_quantize_x). A block's
 * integer dot product is exact, so only the fp32 accumulation of the
 * scaled block sums depends on the ISA; each row of the several-row kernel
 * runs exactly the one-row kernel's code (q8_dot), so it is bit for bit the
 * one-row result. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "core/isa.h"
#include "core/simd.h"
#include "model/gemv_internal.h"
#include "tril/cpu.h"
#include "tril/ops.h"

enum { QB = TRIL_Q8_BLOCK };

/* The bytes gemv_threads_rows weighs: an int8 weight costs about the
 * instructions of a bf16 one, so it counts as 2 bytes; counted as 1, GPT-2
 * 124M's 768 x 768 matrices (0.6 MB) ran on one thread, at one core's share
 * of the bandwidth. */
#define Q8_WORK(rows, cols) (2 * (rows) * (cols))

#define UNROLL _Pragma("GCC unroll 8")

/* R x rows against one weight row: out[r] = sum over blocks b of
 * (wscale_b * xscale_rb) * (sum of q * xq_r in the block). w: cols int8;
 * ws: its fp16 block scales; xq: R rows of TRIL_Q8_X_LEN(cols) int8 (zero
 * past cols), `len` apart; xs: R rows of TRIL_Q8_X_SCALES(cols) floats
 * (zero past the blocks), `ns` apart. R is a constant at each call (1 for
 * the one-row kernel, 4 for the several-row tiles): every row's arithmetic
 * is the same whatever R, because only the weights' work (loads, |w|,
 * signs, scale conversion) is shared. prefetch: stream the row ahead into
 * L2 (the one-row walk reads it from memory; rows reused for several x
 * rows are cached). */
#if defined(__AVX512BW__)
/* 64 weights (two blocks) against one x row: the exact int32 sums, lanes
 * 0-7 the first block's, 8-15 the second's. |w| (unsigned) times x with
 * w's sign: maddubs wants one unsigned operand; |q| <= 127 keeps the
 * pairs below 2^15. */
VINLINE __m512i q8_pair_sums(__m512i abs_w, __mmask64 neg_w, __m512i xv, const int vnni)
{
    const __m512i x_signed = _mm512_mask_sub_epi8(xv, neg_w, _mm512_setzero_si512(), xv);
    if (vnni) {
        /* AVX-512 VNNI: vpdpbusd sums each lane's four products in one
         * instruction, exactly as maddubs + madd do (neither saturates at
         * |q| <= 127), so both paths give the same bits. In assembly, so
         * that this file needs no -mavx512vnni: it runs only where the CPU
         * has VNNI (q8_vnni). */
        __m512i sums = _mm512_setzero_si512();
        __asm__("vpdpbusd %2, %1, %0" : "+v"(sums) : "v"(abs_w), "v"(x_signed));
        return sums;
    }
    return _mm512_madd_epi16(_mm512_maddubs_epi16(abs_w, x_signed), _mm512_set1_epi16(1));
}

/* AVX-512 VNNI where the CPU has it (Intel Ice Lake / Cascade Lake and
 * later, AMD Zen 4), unless TRIL_VNNI=0 (tests run both paths). */
static int q8_vnni(void) { return tril_cpu_use_vnni(); }

VINLINE void q8_dots(const int8_t *w, const uint16_t *ws, const int8_t *xq, const float *xs,
                     int64_t len, int64_t ns, int64_t cols, const int prefetch, const int R,
                     const int vnni, float *out, int64_t out_stride)
{
    const int64_t nb = TRIL_Q8_BLOCKS(cols);
    const __m512i two = _mm512_set1_epi32(2);
    const __m512i pair = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    /* two chains per row (alternate pairs of blocks): one FMA chain alone
     * held the loop to its 4-cycle latency */
    __m512 acc0[4], acc1[4], sc[4];
    UNROLL for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
    for (int64_t g = 0; g < nb; g += 16) {
        const int64_t gb = nb - g < 16 ? nb - g : 16;
        const __m512 wsc =
            _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)((1u << gb) - 1u), ws + g));
        UNROLL for (int r = 0; r < R; r++) sc[r] = _mm512_mul_ps(wsc, _mm512_loadu_ps(xs + r * ns + g));
        __m512i lane = pair;
        int64_t b = g;
        for (; b + 4 <= g + gb && (b + 4) * QB <= cols; b += 4) {
            const int64_t c = b * QB;
            if (prefetch) { /* as gemv_dot_bf16 (gemv_internal.h) */
                vprefetch_ahead(w + c);
                vprefetch_ahead(w + c + 64);
            }
            const __m512i w0 = _mm512_loadu_si512(w + c), w1 = _mm512_loadu_si512(w + c + 64);
            const __m512i a0 = _mm512_abs_epi8(w0), a1 = _mm512_abs_epi8(w1);
            const __mmask64 n0 = _mm512_movepi8_mask(w0), n1 = _mm512_movepi8_mask(w1);
            const __m512i lane1 = _mm512_add_epi32(lane, two);
            UNROLL for (int r = 0; r < R; r++) {
                const int8_t *xr = xq + r * len + c;
                const __m512i s0 = q8_pair_sums(a0, n0, _mm512_loadu_si512(xr), vnni);
                const __m512i s1 = q8_pair_sums(a1, n1, _mm512_loadu_si512(xr + 64), vnni);
                acc0[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_permutexvar_ps(lane, sc[r]), acc0[r]);
                acc1[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), _mm512_permutexvar_ps(lane1, sc[r]), acc1[r]);
            }
            lane = _mm512_add_epi32(lane1, two);
        }
        for (; b < g + gb; b += 2, lane = _mm512_add_epi32(lane, two)) {
            const int64_t c = b * QB;
            if (prefetch) vprefetch_ahead(w + c);
            const __m512i wv = cols - c >= 64
                                   ? _mm512_loadu_si512(w + c)
                                   : _mm512_maskz_loadu_epi8((1ULL << (cols - c)) - 1ULL, w + c);
            const __m512i aw = _mm512_abs_epi8(wv);
            const __mmask64 nw = _mm512_movepi8_mask(wv);
            UNROLL for (int r = 0; r < R; r++) {
                const __m512i s0 = q8_pair_sums(aw, nw, _mm512_loadu_si512(xq + r * len + c), vnni);
                acc0[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_permutexvar_ps(lane, sc[r]), acc0[r]);
            }
        }
    }
    UNROLL for (int r = 0; r < R; r++) out[r * out_stride] = vhsum((vf)_mm512_add_ps(acc0[r], acc1[r]));
}
#elif defined(__AVX2__)
static int q8_vnni(void) { return 0; }

/* One block of 32 weights against one x row: the exact int32 sums, four
 * products a lane. As the AVX-512 form, |w| times x with w's sign. */
VINLINE __m256i q8_block_sums(__m256i abs_w, __m256i w, const int8_t *x)
{
    const __m256i xv = _mm256_loadu_si256((const __m256i *)x);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(abs_w, _mm256_sign_epi8(xv, w)), _mm256_set1_epi16(1));
}

/* Two chains per row, even blocks in one and odd in the other; a group of
 * eight block scales loaded straight from the row's, their products with
 * x's scales stored once and each broadcast from there as its block comes
 * (a load, not a shuffle, and no registers held). On an AMD EPYC Zen 3 host
 * one chain, with the scales copied through a stack buffer (whose narrow
 * stores a wide load cannot take forwarded) and shuffled into place, held
 * a core to 10.6 G weights/s with the matrix in cache; two chains and the
 * straight load ran 23, the broadcast 30 (scratch A/B, one thread, 3072 x
 * 768). */
VINLINE void q8_dots(const int8_t *w, const uint16_t *ws, const int8_t *xq, const float *xs,
                     int64_t len, int64_t ns, int64_t cols, const int prefetch, const int R,
                     const int vnni, float *out, int64_t out_stride)
{
    (void)vnni;
    const int64_t nb = TRIL_Q8_BLOCKS(cols);
    __m256 acc0[4], acc1[4];
    float sc[4][8] __attribute__((aligned(32)));
    UNROLL for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm256_setzero_ps();
    for (int64_t g = 0; g < nb; g += 8) {
        const int64_t gb = nb - g < 8 ? nb - g : 8;
        __m128i half;
        if (gb == 8) {
            half = _mm_loadu_si128((const __m128i *)(ws + g));
        } else { /* the row's last group: its scales may end the array */
            uint16_t part[8] = {0};
            memcpy(part, ws + g, (size_t)gb * sizeof *part);
            half = _mm_loadu_si128((const __m128i *)part);
        }
        const __m256 wsc = _mm256_cvtph_ps(half);
        UNROLL for (int r = 0; r < R; r++) _mm256_store_ps(sc[r], _mm256_mul_ps(wsc, _mm256_loadu_ps(xs + r * ns + g)));
        int64_t k = 0;
        if (gb == 8 && (g + 8) * QB <= cols) /* eight whole blocks, in pairs */
            for (; k < 8; k += 2) {
                const int64_t c = (g + k) * QB;
                if (prefetch) vprefetch_l2(w + c + TRIL_PREFETCH_BYTES);
                const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + c));
                const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + c + QB));
                const __m256i a0 = _mm256_abs_epi8(w0), a1 = _mm256_abs_epi8(w1);
                UNROLL for (int r = 0; r < R; r++) {
                    const int8_t *xr = xq + r * len + c;
                    acc0[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q8_block_sums(a0, w0, xr)),
                                              _mm256_broadcast_ss(&sc[r][k]), acc0[r]);
                    acc1[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q8_block_sums(a1, w1, xr + QB)),
                                              _mm256_broadcast_ss(&sc[r][k + 1]), acc1[r]);
                }
            }
        for (; k < gb; k++) {
            const int64_t c = (g + k) * QB;
            if (prefetch && !(k & 1)) vprefetch_l2(w + c + TRIL_PREFETCH_BYTES);
            __m256i wv;
            if (cols - c >= QB) {
                wv = _mm256_loadu_si256((const __m256i *)(w + c));
            } else { /* the row's last, short block: zeros past its end */
                int8_t tail[QB] = {0};
                memcpy(tail, w + c, (size_t)(cols - c));
                wv = _mm256_loadu_si256((const __m256i *)tail);
            }
            const __m256i aw = _mm256_abs_epi8(wv);
            UNROLL for (int r = 0; r < R; r++) {
                const __m256 sums = _mm256_cvtepi32_ps(q8_block_sums(aw, wv, xq + r * len + c));
                const __m256 scale = _mm256_broadcast_ss(&sc[r][k]);
                if (k & 1) acc1[r] = _mm256_fmadd_ps(sums, scale, acc1[r]);
                else acc0[r] = _mm256_fmadd_ps(sums, scale, acc0[r]);
            }
        }
    }
    UNROLL for (int r = 0; r < R; r++) out[r * out_stride] = vhsum((vf)_mm256_add_ps(acc0[r], acc1[r]));
}
#else
static int q8_vnni(void) { return 0; }

VINLINE void q8_dots(const int8_t *w, const uint16_t *ws, const int8_t *xq, const float *xs,
                     int64_t len, int64_t ns, int64_t cols, const int prefetch, const int R,
                     const int vnni, float *out, int64_t out_stride)
{
    (void)prefetch;
    (void)vnni;
    const int64_t nb = TRIL_Q8_BLOCKS(cols);
    for (int r = 0; r < R; r++) {
        const int8_t *xr = xq + r * len;
        float acc = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            const int64_t c1 = (b + 1) * QB < cols ? (b + 1) * QB : cols;
            int32_t s = 0;
            for (int64_t c = b * QB; c < c1; c++) s += (int32_t)w[c] * (int32_t)xr[c];
            const float scale = f16_scalar(ws[b]) * xs[r * ns + b];
            acc += (float)s * scale;
        }
        out[r * out_stride] = acc;
    }
}
#endif

/* x values rounded to the nearest integer (ties to even, as rintf and the
 * conversion instructions in the default rounding mode), clamped to
 * [-127, 127], stored as int8. */
VINLINE void round_store_i8(int8_t *q, vf v)
{
#if defined(__AVX512F__)
    __m512i i = _mm512_cvtps_epi32((__m512)v);
    i = _mm512_max_epi32(_mm512_min_epi32(i, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtepi32_epi8(i));
#elif defined(__AVX2__)
    __m256i i = _mm256_cvtps_epi32((__m256)v);
    i = _mm256_max_epi32(_mm256_min_epi32(i, _mm256_set1_epi32(127)), _mm256_set1_epi32(-127));
    int32_t t[8];
    _mm256_storeu_si256((__m256i *)t, i);
    for (int k = 0; k < 8; k++) q[k] = (int8_t)t[k];
#else
    for (int k = 0; k < TRIL_VL; k++) {
        const float r = rintf(v[k]);
        q[k] = (int8_t)(r > 127.0f ? 127 : r < -127.0f ? -127 : (int)r);
    }
#endif
}

/* One block of 32 values (zero-padded by the caller when short). */
VINLINE void quantize_x_block(int8_t *q, float *scale, const float *x)
{
    vf m = vbcast(0.0f), nonfinite = vbcast(0.0f);
    for (int k = 0; k < QB; k += TRIL_VL) {
        const vf v = vload(x + k);
        m = vmax(m, (vf)((vi)v & 0x7fffffff));
        nonfinite += v - v; /* NaN in a lane that held inf or NaN */
    }
    const float amax = vhmax(m);
    if (vhsum(nonfinite) != 0.0f || amax < TRIL_Q8_X_TINY) {
        /* NaN scale: a non-finite activation makes the products NaN, as
         * the fp32 product would be, and the logits check reports it */
        *scale = amax < TRIL_Q8_X_TINY && vhsum(nonfinite) == 0.0f ? 0.0f : NAN;
        memset(q, 0, QB);
        return;
    }
    const float s = amax / 127.0f, inv = 1.0f / s;
    *scale = s;
    for (int k = 0; k < QB; k += TRIL_VL) round_store_i8(q + k, vload(x + k) * vbcast(inv));
}

void TRIL_ISA_FN(tril_q8_quantize_x)(int8_t *xq, float *xs, const float *x, int64_t n,
                                     int64_t cols)
{
    const int64_t len = TRIL_Q8_X_LEN(cols), ns = TRIL_Q8_X_SCALES(cols);
    const int64_t nb = TRIL_Q8_BLOCKS(cols);
    for (int64_t r = 0; r < n; r++) {
        int8_t *q = xq + r * len;
        float *s = xs + r * ns;
        const float *xr = x + r * cols;
        int64_t b = 0;
        for (; (b + 1) * QB <= cols; b++) quantize_x_block(q + b * QB, s + b, xr + b * QB);
        if (b < nb) {
            float tail[QB] = {0};
            memcpy(tail, xr + b * QB, (size_t)(cols - b * QB) * sizeof *tail);
            quantize_x_block(q + b * QB, s + b, tail);
            b++;
        }
        memset(q + b * QB, 0, (size_t)(len - b * QB));
        for (; b < ns; b++) s[b] = 0.0f;
    }
}

void TRIL_ISA_FN(tril_gemv_wx_q8)(float *y, const int8_t *q, const uint16_t *scales,
                                  const int8_t *xq, const float *xs, int64_t rows, int64_t cols)
{
    const int64_t blocks = TRIL_Q8_BLOCKS(cols);
    const int vnni = q8_vnni();
#pragma omp parallel for schedule(guided, 16) num_threads(gemv_threads_rows(Q8_WORK(rows, cols), 1))
    for (int64_t r = 0; r < rows; r++) {
        if (vnni) q8_dots(q + r * cols, scales + r * blocks, xq, xs, 0, 0, cols, 1, 1, 1, y + r, 0);
        else q8_dots(q + r * cols, scales + r * blocks, xq, xs, 0, 0, cols, 1, 1, 0, y + r, 0);
    }
}

/* n x rows: a group of weight rows (about 16 KB, in L1 after the first
 * pass) runs past the x rows four at a time (q8_dots with R = 4: the
 * weights' loads, |w| and signs shared), the rest one at a time; each
 * row's arithmetic is the one-row kernel's. */
void TRIL_ISA_FN(tril_gemv_wx_q8_rows)(float *y, const int8_t *q, const uint16_t *scales,
                                       const int8_t *xq, const float *xs, int64_t n,
                                       int64_t rows, int64_t cols)
{
    const int64_t blocks = TRIL_Q8_BLOCKS(cols);
    const int64_t len = TRIL_Q8_X_LEN(cols), ns = TRIL_Q8_X_SCALES(cols);
    const int64_t group = cols < 16384 ? 16384 / cols : 1;
    const int64_t groups = (rows + group - 1) / group;
    const int vnni = q8_vnni();
#pragma omp parallel for schedule(guided, 4) num_threads(gemv_threads_rows(Q8_WORK(rows, cols), n))
    for (int64_t g = 0; g < groups; g++) {
        const int64_t v0 = g * group, v1 = v0 + group < rows ? v0 + group : rows;
        int64_t r = 0;
        for (; r + 4 <= n; r += 4)
            for (int64_t v = v0; v < v1; v++) {
                const int8_t *w = q + v * cols;
                const uint16_t *ws = scales + v * blocks;
                float *out = y + r * rows + v;
                if (vnni) q8_dots(w, ws, xq + r * len, xs + r * ns, len, ns, cols, r == 0, 4, 1, out, rows);
                else q8_dots(w, ws, xq + r * len, xs + r * ns, len, ns, cols, r == 0, 4, 0, out, rows);
            }
        for (; r < n; r++)
            for (int64_t v = v0; v < v1; v++) {
                const int8_t *w = q + v * cols;
                const uint16_t *ws = scales + v * blocks;
                float *out = y + r * rows + v;
                if (vnni) q8_dots(w, ws, xq + r * len, xs + r * ns, len, ns, cols, r == 0, 1, 1, out, rows);
                else q8_dots(w, ws, xq + r * len, xs + r * ns, len, ns, cols, r == 0, 1, 0, out, rows);
            }
    }
}

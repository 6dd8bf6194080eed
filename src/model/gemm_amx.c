/* bf16 matrix products on Intel AMX. One tile instruction multiplies up to
 * 16 rows by 32 inputs x 16 outputs of weights into fp32 sums, so several
 * rows of x cost about what one does and the weights' trip from memory is
 * the price: the sequences tril serve decodes together share it.
 *
 * x is the A operand (rows x 32 inputs), the weights the B operand (32
 * inputs as 16 pairs x 16 outputs), packed once at load in the order the
 * kernel reads them (tril_amx_pack_bf16). x's values are split in two
 * bf16 parts, so that x keeps 16 significant bits, not bf16's 8 (the
 * weights are bf16 already); each part has its own sums, added at the end.
 *
 * Batch independence: the sums for (row r, output o) read only row r's
 * parts and column o of the weights, by the same instructions in the same
 * order whatever else shares the tiles (a tile row's sums do not depend on
 * the other rows), so a row's result does not depend on M or on its
 * neighbours (tests/test_amx.c checks it bit for bit). */
#include "model/gemm_amx.h"

#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "tril/cpu.h"
#include "tril/dtype.h"

#if defined(TRIL_HAVE_X86_KERNELS) && defined(__x86_64__) && defined(__linux__) && \
    (defined(__GNUC__) || defined(__clang__))
#define TRIL_AMX_BUILD 1
#include <immintrin.h>
#endif

#define TILE 512 /* uint16 in a weight tile: 16 pairs x 16 outputs x 2 */

/* Outputs [0, n16) are packed, in blocks of 64; block b has tiles(b) tiles. */
static inline int block_tiles(int64_t N, int64_t blk)
{
    const int64_t left = N / 16 - blk * 4;
    return (int)(left < 4 ? left : 4);
}

float tril_amx_bf16_at(const uint16_t *wp, int64_t N, int64_t K, int64_t o, int64_t k)
{
    const int64_t n16 = N / 16 * 16;
    if (o >= n16) return tril_bf16_to_f32(wp[o * K + k]);
    const int64_t blk = o / 64, j = o % 64 / 16, n = o % 16, s = k / 32;
    const int nt = block_tiles(N, blk);
    return tril_bf16_to_f32(wp[blk * 64 * K + (s * nt + j) * TILE + (k % 32 / 2) * 32 + n * 2 + (k & 1)]);
}

void tril_amx_bf16_row(float *dst, const uint16_t *wp, int64_t N, int64_t K, int64_t o)
{
    for (int64_t k = 0; k < K; k++) dst[k] = tril_amx_bf16_at(wp, N, K, o, k);
}

tril_status tril_amx_pack_bf16(uint16_t *w, int64_t N, int64_t K, uint16_t *rows)
{
    if (K % 32 != 0 || N < 0)
        return TRIL_FAIL(TRIL_ERR_SHAPE, "AMX packing: %lld inputs is not a multiple of 32",
                         (long long)K);
    /* block b's packed tiles take exactly the bytes its rows took */
    for (int64_t blk = 0; blk * 64 < N / 16 * 16; blk++) {
        const int nt = block_tiles(N, blk);
        uint16_t *at = w + blk * 64 * K;
        memcpy(rows, at, (size_t)(nt * 16 * K) * sizeof *rows);
        for (int64_t s = 0; s < K / 32; s++)
            for (int j = 0; j < nt; j++) {
                uint16_t *tile = at + (s * nt + j) * TILE;
                for (int64_t pair = 0; pair < 16; pair++)
                    for (int64_t n = 0; n < 16; n++) {
                        const uint16_t *src = rows + (j * 16 + n) * K + s * 32 + pair * 2;
                        tile[pair * 32 + n * 2] = src[0];
                        tile[pair * 32 + n * 2 + 1] = src[1];
                    }
            }
    }
    return TRIL_OK;
}

#ifdef TRIL_AMX_BUILD

#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16")))
/* How far ahead of the tiles being read the stream is fetched: into L2 8
 * KB ahead (L2 keeps more misses in flight than L1's fill buffers, which
 * fetching straight into L1 spent), then into L1 2 KB ahead, so the tile
 * loads find it there. One token's products on GPT-2 124M, each against a
 * plain read of the same bytes right before it (Intel Emerald Rapids, 2
 * threads, 80 rounds): 0.94 of the read's speed, against 0.87-0.90 for
 * L1 alone 8 KB ahead, 0.90 for L2 alone, 0.85 for L2 32 KB ahead; 16 and
 * 272 rows (bound by the tile unit) the same either way. */
#define AMX_PREFETCH_L2_BYTES 8192
#define AMX_PREFETCH_L1_BYTES 2048

/* LDTILECFG's 64 bytes (see configure) */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;

/* Row r of x as two bf16 parts: p1 = v's top 16 bits, p2 = v - p1 (exact
 * in fp32) rounded to the nearest bf16, so |v - p1 - p2| <= 2^-16 |v|.
 * Part p of row r is pair q = 2 r + p, row q % 16 of A tile q / 16 (a
 * row's two parts always share a tile); a tile's 16 pairs of one 32-input
 * step lie together, 64 bytes a pair (xa[((t * steps + s) * 16 + q % 16) *
 * 32]), so each A tile is one run. */
__attribute__((target("avx512f"))) static void split_row(uint16_t *xa, const float *xr, int64_t K,
                                                         int64_t r)
{
    const __m512i top = _mm512_set1_epi32((int)0xffff0000u), half = _mm512_set1_epi32(0x7fff);
    const __m512i one = _mm512_set1_epi32(1);
    const int64_t steps = K / 32;
    uint16_t *part[2];
    for (int p = 0; p < 2; p++) {
        const int64_t q = 2 * r + p;
        part[p] = xa + ((q / 16) * steps * 16 + q % 16) * 32;
    }
    for (int64_t k = 0; k < K; k += 16) {
        const int64_t at = (k / 32) * 16 * 32 + k % 32;
        const __m512 v = _mm512_loadu_ps(xr + k);
        const __m512 h1 = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), top));
        /* v - h1 is finite and far below the largest float where v is
         * finite: round to nearest even by adding 0x7fff + the kept lsb */
        const __m512i v2 = _mm512_castps_si512(_mm512_sub_ps(v, h1));
        const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(v2, 16), one);
        const __m512i h2 = _mm512_add_epi32(v2, _mm512_add_epi32(half, lsb));
        _mm256_storeu_si256((__m256i *)(part[0] + at),
                            _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(h1), 16)));
        _mm256_storeu_si256((__m256i *)(part[1] + at),
                            _mm512_cvtepi32_epi16(_mm512_srli_epi32(h2, 16)));
    }
}

/* Each (row, part) pair has its own row of sums, and y = part 1's sums +
 * part 2's: a pair's sums depend only on the pair and the weights, not on
 * which tile row holds it, so the 2 M pairs fill A tiles of 16 whatever
 * rows they belong to, and each weight tile meets each A tile once (16
 * rows of x: two passes, 8 tile products per 32-input step). Adding the
 * parts into one sum per row would take a product per part per weight
 * tile whatever M is, and made one sequence alone 10-25 % slower than the
 * AVX-512 path (Intel Emerald Rapids); this way it keeps pace.
 *
 * Why two parts, not three (which hold every fp32 x exactly): the tile
 * unit, not memory, sets the pace from 6 rows up, and a third part costs a
 * pass more at 8 and 16 rows (GPT-2 124M's layer matrices past the L3,
 * medians, three parts -> two: 8 rows 10.1-12.8 -> 6.9-7.5 ms, 16 rows
 * 12.2-15.3 -> 9.6-11.3, one row 7.2-8.7 either way; Emerald Rapids, 2
 * threads), for an error of at most 2^-16 of each x value, 128 times below
 * the bf16 weights' own rounding. */

/* palette 1: sums 0-3 (four weight tiles a pass), pairs 4, weights 5 and 7
 * in turn; `rows` pairs */
AMX_TARGET static void configure(int rows)
{
    amx_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 5; t++) {
        c.rows[t] = (uint8_t)rows;
        c.colsb[t] = 64;
    }
    c.rows[5] = c.rows[7] = 16;
    c.colsb[5] = c.colsb[7] = 64;
    /* GCC's _tile_loadconfig tells the compiler it reads 8 bytes: without
     * this the other stores to c are dropped as dead */
    __asm__ volatile("" : : "r"(&c) : "memory");
    _tile_loadconfig(&c);
}

AMX_TARGET static void release_tiles(void) { _tile_release(); }

/* One A tile's sums for block blk of outputs (nt weight tiles, their steps
 * interleaved: tile (s, j) at (s nt + j) tiles), into sums[pair][output]. */
AMX_TARGET static void tile_pass(float sums[16][64], const uint16_t *xt, const uint16_t *wp,
                                 int64_t K, int64_t blk, int nt, int prefetch, int64_t next_blk)
{
    const uint16_t *w = wp + blk * 64 * K;
    const int64_t steps = K / 32;
    /* past the block's end the prefetch runs on into the next block this
     * thread takes (next_blk; none: < 0), not into the one after it in
     * memory, which the other threads are likely to take */
    const char *end = (const char *)(w + steps * nt * TILE);
    const char *next = next_blk >= 0 ? (const char *)(wp + next_blk * 64 * K) : NULL;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t s = 0; s < steps; s++) { /* every weight tile once, in memory order */
        _tile_loadd(4, xt + s * 16 * 32, 64);
        const uint16_t *ws = w + s * nt * TILE;
        if (prefetch) /* the weights ahead, once per block (first pass) */
            for (int64_t off = 0; off < nt * TILE * 2; off += 64) {
                const char *l2 = (const char *)ws + AMX_PREFETCH_L2_BYTES + off;
                const char *l1 = (const char *)ws + AMX_PREFETCH_L1_BYTES + off;
                if (l2 >= end) l2 = next ? next + (l2 - end) : NULL;
                if (l1 >= end) l1 = next ? next + (l1 - end) : NULL;
                if (l2) _mm_prefetch(l2, _MM_HINT_T1);
                if (l1) _mm_prefetch(l1, _MM_HINT_T0);
            }
        _tile_loadd(7, ws, 64);
        _tile_dpbf16ps(0, 4, 7);
        if (nt > 1) {
            _tile_loadd(5, ws + TILE, 64);
            _tile_dpbf16ps(1, 4, 5);
        }
        if (nt > 2) {
            _tile_loadd(7, ws + 2 * TILE, 64);
            _tile_dpbf16ps(2, 4, 7);
        }
        if (nt > 3) {
            _tile_loadd(5, ws + 3 * TILE, 64);
            _tile_dpbf16ps(3, 4, 5);
        }
    }
    _tile_stored(0, &sums[0][0], 256);
    if (nt > 1) _tile_stored(1, &sums[0][16], 256);
    if (nt > 2) _tile_stored(2, &sums[0][32], 256);
    if (nt > 3) _tile_stored(3, &sums[0][48], 256);
}

/* Block blk of outputs for all M rows: the A tiles in turn, each writing
 * the rows whose two parts it holds. */
AMX_TARGET static void block_all(float *y, const uint16_t *xa, const uint16_t *wp, const float *b,
                                 int64_t M, int64_t K, int64_t N, int64_t blk, int64_t next_blk,
                                 int *configured)
{
    const int nt = block_tiles(N, blk), width = nt * 16;
    const int64_t pairs = 2 * M, a_tiles = (pairs + 15) / 16, o0 = blk * 64;
    float sums[16][64];
    for (int64_t t = 0; t < a_tiles; t++) {
        const int rows = (int)(pairs - 16 * t < 16 ? pairs - 16 * t : 16);
        if (rows != *configured) configure(*configured = rows);
        tile_pass(sums, xa + t * (K / 32) * 16 * 32, wp, K, blk, nt, t == 0, next_blk);
        for (int q = 0; q < rows; q += 2) {
            const float *p1 = sums[q], *p2 = sums[q + 1];
            float *yr = y + (8 * t + q / 2) * N + o0;
            for (int o = 0; o < width; o++) {
                const float v = p1[o] + p2[o];
                yr[o] = b ? v + b[o0 + o] : v;
            }
        }
    }
}

tril_status tril_amx_matmul_bf16(float *y, const float *x, const uint16_t *wp, const float *b,
                                 int64_t M, int64_t K, int64_t N)
{
    if (!tril_cpu_use_amx())
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "bf16 matmul: AMX is not available here");
    if (K % 32 != 0)
        return TRIL_FAIL(TRIL_ERR_SHAPE, "bf16 matmul on AMX: %lld inputs is not a multiple of 32",
                         (long long)K);
    if (M <= 0 || N <= 0) return TRIL_OK;
    const int64_t n16 = N / 16 * 16, blocks = (n16 / 16 + 3) / 4, a_tiles = (2 * M + 15) / 16;
    uint16_t *xa = malloc((size_t)(a_tiles * 16 * K) * sizeof *xa); /* rows past a tile's pairs: unread */
    if (!xa)
        return TRIL_FAIL(TRIL_ERR_NOMEM, "bf16 matmul: out of memory for %lld rows of x",
                         (long long)M);
    const int threads = tril_get_num_threads();
    int64_t taken = 0; /* blocks handed out */
#pragma omp parallel num_threads(blocks < threads ? (int)(blocks > 0 ? blocks : 1) : threads)
    {
#pragma omp for schedule(static)
        for (int64_t r = 0; r < M; r++) split_row(xa, x + r * K, K, r);
        int configured = 0;
        /* which thread takes a block does not change its sums; its
         * prefetch runs on into the next block it holds */
        int64_t mine = tril_take_item(&taken);
        while (mine < blocks) {
            const int64_t after = tril_take_item(&taken);
            block_all(y, xa, wp, b, M, K, N, mine, after < blocks ? after : -1, &configured);
            mine = after;
        }
        if (configured) release_tiles();
    }
    free(xa);
    /* the N % 16 outputs past the tiles, rows as stored, in fp32 */
    for (int64_t o = n16; o < N; o++)
        for (int64_t r = 0; r < M; r++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < K; k++) acc += x[r * K + k] * tril_bf16_to_f32(wp[o * K + k]);
            y[r * N + o] = b ? acc + b[o] : acc;
        }
    return TRIL_OK;
}

#else

tril_status tril_amx_matmul_bf16(float *y, const float *x, const uint16_t *wp, const float *b,
                                 int64_t M, int64_t K, int64_t N)
{
    (void)y, (void)x, (void)wp, (void)b, (void)M, (void)K, (void)N;
    return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "bf16 matmul: AMX is not in this build");
}

#endif

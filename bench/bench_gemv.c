/* Decoding's matrix-vector products against the machine's memory bandwidth.
 *
 * One token of GPT-2 124M streams every layer matrix once: 12 layers of
 * [768, 2304], [768, 768], [768, 3072], [3072, 768] (340 MB in fp32), then
 * the tied head [50257, 768]. This times, over that set of matrices (each
 * distinct, so nothing is cached between them), best of `rounds`:
 *   openblas cblas_sgemv on the Conv1D layout [in, out],
 *   tril     tril_matvec (blocks of contiguous rows, taken by free threads),
 *   bf16     tril_matvec_bf16 on the transposed bf16 copy (half the bytes),
 *   int8     the int8 GEMV on the transposed Q8_0 copy (1.0625 bytes a weight: a 2-byte scale per 32),
 * and the head: tril_lm_head / tril_lm_head_bf16 / tril_lm_head_q8 for one
 * row.
 * Prints GB/s, and each as a fraction of the streaming-read limit
 * (tril_cpu_stream_gbps) measured right before it (the machine's bandwidth
 * drifts). Usage: bench_gemv [rounds] [--rows N]
 *
 * With --rows N (tril serve: one decoding token of each of N sequences),
 * times instead the several-row kernels tril_matvec_rows,
 * tril_matvec_bf16_rows and tril_lm_head_rows for N rows, and prints
 * GFLOP/s against the machine's measured peak beside GB/s: with many rows
 * the weights are read once for all of them and the FMA units, not the
 * memory, should set the pace. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "tril/cpu.h"
#include "tril/dtype.h"
#include "tril/ops.h"
#include "tril/rng.h"
#include "tril/timing.h"

enum { LAYERS = 12, SHAPES = 4 };
#define Q8_BYTES_PER_WEIGHT (1.0 + 2.0 / TRIL_Q8_BLOCK) /* an fp16 scale per block */
static const int64_t shape[SHAPES][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};

typedef struct {
    float *w[LAYERS][SHAPES];     // [in, out]
    uint16_t *wt[LAYERS][SHAPES]; // [out, in] bf16
    int8_t *q[LAYERS][SHAPES];    // [out, in] int8
    uint16_t *qs[LAYERS][SHAPES]; // its fp16 scales
    int8_t *headq;                // [V, C] int8
    uint16_t *headqs;
    float *head;                  // [V, C]
    uint16_t *head16;             // [V, C]
    float *x, *y, *partials;
    int64_t rows; // several-row mode: rows per pass (0: one-row kernels)
    double bytes32;
} bench_set;

static void *must(void *p)
{
    if (!p) {
        fprintf(stderr, "bench_gemv: out of memory\n");
        exit(1);
    }
    return p;
}

static void fill(float *x, int64_t n, uint32_t seed)
{
    tril_rng rng;
    tril_rng_seed(&rng, seed);
    for (int64_t i = 0; i < n; i++) x[i] = (float)tril_rng_uniform(&rng) - 0.5f;
}

static void setup(bench_set *b)
{
    const int64_t rows = b->rows;
    memset(b, 0, sizeof *b);
    b->rows = rows;
    for (int l = 0; l < LAYERS; l++)
        for (int s = 0; s < SHAPES; s++) {
            const int64_t in = shape[s][0], out = shape[s][1];
            b->w[l][s] = must(malloc((size_t)(in * out) * 4));
            b->wt[l][s] = must(malloc((size_t)(in * out) * 2));
            b->q[l][s] = must(malloc((size_t)(in * out)));
            b->qs[l][s] = must(malloc((size_t)TRIL_Q8_SCALES(out, in) * sizeof(uint16_t)));
            fill(b->w[l][s], in * out, (uint32_t)(l * 7 + s));
            for (int64_t i = 0; i < in; i++)
                for (int64_t o = 0; o < out; o++) b->wt[l][s][o * in + i] = tril_f32_to_bf16(b->w[l][s][i * out + o]);
            float *t = must(malloc((size_t)(in * out) * 4)); /* [out, in] for quantising */
            for (int64_t i = 0; i < in; i++)
                for (int64_t o = 0; o < out; o++) t[o * in + i] = b->w[l][s][i * out + o];
            if (tril_q8_quantize(b->q[l][s], b->qs[l][s], t, out, in) != TRIL_OK) must(NULL);
            free(t);
            b->bytes32 += (double)(in * out) * 4;
        }
    b->head = must(malloc((size_t)50257 * 768 * 4));
    b->head16 = must(malloc((size_t)50257 * 768 * 2));
    fill(b->head, 50257 * 768, 99);
    tril_convert_from_f32(b->head16, TRIL_BF16, b->head, (size_t)50257 * 768);
    b->headq = must(malloc((size_t)50257 * 768));
    b->headqs = must(malloc((size_t)TRIL_Q8_SCALES(50257, 768) * sizeof(uint16_t)));
    if (tril_q8_quantize(b->headq, b->headqs, b->head, 50257, 768) != TRIL_OK) must(NULL);
    const int64_t n = b->rows > 0 ? b->rows : 1;
    /* rows on a cache line, as the engine's (a row's vector loads would
     * otherwise straddle two lines) */
    b->x = must(aligned_alloc(64, (size_t)n * 3072 * 4));
    b->y = must(aligned_alloc(64, ((size_t)n * 50257 * 4 + 63) / 64 * 64));
    b->partials = must(malloc((size_t)(n * TRIL_MATVEC_PARTIALS(3072)) * 4));
    fill(b->x, n * 3072, 5);
}

static void layers(bench_set *b, int kind)
{
    for (int l = 0; l < LAYERS; l++)
        for (int s = 0; s < SHAPES; s++) {
            const int64_t in = shape[s][0], out = shape[s][1];
            if (kind == 1) /* the fixed shapes above fit any blasint */
                cblas_sgemv(CblasRowMajor, CblasTrans, (blasint)in, (blasint)out, 1.0f, b->w[l][s],
                            (blasint)out, b->x, 1, 0.0f, b->y, 1);
            else if (kind == 2)
                tril_matvec(b->y, b->x, b->w[l][s], NULL, in, out, b->partials);
            else if (kind == 10)
                tril_matmul_q8(b->y, b->x, b->q[l][s], b->qs[l][s], NULL, 1, in, out, NULL);
            else if (kind == 6)
                tril_matvec_rows(b->y, b->x, b->w[l][s], NULL, b->rows, in, out, b->partials);
            else if (kind == 7)
                tril_matvec_bf16_rows(b->y, b->x, b->wt[l][s], NULL, b->rows, in, out);
            else if (kind == 12)
                tril_matvec_q8_rows(b->y, b->x, b->q[l][s], b->qs[l][s], NULL, b->rows, in, out);
            else
                tril_matvec_bf16(b->y, b->x, b->wt[l][s], NULL, in, out);
        }
}

static double best_seconds(bench_set *b, int kind, int rounds)
{
    double best = 1e30;
    for (int r = 0; r < rounds; r++) {
        double t0 = tril_now();
        switch (kind) {
        case 4: tril_lm_head(b->y, b->x, b->head, 1, 768, 50257); break;
        case 5: tril_lm_head_bf16(b->y, b->x, b->head16, 1, 768, 50257, NULL, 0); break;
        case 11: tril_lm_head_q8(b->y, b->x, b->headq, b->headqs, 1, 768, 50257, NULL, 0); break;
        case 8: tril_lm_head_rows(b->y, b->x, b->head, NULL, b->rows, 768, 50257); break;
        case 9: tril_lm_head_rows(b->y, b->x, NULL, b->head16, b->rows, 768, 50257); break;
        case 13: tril_lm_head_q8_rows(b->y, b->x, b->headq, b->headqs, b->rows, 768, 50257); break;
        default: layers(b, kind); break;
        }
        double dt = tril_now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

static int rows_mode(bench_set *b, int rounds)
{
    const double head = 50257.0 * 768, layer_weights = b->bytes32 / 4;
    const struct { const char *name; int kind; double weights, bytes_per_weight; } runs[] = {
        {"tril_matvec_rows", 6, layer_weights, 4}, {"tril_matvec_bf16_rows", 7, layer_weights, 2},
        {"tril_lm_head_rows", 8, head, 4}, {"tril_lm_head_rows_bf16", 9, head, 2},
        {"tril_matvec_q8_rows", 12, layer_weights, Q8_BYTES_PER_WEIGHT},
        {"tril_lm_head_q8_rows", 13, head, Q8_BYTES_PER_WEIGHT},
    };
    const double peak = tril_cpu_peak_gflops(0.3);
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        const double limit = tril_cpu_stream_gbps(0.3);
        const double t = best_seconds(b, runs[i].kind, rounds);
        const double gflops = 2.0 * runs[i].weights * (double)b->rows / t * 1e-9;
        const double gbps = runs[i].weights * runs[i].bytes_per_weight / t * 1e-9;
        printf("bench=gemv_rows kernel=%s rows=%lld ms=%.2f gflops=%.1f peak_gflops=%.1f "
               "of_peak=%.3f gbps=%.1f limit_gbps=%.1f\n",
               runs[i].name, (long long)b->rows, t * 1e3, gflops, peak, gflops / peak, gbps, limit);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = 10;
    int64_t rows = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc) rows = atoll(argv[++i]);
        else rounds = atoi(argv[i]);
    }
    if (rounds < 1 || rounds > 1000 || rows < 0 || rows > 256) {
        fprintf(stderr, "usage: bench_gemv [rounds 1..1000] [--rows 1..256]\n");
        return 2;
    }
    bench_set b;
    b.rows = rows;
    setup(&b);
    if (rows > 0) return rows_mode(&b, rounds);
    const double head32 = 50257.0 * 768 * 4;
    const struct { const char *name; int kind; double bytes; } runs[] = {
        {"openblas_sgemv", 1, b.bytes32}, {"tril_matvec", 2, b.bytes32},
        {"tril_matvec_bf16", 3, b.bytes32 / 2}, {"tril_matvec_q8", 10, b.bytes32 / 4 * Q8_BYTES_PER_WEIGHT},
        {"tril_lm_head", 4, head32}, {"tril_lm_head_bf16", 5, head32 / 2},
        {"tril_lm_head_q8", 11, head32 / 4 * Q8_BYTES_PER_WEIGHT},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        const double limit = tril_cpu_stream_gbps(0.3);
        const double t = best_seconds(&b, runs[i].kind, rounds);
        const double gbps = runs[i].bytes / t * 1e-9;
        printf("bench=gemv kernel=%s mb=%.0f ms=%.2f gbps=%.1f limit_gbps=%.1f of_limit=%.3f\n",
               runs[i].name, runs[i].bytes / 1e6, t * 1e3, gbps, limit, gbps / limit);
    }
    return 0;
}

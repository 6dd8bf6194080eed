/* The learning-rate schedule (linear warm-up, cosine decay) and global
 * gradient-norm clipping. */
#include <math.h>
#include <stdlib.h>

#include "tril/train.h"

float tril_lr_at(int64_t step, int64_t warmup, int64_t total, float max_lr, float min_lr)
{
    if (step < 0) step = 0;
    if (warmup > 0 && step < warmup) return (float)((double)max_lr * (double)(step + 1) / (double)warmup);
    if (step >= total || total <= warmup) return min_lr;
    const double progress = (double)(step - warmup) / (double)(total - warmup);
    const double pi = 3.14159265358979323846;
    return (float)((double)min_lr +
                   0.5 * ((double)max_lr - (double)min_lr) * (1.0 + cos(pi * progress)));
}

/* Partial sums over fixed chunks (TRIL_GRAD_CHUNK values), added up in
 * chunk order: the norm (and so every clipped gradient) is bit-identical
 * whatever the thread count, which resuming a run exactly relies on, and
 * whatever the number of ranks, each of which sums the chunks of its shard. */
static double chunk_sumsq(const float *g, int64_t n, int64_t c)
{
    const int64_t lo = c * TRIL_GRAD_CHUNK, hi = lo + TRIL_GRAD_CHUNK < n ? lo + TRIL_GRAD_CHUNK : n;
    /* eight interleaved sums (a fixed order, so still deterministic) instead
     * of one long chain of dependent adds */
    double s[8] = {0};
    int64_t i = lo;
    for (; i + 8 <= hi; i += 8)
        for (int k = 0; k < 8; k++) s[k] += (double)g[i + k] * (double)g[i + k];
    for (; i < hi; i++) s[0] += (double)g[i] * (double)g[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

int64_t tril_grad_chunks(int64_t n)
{
    return n > 0 ? (n - 1) / TRIL_GRAD_CHUNK + 1 : 0;
}

void tril_grad_chunk_sumsq(const float *grads, int64_t n, double *sums)
{
    if (!grads || !sums || n <= 0) return;
    const int64_t chunks = tril_grad_chunks(n);
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (int64_t c = 0; c < chunks; c++) sums[c] = chunk_sumsq(grads, n, c);
}

double tril_grad_norm_of_chunks(const double *sums, int64_t chunks)
{
    double sum = 0.0;
    for (int64_t c = 0; sums && c < chunks; c++) sum += sums[c];
    return sqrt(sum);
}

double tril_grad_norm(const float *grads, int64_t n)
{
    if (!grads || n <= 0) return 0.0;
    const int64_t chunks = tril_grad_chunks(n);
    double stack_sums[64];
    double *sums = chunks <= 64 ? stack_sums : malloc((size_t)chunks * sizeof *sums);
    if (!sums) { /* out of memory: the same chunks in the same order on one thread */
        double sum = 0.0;
        for (int64_t c = 0; c < chunks; c++) sum += chunk_sumsq(grads, n, c);
        return sqrt(sum);
    }
    tril_grad_chunk_sumsq(grads, n, sums);
    const double norm = tril_grad_norm_of_chunks(sums, chunks);
    if (sums != stack_sums) free(sums);
    return norm;
}

float tril_clip_coef(double norm, float max_norm)
{
    /* torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6),
     * clamped to 1 (so gradients under the limit are untouched). */
    if (!(max_norm > 0.0f) || !isfinite(norm)) return 1.0f;
    const double coef = (double)max_norm / (norm + 1e-6);
    return coef < 1.0 ? (float)coef : 1.0f;
}

double tril_clip_grad_norm(float *grads, int64_t n, float max_norm)
{
    if (!grads || n <= 0) return 0.0;
    const double norm = tril_grad_norm(grads, n);
    const float c = tril_clip_coef(norm, max_norm);
    if (c != 1.0f) {
#pragma omp parallel for schedule(static) if (n > TRIL_GRAD_CHUNK)
        for (int64_t i = 0; i < n; i++) grads[i] *= c;
    }
    return norm;
}

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

/* Partial sums over fixed chunks, added up in chunk order: the norm (and so
 * every clipped gradient) is bit-identical whatever the thread count, which
 * resuming a run exactly relies on. */
#define CLIP_CHUNK ((int64_t)1 << 16)

static double chunk_sumsq(const float *g, int64_t n, int64_t c)
{
    const int64_t lo = c * CLIP_CHUNK, hi = lo + CLIP_CHUNK < n ? lo + CLIP_CHUNK : n;
    /* eight interleaved sums (a fixed order, so still deterministic) instead
     * of one long chain of dependent adds */
    double s[8] = {0};
    int64_t i = lo;
    for (; i + 8 <= hi; i += 8)
        for (int k = 0; k < 8; k++) s[k] += (double)g[i + k] * (double)g[i + k];
    for (; i < hi; i++) s[0] += (double)g[i] * (double)g[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

double tril_grad_norm(const float *grads, int64_t n)
{
    if (!grads || n <= 0) return 0.0;
    const int64_t chunks = (n + CLIP_CHUNK - 1) / CLIP_CHUNK;
    double stack_parts[64];
    double *parts = chunks <= 64 ? stack_parts : malloc((size_t)chunks * sizeof *parts);
    double sum = 0.0;
    if (!parts) { /* out of memory: the same chunked order on one thread */
        for (int64_t c = 0; c < chunks; c++) sum += chunk_sumsq(grads, n, c);
    } else {
#pragma omp parallel for schedule(static) if (chunks > 1)
        for (int64_t c = 0; c < chunks; c++) parts[c] = chunk_sumsq(grads, n, c);
        for (int64_t c = 0; c < chunks; c++) sum += parts[c];
        if (parts != stack_parts) free(parts);
    }
    return sqrt(sum);
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
#pragma omp parallel for schedule(static) if (n > CLIP_CHUNK)
        for (int64_t i = 0; i < n; i++) grads[i] *= c;
    }
    return norm;
}

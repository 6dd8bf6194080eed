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
    double s = 0.0;
    for (int64_t i = lo; i < hi; i++) s += (double)g[i] * (double)g[i];
    return s;
}

double tril_clip_grad_norm(float *grads, int64_t n, float max_norm)
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
    const double norm = sqrt(sum);
    /* torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6),
     * clamped to 1 (so gradients under the limit are untouched). */
    if (max_norm > 0.0f && isfinite(norm)) {
        const double coef = (double)max_norm / (norm + 1e-6);
        if (coef < 1.0) {
            const float c = (float)coef;
#pragma omp parallel for schedule(static) if (n > CLIP_CHUNK)
            for (int64_t i = 0; i < n; i++) grads[i] *= c;
        }
    }
    return norm;
}

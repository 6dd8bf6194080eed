/* The pieces of data-parallel training that fix its arithmetic, whatever
 * carries the bytes between ranks: how the arena is cut into shards, and
 * the one order in which micro-batch gradients are summed. A run on N ranks
 * with K micro-batches each and one process with N * K micro-batches call
 * these with the same values in the same order, which is what makes their
 * results the same bits (docs/DISTRIBUTED.md). */
#include <string.h>

#include "tril/train.h"

void tril_shard_range(int64_t n, int rank, int world, int64_t *lo, int64_t *hi)
{
    if (n < 0) n = 0;
    if (world < 1) world = 1;
    if (rank < 0) rank = 0;
    if (rank > world) rank = world;
    /* whole chunks of the norm, so that each chunk's sum is one rank's;
     * chunks * rank fits: chunks < 2^47 and world is an int */
    const int64_t chunks = tril_grad_chunks(n);
    const int64_t c0 = chunks * rank / world, c1 = chunks * (rank + 1 < world ? rank + 1 : world) / world;
    const int64_t a = c0 * TRIL_GRAD_CHUNK, b = c1 * TRIL_GRAD_CHUNK;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

void tril_grad_fold(float *total, const float *grads, int64_t n, int first)
{
    if (!total || !grads || n <= 0) return;
    if (first) {
        if (total == grads) return; /* computed in place: already the total */
        memcpy(total, grads, (size_t)n * sizeof *total); /* not 0 + g: -0 stays -0 */
        return;
    }
#pragma omp parallel for simd schedule(static) if (n > 262144)
    for (int64_t i = 0; i < n; i++) total[i] += grads[i];
}

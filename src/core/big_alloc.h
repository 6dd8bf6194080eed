/* Large buffers that are streamed over and over (a model's weights, the
 * bandwidth probe's buffer) or read all over every token (KV caches). */
#ifndef TRIL_CORE_BIG_ALLOC_H
#define TRIL_CORE_BIG_ALLOC_H

#include <stddef.h>

/* `bytes` aligned to 2 MB and, where the kernel offers it, advised for
 * transparent huge pages (Linux's default mode, "madvise", gives them only
 * on request). Decoding streams every weight once per token: with 4 KB
 * pages a 250 MB model is 61,000 TLB entries a token, and the bf16 GEMVs
 * measured 8-9 % faster on 2 MB pages. zero: the memory reads as zeros.
 * NULL when out of memory; release with free(). */
void *tril_big_alloc(size_t bytes, int zero);

/* `count` x `size` bytes as tril_big_alloc gives them, for a buffer read
 * all over every token but not streamed end to end: a KV cache. A cache
 * of 1 MB or more is rounded up to whole 2 MB pages (less than 2 MB more)
 * so that all of it is on huge pages: once a token's weights have
 * streamed through every cache level, the attention reads its rows from
 * memory, and on 4 KB pages each page takes its own translation and a new
 * prefetcher run (a layer's attention at 124M, positions 16-56, 28-32 ->
 * 24-26 us; docs/BENCHMARKS.md). NULL when count is 0, on overflow
 * or when out of memory; release with free(). */
void *tril_big_alloc_array(size_t count, size_t size, int zero);

/* `count` x `size` bytes on a 64-byte cache line (rounded up to whole
 * lines): buffers whose rows the kernels load as vectors (activations,
 * scratch). From malloc a large buffer starts 16 bytes past a page, and
 * every 64-byte vector load of its rows then straddles two lines (the
 * 16-row LM head measured 89 -> 112 GFLOP/s on one core, aligned). zero:
 * the memory reads as zeros. NULL when count is 0, on overflow or when out
 * of memory; release with free(). */
void *tril_line_alloc(size_t count, size_t size, int zero);

#endif

/* tril_big_alloc and tril_line_alloc (core/big_alloc.h). */
#include "core/big_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { HUGE_PAGE = 2u << 20 };

void *tril_big_alloc(size_t bytes, int zero)
{
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, bytes ? bytes : 1) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    /* advice only: without huge pages the buffer works the same */
    if (bytes >= HUGE_PAGE) (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    if (zero) memset(p, 0, bytes);
    return p;
}

void *tril_big_alloc_array(size_t count, size_t size, int zero)
{
    if (count == 0 || size == 0 || count > (SIZE_MAX - HUGE_PAGE) / size) return NULL;
    size_t bytes = count * size;
    if (bytes >= HUGE_PAGE / 2) bytes = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    return tril_big_alloc(bytes, zero);
}

void *tril_line_alloc(size_t count, size_t size, int zero)
{
    enum { LINE = 64 };
    if (count == 0 || size == 0 || count > (SIZE_MAX - LINE) / size) return NULL;
    const size_t bytes = (count * size + LINE - 1) / LINE * LINE; /* aligned_alloc: whole lines */
    void *p = aligned_alloc(LINE, bytes);
    if (p && zero) memset(p, 0, bytes);
    return p;
}

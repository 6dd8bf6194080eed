/* tril_big_alloc (core/big_alloc.h). */
#include "core/big_alloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *tril_big_alloc(size_t bytes, int zero)
{
    enum { HUGE_PAGE = 2u << 20 };
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, bytes ? bytes : 1) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    /* advice only: without huge pages the buffer works the same */
    if (bytes >= HUGE_PAGE) (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    if (zero) memset(p, 0, bytes);
    return p;
}

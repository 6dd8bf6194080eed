/* The one way tril picks a per-ISA kernel.
 *
 * A kernel source listed in TRIL_ISA_SOURCES (CMakeLists.txt) is compiled
 * once per instruction set (generic, AVX2, AVX-512) with TRIL_ISA_SUFFIX set
 * to that set's name, and names each function it exports TRIL_ISA_FN(name).
 * Each layer with kernels keeps one table type (a struct of function
 * pointers, in its kernels.h) and one kernel_table.c, itself compiled per
 * ISA, that fills TRIL_ISA_FN(<table name>). Callers reach a kernel through
 * TRIL_ISA_TABLE(<table name>): the table of the ISA chosen once per process
 * (tril_cpu_best_isa). Adding a kernel: its file (one line in
 * TRIL_ISA_SOURCES) and one entry in its layer's table. */
#ifndef TRIL_CORE_ISA_H
#define TRIL_CORE_ISA_H

#include <stddef.h>

#include "tril/cpu.h"

#define TRIL_ISA_CAT_(a, b) a##b
#define TRIL_ISA_CAT(a, b) TRIL_ISA_CAT_(a, b)
/* This build's name for `name`: name_generic, name_avx2 or name_avx512. */
#define TRIL_ISA_FN(name) TRIL_ISA_CAT(name##_, TRIL_ISA_SUFFIX)

/* Declares the per-ISA tables of one layer: `extern const type name_<isa>`. */
#define TRIL_ISA_DECLARE_TABLES(type, name)                                    \
    extern const type name##_generic;                                          \
    extern const type name##_avx2;                                             \
    extern const type name##_avx512

/* The avx2/avx512 builds exist only on x86-64 (CMakeLists.txt). */
#ifdef TRIL_HAVE_X86_KERNELS
#define TRIL_ISA_X86_ONLY(x) (x)
#else
#define TRIL_ISA_X86_ONLY(x) NULL
#endif

/* by_isa[isa] if this build has it, else the generic table by_isa[0]. */
static inline const void *tril_isa_select(const void *const by_isa[3], tril_isa isa)
{
    const unsigned i = (unsigned)isa;
    return i < 3 && by_isa[i] ? by_isa[i] : by_isa[0];
}

/* The table `name` for a given ISA, and for the ISA in use. */
#define TRIL_ISA_TABLE_FOR(name, isa)                                          \
    ((const __typeof__(name##_generic) *)tril_isa_select(                      \
        (const void *const[3]){&name##_generic, TRIL_ISA_X86_ONLY(&name##_avx2), \
                               TRIL_ISA_X86_ONLY(&name##_avx512)},             \
        (isa)))
#define TRIL_ISA_TABLE(name) TRIL_ISA_TABLE_FOR(name, tril_cpu_best_isa())

#endif

/* Row-major single-precision GEMM through OpenBLAS, with as many threads as
 * the product's size pays for (core/parallel.h): OpenBLAS alone would split
 * any product above ~0.5 MFLOP across every thread. */
#ifndef TRIL_MODEL_GEMM_H
#define TRIL_MODEL_GEMM_H

#include <cblas.h>
#include <stdint.h>

#include "tril/error.h"
#include "tril/ops.h"

/* The largest size BLAS takes: blasint is 32-bit in a default OpenBLAS
 * build, 64-bit in an INTERFACE64 one. */
#define TRIL_BLASINT_MAX (sizeof(blasint) >= sizeof(int64_t) ? INT64_MAX : (int64_t)INT32_MAX)

/* C = alpha op(A) op(B) + beta C, row-major, as cblas_sgemm. A size or
 * leading dimension outside [0, TRIL_BLASINT_MAX] is TRIL_ERR_RANGE (BLAS
 * would see it truncated); nothing is computed then. */
tril_status tril_sgemm(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int64_t m, int64_t n,
                       int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float beta, float *c, int64_t ldc);

#endif

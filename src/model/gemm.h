/* Row-major single-precision GEMM through OpenBLAS, with as many threads as
 * the product's size pays for (core/parallel.h): OpenBLAS alone would split
 * any product above ~0.5 MFLOP across every thread. */
#ifndef TRIL_MODEL_GEMM_H
#define TRIL_MODEL_GEMM_H

#include <cblas.h>
#include <stdint.h>

/* C = alpha op(A) op(B) + beta C, row-major, as cblas_sgemm. */
void tril_sgemm(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int64_t m, int64_t n, int64_t k,
                float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                float *c, int64_t ldc);

#endif

/* GEMM with a thread count sized to the product (see gemm.h). */
#include "model/gemm.h"

#include "core/parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int64_t tril_blas_int_max(void) { return TRIL_BLASINT_MAX; }

tril_status tril_sgemm(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int64_t m, int64_t n,
                       int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float beta, float *c, int64_t ldc)
{
    const int64_t dims[6] = {m, n, k, lda, ldb, ldc};
    static const char *const names[6] = {"m", "n", "k", "lda", "ldb", "ldc"};
    for (int i = 0; i < 6; i++)
        if (dims[i] < 0 || dims[i] > TRIL_BLASINT_MAX)
            return TRIL_FAIL(TRIL_ERR_RANGE,
                             "GEMM %lld x %lld x %lld: %s = %lld is outside this BLAS's integer "
                             "range [0, %lld]",
                             (long long)m, (long long)n, (long long)k, names[i],
                             (long long)dims[i], (long long)TRIL_BLASINT_MAX);
    /* OpenBLAS's OpenMP build uses omp_get_max_threads() at each call. */
    const int max = tril_get_num_threads();
    const int want = tril_threads_for(2.0 * (double)m * (double)n * (double)k);
#ifdef _OPENMP
    if (want < max) omp_set_num_threads(want);
#endif
    cblas_sgemm(CblasRowMajor, trans_a, trans_b, (blasint)m, (blasint)n, (blasint)k, alpha, a,
                (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
#ifdef _OPENMP
    if (want < max) omp_set_num_threads(max);
#endif
    return TRIL_OK;
}

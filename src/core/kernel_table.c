/* The core layer's kernel table for this ISA build (src/core/isa.h). */
#include "core/kernels.h"

double TRIL_ISA_FN(tril_peak_gflops)(double seconds);
double TRIL_ISA_FN(tril_stream_pass)(const float *buf, int64_t n, int prefetch);

const tril_core_kernels TRIL_ISA_FN(tril_core_kernels) = {
    .peak_gflops = TRIL_ISA_FN(tril_peak_gflops),
    .stream_pass = TRIL_ISA_FN(tril_stream_pass),
};

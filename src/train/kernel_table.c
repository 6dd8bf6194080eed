/* The train layer's kernel table for this ISA build (src/core/isa.h). */
#include "train/kernels.h"

void TRIL_ISA_FN(tril_adamw_update)(float *p, const float *g, float *m, float *v, int64_t n,
                                    const tril_adamw_scalars *s);

const tril_train_kernels TRIL_ISA_FN(tril_train_kernels) = {
    .adamw_update = TRIL_ISA_FN(tril_adamw_update),
};

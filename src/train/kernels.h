/* The train layer's per-ISA kernels (src/core/isa.h): AdamW's element-wise
 * update (adamw_kernel.c), filled per build by kernel_table.c. */
#ifndef TRIL_TRAIN_KERNELS_H
#define TRIL_TRAIN_KERNELS_H

#include <stdint.h>

#include "core/isa.h"

/* AdamW's per-tensor scalars (adamw.c computes them). */
typedef struct {
    float decay_factor; /* 1 - lr * weight_decay (1 where the tensor has no decay) */
    float grad_scale;   /* gradient clipping's factor, 1 when not clipping */
    float beta1, one_b1, beta2, one_b2;
    float bc2_sqrt;     /* sqrt(1 - beta2^t) */
    float eps;
    float neg_step;     /* -lr / (1 - beta1^t) */
} tril_adamw_scalars;

typedef struct {
    /* p, m, v [n] updated in place from g [n]; every build bit-identical. */
    void (*adamw_update)(float *p, const float *g, float *m, float *v, int64_t n,
                         const tril_adamw_scalars *s);
} tril_train_kernels;

TRIL_ISA_DECLARE_TABLES(tril_train_kernels, tril_train_kernels);

#endif

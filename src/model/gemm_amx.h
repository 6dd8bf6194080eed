/* The bf16 model's matrices on Intel AMX (model/gemm_amx.c). */
#ifndef TRIL_MODEL_GEMM_AMX_H
#define TRIL_MODEL_GEMM_AMX_H

#include <stdint.h>

#include "tril/error.h"

/* A bf16 matrix w [N, K] (rows = outputs, as the bf16 model holds its
 * matrices and wte) repacked in place into the AMX layout: outputs in
 * blocks of 64 (the last block of fewer whole tiles of 16), each block
 * [32-input step][tile of 16 outputs][16 input pairs][16 outputs][2], the
 * steps and tiles in the order the kernel reads them, so a block is one
 * sequential stream; the N % 16 last rows stay as they were, after the
 * blocks. Same size, no padding. K must be a multiple of 32; rows: scratch
 * of 64 K values. */
tril_status tril_amx_pack_bf16(uint16_t *w, int64_t N, int64_t K, uint16_t *rows);

/* Element (o, k) of a packed matrix, and row o widened to fp32. */
float tril_amx_bf16_at(const uint16_t *wp, int64_t N, int64_t K, int64_t o, int64_t k);
void tril_amx_bf16_row(float *dst, const uint16_t *wp, int64_t N, int64_t K, int64_t o);

/* y[M, N] = x[M, K] @ w^T (+ b[N] when b is not NULL), w packed. Every row
 * of y is its own row of x's alone, computed by the same instructions
 * whatever M is and whatever rows share the call, so a sequence's results
 * do not depend on the batch. x enters to 16 significant bits: each value
 * v is split in two bf16 parts, p1 = v's top 16 bits and p2 = v - p1
 * rounded to the nearest bf16 (|v - p1 - p2| <= 2^-16 |v|), whose products
 * with a bf16 weight are exact in fp32; each part's sums are fp32, in the
 * tile unit's order, and y = sums of p1 + sums of p2. The N % 16 outputs
 * past the tiles are fp32 sums of x as it is. Only where
 * tril_cpu_use_amx() (TRIL_ERR_UNSUPPORTED elsewhere). */
tril_status tril_amx_matmul_bf16(float *y, const float *x, const uint16_t *wp, const float *b,
                                 int64_t M, int64_t K, int64_t N);

#endif

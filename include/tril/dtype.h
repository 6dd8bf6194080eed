/* tril/dtype.h - storage precisions and exact conversions.
 *
 * tril stores tensors in fp32, fp16 or bf16 and always computes in fp32.
 * Conversions to half precision round to nearest-even and overflow to +-inf
 * exactly as IEEE hardware (and PyTorch) do, so that a mask fill value stored
 * in fp16 really becomes -inf when it is out of range. */
#ifndef TRIL_DTYPE_H
#define TRIL_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "tril/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TRIL_F32 = 0,
    TRIL_F16 = 1,
    TRIL_BF16 = 2,
    /* 8-bit integers; as model weights, with a scale per block (Q8_0,
     * tril/ops.h); as plain elements, the integer's value */
    TRIL_INT8 = 3
} tril_dtype;

/* "fp32", "fp16", "bf16", "int8"; NULL for an invalid value. */
const char *tril_dtype_name(tril_dtype dtype);
/* Parses "fp32"/"f32"/"float32", "fp16"/"f16"/"float16", "bf16"/"bfloat16",
 * "int8"/"i8"/"q8_0" into *out; anything else (NULL too) is TRIL_ERR_INVALID_ARG naming it and
 * the accepted names. */
tril_status tril_dtype_parse(const char *name, tril_dtype *out);
/* Bytes per element (4 or 2); 0 for an invalid dtype. */
size_t tril_dtype_size(tril_dtype dtype);
/* Most negative finite value of the dtype (torch.finfo(dtype).min). */
float tril_dtype_min(tril_dtype dtype);

float tril_f16_to_f32(uint16_t h);
uint16_t tril_f32_to_f16(float f);   /* round to nearest even, overflow -> inf */
float tril_bf16_to_f32(uint16_t b);
uint16_t tril_f32_to_bf16(float f);  /* round to nearest even, NaN stays NaN */

/* Round an fp32 value to the dtype and back: what storing it would keep. */
float tril_round_to_dtype(float x, tril_dtype dtype);

/* Buffers passed to the functions below need no alignment (a tensor in a
 * safetensors file may start at any byte). */

/* Element i of a buffer of the given dtype, as fp32. */
float tril_load_f32(const void *buf, tril_dtype dtype, size_t i);
/* Store x (rounded) as element i of a buffer of the given dtype. */
void tril_store_f32(void *buf, tril_dtype dtype, size_t i, float x);

/* Convert n fp32 values to/from a buffer of the given dtype. */
void tril_convert_from_f32(void *dst, tril_dtype dtype, const float *src, size_t n);
void tril_convert_to_f32(float *dst, const void *src, tril_dtype dtype, size_t n);

/* Index of the first NaN or +-inf among n values of the given dtype, or n
 * if all are finite (0 for an invalid dtype). */
size_t tril_find_nonfinite(const void *buf, tril_dtype dtype, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* TRIL_DTYPE_H */

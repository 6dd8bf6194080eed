/* Attention backward front end: the forward's validation plus the
 * backward's own requirements (fp32, lse and the gradient buffers), then
 * dispatch to the oracle or a SIMD build (src/attention/kernels.h). */
#include <stddef.h>

#include "attention/attention_internal.h"
#include "attention/kernels.h"
#include "tril/cpu.h"

tril_status tril_attention_backward(const tril_attention_args *args, const float *dout, float *dq,
                                    float *dk, float *dv, tril_attn_kernel kernel)
{
    tril_status st = tril_attention_validate(args);
    if (st != TRIL_OK) return st;
    /* the gradients dk, dv have the k/v layout: no paged form of them */
    if (args->kv_page_table)
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "attention backward: paged K/V is forward-only");
    if (args->dtype != TRIL_F32)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "attention backward: dtype must be f32, got %s",
                         tril_dtype_name(args->dtype));
    if (args->kv_dtype != TRIL_F32)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "attention backward: kv_dtype must be f32, got %s",
                         tril_dtype_name(args->kv_dtype));
    if (!args->lse)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "attention backward: lse (written by the forward) must not be NULL");
    if (!dout || !dq || !dk || !dv)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "attention backward: dout, dq, dk and dv must not be NULL");
    const tril_attention_kernels *simd;
    if ((st = tril_attention_pick_kernel("attention backward", kernel, &simd)) != TRIL_OK) return st;
    tril_attention_args a = *args;
    tril_attention_resolve(&a);
    if (!simd) return tril_attention_backward_reference(&a, dout, dq, dk, dv);
    return simd->backward(&a, dout, dq, dk, dv);
}

/* Attention backward front end: the forward's validation plus the
 * backward's own requirements (fp32, lse and the gradient buffers), then
 * dispatch to the oracle or the tiled kernel of the best instruction set. */
#include <stddef.h>

#include "attention/attention_internal.h"
#include "tril/cpu.h"

tril_status tril_attention_backward(const tril_attention_args *args, const float *dout, float *dq,
                                    float *dk, float *dv, tril_attn_kernel kernel)
{
    tril_status st = tril_attention_validate(args);
    if (st != TRIL_OK) return st;
    if (args->dtype != TRIL_F32)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "attention backward: dtype must be f32, got %s",
                         tril_dtype_name(args->dtype));
    if (!args->lse)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "attention backward: lse (written by the forward) must not be NULL");
    if (!dout || !dq || !dk || !dv)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "attention backward: dout, dq, dk and dv must not be NULL");
    st = tril_attention_pick_kernel("attention backward", &kernel);
    if (st != TRIL_OK) return st;
    tril_attention_args a = *args;
    tril_attention_resolve(&a);
    switch (kernel) {
    case TRIL_ATTN_REFERENCE: return tril_attention_backward_reference(&a, dout, dq, dk, dv);
#ifdef TRIL_HAVE_X86_KERNELS
    case TRIL_ATTN_TILED_AVX512: return tril_attention_backward_tiled_avx512(&a, dout, dq, dk, dv);
    case TRIL_ATTN_TILED_AVX2: return tril_attention_backward_tiled_avx2(&a, dout, dq, dk, dv);
#endif
    default: return tril_attention_backward_tiled_generic(&a, dout, dq, dk, dv);
    }
}

/* The attention layer's kernel table for this ISA build (src/core/isa.h). */
#include "attention/kernels.h"

tril_status TRIL_ISA_FN(tril_attention_direct)(const tril_attention_args *a);
tril_status TRIL_ISA_FN(tril_attention_transposed)(const tril_attention_args *a);
tril_status TRIL_ISA_FN(tril_attention_rowmajor)(const tril_attention_args *a);
tril_status TRIL_ISA_FN(tril_attention_backward_tiled)(const tril_attention_args *a,
                                                      const float *dout, float *dq, float *dk,
                                                      float *dv);
void TRIL_ISA_FN(tril_attention_direct_release)(void);
void TRIL_ISA_FN(tril_attention_transposed_release)(void);
void TRIL_ISA_FN(tril_attention_rowmajor_release)(void);

static void release_thread_buffers(void)
{
    TRIL_ISA_FN(tril_attention_direct_release)();
    TRIL_ISA_FN(tril_attention_transposed_release)();
    TRIL_ISA_FN(tril_attention_rowmajor_release)();
}

const tril_attention_kernels TRIL_ISA_FN(tril_attention_kernels) = {
    .forward_direct = TRIL_ISA_FN(tril_attention_direct),
    .forward_transposed = TRIL_ISA_FN(tril_attention_transposed),
    .forward_rowmajor = TRIL_ISA_FN(tril_attention_rowmajor),
    .backward = TRIL_ISA_FN(tril_attention_backward_tiled),
    .release_thread_buffers = release_thread_buffers,
};

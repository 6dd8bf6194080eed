/* Shared by the attention tests that feed bad arguments. Include after
 * <cmocka.h>. */
#ifndef TRIL_ATTENTION_TEST_UTIL_H
#define TRIL_ATTENTION_TEST_UTIL_H

#include <stddef.h>

#include "tril/attention.h"
#include "tril/error.h"

/* validate and forward (the oracle and auto) all fail with `want`, each
 * leaving a message, and neither out[n_out] nor lse[n_lse] is written. */
static inline void attention_expect_fail(tril_attention_args *a, float *out, size_t n_out,
                                         float *lse, size_t n_lse, tril_status want,
                                         const char *what, int line)
{
    const float sentinel = 12345.0f;
    for (size_t i = 0; i < n_out; i++) out[i] = sentinel;
    for (size_t i = 0; i < n_lse; i++) lse[i] = sentinel;
    tril_clear_error();
    tril_status s = tril_attention_validate(a);
    if (s != want)
        fail_msg("line %d, %s: validate returned %d (%s), want %d (%s); message \"%s\"", line, what,
                 (int)s, tril_status_name(s), (int)want, tril_status_name(want), tril_last_error());
    if (tril_last_error()[0] == '\0') fail_msg("line %d, %s: validate left no message", line, what);
    const tril_attn_kernel kernels[] = {TRIL_ATTN_REFERENCE, TRIL_ATTN_AUTO};
    for (size_t k = 0; k < 2; k++) {
        tril_clear_error();
        s = tril_attention_forward(a, kernels[k]);
        if (s != want)
            fail_msg("line %d, %s: forward(%s) returned %d (%s), want %d (%s); message \"%s\"",
                     line, what, tril_attn_kernel_name(kernels[k]), (int)s, tril_status_name(s),
                     (int)want, tril_status_name(want), tril_last_error());
        if (tril_last_error()[0] == '\0')
            fail_msg("line %d, %s: forward left no message", line, what);
    }
    for (size_t i = 0; i < n_out; i++)
        if (out[i] != sentinel) fail_msg("line %d, %s: out written on error", line, what);
    for (size_t i = 0; i < n_lse; i++)
        if (lse[i] != sentinel) fail_msg("line %d, %s: lse written on error", line, what);
}

#endif

/* Reaching a model's contents in the tests through the accessors of
 * tril/gpt2.h (the struct is private). Include after <cmocka.h>. */
#ifndef TRIL_GPT2_TEST_UTIL_H
#define TRIL_GPT2_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "tril/error.h"
#include "tril/gpt2.h"

/* The model's writable fp32 arena, or NULL if it has none (mapped, bf16). */
static inline float *test_arena_or_null(tril_gpt2 *m, int64_t *numel)
{
    float *a = NULL;
    int64_t n = 0;
    (void)tril_gpt2_get_arena(m, &a, &n);
    if (numel) *numel = n;
    return a;
}

/* The arena of a model that must have one. */
static inline float *test_arena(tril_gpt2 *m, int64_t *numel)
{
    float *a = NULL;
    int64_t n = 0;
    if (tril_gpt2_get_arena(m, &a, &n) != TRIL_OK) fail_msg("%s", tril_last_error());
    if (numel) *numel = n;
    return a;
}

static inline int64_t test_arena_numel(tril_gpt2 *m)
{
    int64_t n;
    test_arena(m, &n);
    return n;
}

/* A parameter as the model holds it (fails the test for an unknown name). */
static inline tril_gpt2_tensor test_param(const tril_gpt2 *m, const char *name)
{
    tril_gpt2_tensor t;
    if (tril_gpt2_find_param(m, name, &t) != TRIL_OK) fail_msg("%s", tril_last_error());
    return t;
}

/* A parameter's fp32 values, or NULL where the model keeps it only in bf16. */
static inline const float *test_param_f32(const tril_gpt2 *m, const char *name)
{
    tril_gpt2_tensor t = test_param(m, name);
    return t.dtype == TRIL_F32 ? (const float *)t.data : NULL;
}

#endif

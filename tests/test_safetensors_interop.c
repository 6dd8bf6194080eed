/* tril's safetensors reader and writer against an independent implementation
 * (tests/ref/safetensors_ref.py, run by CTest before and after this test):
 * reads DIR/py.safetensors, written the way the official library writes, and
 * writes DIR/c.safetensors for the script to check. DIR comes from
 * $TRIL_ST_INTEROP_DIR. The tensors are the script's TENSORS, value for
 * value. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tril/safetensors.h"

#define N_TENSORS 10

typedef struct {
    float w[6], e[1];
    uint16_t h[5], b[4];
    double d;
    int64_t ids[3];
    int32_t i32[2];
    uint16_t u16[2];
    uint8_t u8[4], m[3];
    tril_st_write_tensor t[N_TENSORS];
} expected;

static void expected_init(expected *x)
{
    memset(x, 0, sizeof *x);
    for (int i = 0; i < 6; i++) x->w[i] = (float)i * 0.5f - 1.25f;
    for (int i = 0; i < 5; i++) x->h[i] = tril_f32_to_f16((float)(i - 2) * 0.375f);
    for (int i = 0; i < 4; i++) x->b[i] = tril_f32_to_bf16(0.25f - (float)i * 0.75f);
    x->d = 3.141592653589793;
    x->ids[0] = -1; x->ids[1] = INT64_C(1) << 40; x->ids[2] = 7;
    x->i32[0] = INT32_MIN; x->i32[1] = 123456;
    x->u16[0] = 65535; x->u16[1] = 1;
    x->u8[0] = 0; x->u8[1] = 1; x->u8[2] = 127; x->u8[3] = 255;
    x->m[0] = 1; x->m[1] = 0; x->m[2] = 1;
    tril_st_write_tensor *t = x->t;
    t[0] = (tril_st_write_tensor){"w_f32", TRIL_ST_F32, 2, {2, 3}, x->w};
    t[1] = (tril_st_write_tensor){"h_f16", TRIL_ST_F16, 1, {5}, x->h};
    t[2] = (tril_st_write_tensor){"b_bf16", TRIL_ST_BF16, 2, {2, 2}, x->b};
    t[3] = (tril_st_write_tensor){"d_f64", TRIL_ST_F64, 0, {0}, &x->d};
    t[4] = (tril_st_write_tensor){"ids_i64", TRIL_ST_I64, 1, {3}, x->ids};
    t[5] = (tril_st_write_tensor){"i_i32", TRIL_ST_I32, 1, {2}, x->i32};
    t[6] = (tril_st_write_tensor){"x_u16", TRIL_ST_U16, 1, {2}, x->u16};
    t[7] = (tril_st_write_tensor){"u_u8", TRIL_ST_U8, 1, {4}, x->u8};
    t[8] = (tril_st_write_tensor){"m_bool", TRIL_ST_BOOL, 1, {3}, x->m};
    t[9] = (tril_st_write_tensor){"e_f32", TRIL_ST_F32, 2, {0, 4}, x->e};
}

static const char *interop_path(const char *name)
{
    static char buf[1024];
    const char *dir = getenv("TRIL_ST_INTEROP_DIR");
    if (!dir || !*dir) fail_msg("TRIL_ST_INTEROP_DIR is not set (run through ctest)");
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* The file the script wrote: every tensor by name, with its values; the
 * order by offset is the official writer's (dtype, then name). */
static void test_read_python_file(void **state)
{
    (void)state;
    expected x;
    expected_init(&x);
    tril_safetensors *st = NULL;
    const char *path = interop_path("py.safetensors");
    if (tril_safetensors_open(path, &st) != TRIL_OK) fail_msg("%s", tril_last_error());
    assert_int_equal(tril_safetensors_count(st), N_TENSORS);
    assert_string_equal(tril_safetensors_metadata(st, "format"), "pt");
    assert_int_equal(tril_safetensors_metadata_count(st), 1);
    for (int i = 0; i < N_TENSORS; i++) {
        const tril_st_write_tensor *w = &x.t[i];
        const tril_st_tensor *t = tril_safetensors_find(st, w->name);
        if (!t) fail_msg("tensor '%s' missing", w->name);
        assert_int_equal(t->dtype, w->dtype);
        assert_int_equal(t->ndim, w->ndim);
        for (int d = 0; d < w->ndim; d++) assert_int_equal(t->shape[d], w->shape[d]);
        assert_memory_equal(t->data, w->data, (size_t)t->nbytes);
    }
    const char *order[N_TENSORS] = {"ids_i64", "d_f64", "e_f32", "w_f32", "i_i32",
                                    "b_bf16", "h_f16", "x_u16", "u_u8", "m_bool"};
    for (int i = 0; i < N_TENSORS; i++)
        assert_string_equal(tril_safetensors_at(st, (size_t)i)->name, order[i]);
    assert_true(((const float *)tril_safetensors_find(st, "w_f32")->data)[5] == 1.25f);
    tril_safetensors_close(st);
}

static void test_write_for_python(void **state)
{
    (void)state;
    expected x;
    expected_init(&x);
    static const char *const meta[] = {
        "format", "pt", "writer", "tril",
        "note", "quote \" backslash \\ newline \n tab \t \xc3\xa9 \xe2\x98\x83", NULL};
    const char *path = interop_path("c.safetensors");
    if (tril_safetensors_write(path, x.t, N_TENSORS, meta) != TRIL_OK)
        fail_msg("%s", tril_last_error());
    tril_safetensors *st = NULL;
    assert_int_equal(tril_safetensors_open(path, &st), TRIL_OK);
    assert_string_equal(tril_safetensors_metadata(st, "note"), meta[5]);
    tril_safetensors_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_python_file),
        cmocka_unit_test(test_write_for_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

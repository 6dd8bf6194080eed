/* The safetensors reader: write/read round trips, in-memory parsing, and
 * every kind of malformed file rejected with the right status and a message
 * that says what is wrong (and names the file when opened from a path). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tril/safetensors.h"
#include "st_test_util.h"

/* ---- round trip ------------------------------------------------------------- */

typedef struct {
    float w[6];
    uint16_t h[4], b[3];
    int64_t ids[3];
    uint8_t u[5], m[4];
    double pi;
    tril_st_write_tensor t[8];
} sample;

static void sample_init(sample *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 6; i++) s->w[i] = (float)i * 0.5f - 1.25f;
    for (int i = 0; i < 4; i++) s->h[i] = tril_f32_to_f16((float)i * 0.375f - 1.0f);
    for (int i = 0; i < 3; i++) s->b[i] = tril_f32_to_bf16(0.25f - (float)i * 0.75f);
    s->ids[0] = -1; s->ids[1] = INT64_C(1) << 40; s->ids[2] = 7;
    for (int i = 0; i < 5; i++) s->u[i] = (uint8_t)(i * 63);
    s->m[0] = 1; s->m[3] = 1;
    s->pi = 3.141592653589793;
    /* name, dtype, ndim, shape, data */
    s->t[0] = (tril_st_write_tensor){"h.0.attn.c_attn.weight", TRIL_ST_F32, 2, {2, 3}, s->w};
    s->t[1] = (tril_st_write_tensor){"half", TRIL_ST_F16, 1, {4}, s->h};
    s->t[2] = (tril_st_write_tensor){"brain", TRIL_ST_BF16, 1, {3}, s->b};
    s->t[3] = (tril_st_write_tensor){"ids", TRIL_ST_I64, 1, {3}, s->ids};
    s->t[4] = (tril_st_write_tensor){"bytes", TRIL_ST_U8, 1, {5}, s->u};
    s->t[5] = (tril_st_write_tensor){"mask", TRIL_ST_BOOL, 2, {2, 2}, s->m};
    s->t[6] = (tril_st_write_tensor){"scalar \"pi\"\n\\ \xc3\xa9", TRIL_ST_F64, 0, {0}, &s->pi};
    s->t[7] = (tril_st_write_tensor){"empty", TRIL_ST_F32, 2, {0, 5}, NULL};
}

static const char *const sample_meta[] = {"format", "pt", "note", "tab\there \"q\" \xe2\x98\x83",
                                          "a_first", "", NULL};

/* The handle holds exactly the sample, in the order written, packed. */
static void check_sample(const tril_safetensors *st, const sample *s, const uint8_t *data_base)
{
    assert_int_equal(tril_safetensors_count(st), 8);
    uint64_t offset = 0;
    for (size_t i = 0; i < 8; i++) {
        const tril_st_write_tensor *w = &s->t[i];
        const tril_st_tensor *t = tril_safetensors_at(st, i);
        assert_non_null(t);
        assert_string_equal(t->name, w->name);
        assert_ptr_equal(tril_safetensors_find(st, w->name), t);
        assert_int_equal(t->dtype, w->dtype);
        assert_int_equal(t->ndim, w->ndim);
        int64_t numel = 1;
        for (int d = 0; d < w->ndim; d++) {
            assert_int_equal(t->shape[d], w->shape[d]);
            numel *= w->shape[d];
        }
        assert_int_equal(t->numel, numel);
        assert_int_equal(t->nbytes, (uint64_t)numel * tril_st_dtype_size(w->dtype));
        assert_int_equal(t->offset, offset);
        offset += t->nbytes;
        if (data_base) assert_ptr_equal(t->data, data_base + t->offset);
        if (t->nbytes) assert_memory_equal(t->data, w->data, (size_t)t->nbytes);
    }
    assert_null(tril_safetensors_at(st, 8));
    assert_null(tril_safetensors_find(st, "missing"));
    assert_null(tril_safetensors_find(st, NULL));
    assert_string_equal(tril_safetensors_metadata(st, "format"), "pt");
    assert_string_equal(tril_safetensors_metadata(st, "note"), sample_meta[3]);
    assert_string_equal(tril_safetensors_metadata(st, "a_first"), "");
    assert_null(tril_safetensors_metadata(st, "missing"));
    assert_int_equal(tril_safetensors_metadata_count(st), 3);
    assert_string_equal(tril_safetensors_metadata_key(st, 0), "a_first"); /* sorted */
    assert_string_equal(tril_safetensors_metadata_key(st, 2), "note");
    assert_null(tril_safetensors_metadata_key(st, 3));
}

static void test_round_trip(void **state)
{
    (void)state;
    sample s;
    sample_init(&s);
    const char *path = st_path("round.safetensors");
    assert_int_equal(tril_safetensors_write(path, s.t, 8, sample_meta), TRIL_OK);
    assert_false(st_exists(st_path("round.safetensors.tmp")));

    tril_safetensors *st = NULL;
    assert_int_equal(tril_safetensors_open(path, &st), TRIL_OK);
    check_sample(st, &s, NULL);
    tril_safetensors_close(st);

    /* The same bytes parsed in memory: pointers into the buffer. */
    size_t n;
    uint8_t *img = st_read_bytes(path, &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | img[i];
    assert_int_equal(hl % 8, 0);
    assert_int_equal(img[8], '{');
    assert_int_equal(img[8 + hl - 1] == ' ' || img[8 + hl - 1] == '}', 1);
    assert_int_equal(n, 8 + hl + 24 + 8 + 6 + 24 + 5 + 4 + 8);
    assert_int_equal(tril_safetensors_parse(img, n, &st), TRIL_OK);
    check_sample(st, &s, img + 8 + hl);
    tril_safetensors_close(st);
    free(img);
}

/* No tensors, no metadata; and tensors but no metadata. */
static void test_round_trip_small(void **state)
{
    (void)state;
    const char *path = st_path("empty.safetensors");
    tril_safetensors *st = NULL;
    assert_int_equal(tril_safetensors_write(path, NULL, 0, NULL), TRIL_OK);
    assert_int_equal(tril_safetensors_open(path, &st), TRIL_OK);
    assert_int_equal(tril_safetensors_count(st), 0);
    assert_null(tril_safetensors_at(st, 0));
    assert_null(tril_safetensors_find(st, "x"));
    assert_null(tril_safetensors_metadata(st, "format"));
    tril_safetensors_close(st);

    float one = 1.0f;
    tril_st_write_tensor t = {"one", TRIL_ST_F32, 1, {1}, &one};
    assert_int_equal(tril_safetensors_write(path, &t, 1, NULL), TRIL_OK); /* replaces */
    assert_int_equal(tril_safetensors_open(path, &st), TRIL_OK);
    assert_int_equal(tril_safetensors_count(st), 1);
    assert_int_equal(tril_safetensors_metadata_count(st), 0);
    assert_true(*(const float *)tril_safetensors_find(st, "one")->data == 1.0f);
    tril_safetensors_close(st);
    tril_safetensors_close(NULL);
}

static void test_dtype_helpers(void **state)
{
    (void)state;
    for (int i = 0; i < TRIL_ST_DTYPE_COUNT; i++) {
        tril_st_dtype d;
        const char *name = tril_st_dtype_name((tril_st_dtype)i);
        assert_non_null(name);
        assert_int_equal(tril_st_dtype_parse(name, &d), TRIL_OK);
        assert_int_equal(d, i);
        assert_true(tril_st_dtype_size(d) >= 1);
    }
    assert_null(tril_st_dtype_name(TRIL_ST_DTYPE_COUNT));
    assert_int_equal(tril_st_dtype_size(TRIL_ST_DTYPE_COUNT), 0);
    assert_int_equal(tril_st_dtype_parse("f32", NULL), TRIL_ERR_INVALID_ARG);
    assert_non_null(strstr(tril_last_error(), "'f32'"));
    assert_non_null(strstr(tril_last_error(), "F8_E5M2"));
    assert_int_equal(tril_st_dtype_size(TRIL_ST_BF16), 2);
    assert_int_equal(tril_st_dtype_size(TRIL_ST_F8_E5M2), 1);
    tril_dtype td;
    assert_int_equal(tril_st_to_dtype(TRIL_ST_BF16, &td), TRIL_OK);
    assert_int_equal(td, TRIL_BF16);
    assert_int_equal(tril_st_to_dtype(TRIL_ST_I64, &td), TRIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(tril_last_error(), "I64"));
}

/* ---- malformed input -------------------------------------------------------- */

/* Opening `img` from a file and parsing it in memory must both fail with
 * `want` and a message containing `needle` (and the path, for the file). */
static void expect_bad(const uint8_t *img, size_t n, tril_status want, const char *needle,
                       const char *what)
{
    const char *path = st_path("bad.safetensors");
    st_write_bytes(path, img, n);
    tril_safetensors *st = (tril_safetensors *)&st; /* must be reset to NULL */
    tril_clear_error();
    tril_status got = tril_safetensors_open(path, &st);
    if (got != want || !strstr(tril_last_error(), needle) || !strstr(tril_last_error(), path))
        fail_msg("%s (open): got %s '%s', wanted %s with '%s'", what, tril_status_name(got),
                 tril_last_error(), tril_status_name(want), needle);
    assert_null(st);
    st = (tril_safetensors *)&st;
    tril_clear_error();
    got = tril_safetensors_parse(img, n, &st);
    if (got != want || !strstr(tril_last_error(), needle))
        fail_msg("%s (parse): got %s '%s', wanted %s with '%s'", what, tril_status_name(got),
                 tril_last_error(), tril_status_name(want), needle);
    assert_null(st);
}

static void expect_bad_header(const char *header, size_t data_len, const char *needle)
{
    size_t n;
    uint8_t *img = st_image(UINT64_MAX, header, data_len, &n);
    expect_bad(img, n, TRIL_ERR_FORMAT, needle, header);
    free(img);
}

#define E(dt, shape, offs) "{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

static void test_bad_headers(void **state)
{
    (void)state;
    expect_bad_header("{\"a\": ", 0, "not valid JSON");
    expect_bad_header("not json at all", 0, "not valid JSON");
    expect_bad_header("[1, 2]", 0, "not a JSON object");
    expect_bad_header("\"str\"", 0, "not a JSON object");
    expect_bad_header("{} x", 0, "after its JSON value");
    expect_bad_header("{\"a\":3}", 0, "entry of tensor 'a' is not a JSON object");
    expect_bad_header("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'a' has no \"dtype\"");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "no \"shape\"");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "no \"data_offsets\"");
    expect_bad_header("{\"a\":" E("F33", "[1]", "[0,4]") "}", 4, "unknown dtype 'F33' for tensor 'a'");
    expect_bad_header("{\"a\":" E("f32", "[1]", "[0,4]") "}", 4, "unknown dtype 'f32'");
    expect_bad_header("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "not a string");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],"
                      "\"data_offsets\":[0,4]}}", 4, "\"dtype\" twice");
    expect_bad_header("{\"a\":" E("F32", "[-1]", "[0,4]") "}", 4, "dim 0 of tensor 'a' is negative");
    expect_bad_header("{\"a\":" E("F32", "[2,1.5]", "[0,4]") "}", 4, "dim 1 of tensor 'a' is not an integer");
    expect_bad_header("{\"a\":" E("F32", "[\"2\"]", "[0,8]") "}", 8, "not a number");
    expect_bad_header("{\"a\":" E("F32", "4", "[0,16]") "}", 16, "not an array");
    expect_bad_header("{\"a\":" E("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4, "has 9 dims");
    expect_bad_header("{\"a\":" E("U8", "[18014398509481984,0]", "[0,0]") "}", 0, "larger than 2^53");
    expect_bad_header("{\"a\":" E("F32", "[4294967296,4294967296,4]", "[0,0]") "}", 0, "overflow");
    expect_bad_header("{\"a\":" E("F32", "[2]", "[0,8]") "}", 4, "beyond the data section");
    expect_bad_header("{\"a\":" E("F32", "[1]", "[100,104]") "}", 4, "beyond the data section");
    expect_bad_header("{\"a\":" E("F32", "[1]", "[4,0]") "}", 4, "end before they begin");
    expect_bad_header("{\"a\":" E("F32", "[1]", "[-4,0]") "}", 4, "data_offsets[0] of tensor 'a' is negative");
    expect_bad_header("{\"a\":" E("F32", "[1]", "[0,4,8]") "}", 8, "not a [begin, end] pair");
    expect_bad_header("{\"a\":" E("F32", "[1]", "[0,4.5]") "}", 8, "not an integer");
    expect_bad_header("{\"a\":" E("F32", "[2]", "[0,4]") "}", 4, "needs 8 bytes but data_offsets [0, 4] hold 4");
    expect_bad_header("{\"a\":" E("F32", "[2]", "[0,8]") ",\"b\":" E("F32", "[2]", "[4,12]") "}",
                      12, "overlap");
    expect_bad_header("{\"b\":" E("F32", "[4]", "[0,16]") ",\"a\":" E("F32", "[1]", "[8,12]") "}",
                      16, "overlap");
    expect_bad_header("{\"a\":" E("F32", "[1]", "[0,4]") ",\"a\":" E("F32", "[1]", "[4,8]") "}",
                      8, "duplicate tensor name 'a'");
    expect_bad_header("{\"__metadata__\":{\"k\":1}}", 0, "metadata value of 'k' is not a string");
    expect_bad_header("{\"__metadata__\":[\"k\"]}", 0, "\"__metadata__\" is not a JSON object");
    expect_bad_header("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "\"__metadata__\" appears twice");
    expect_bad_header("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "metadata key 'k' appears twice");
}

static void test_bad_lengths(void **state)
{
    (void)state;
    uint8_t zeros[8] = {0};
    expect_bad(zeros, 0, TRIL_ERR_FORMAT, "truncated: 0 bytes", "empty file");
    expect_bad(zeros, 7, TRIL_ERR_FORMAT, "truncated: 7 bytes", "7-byte file");
    expect_bad(zeros, 8, TRIL_ERR_FORMAT, "header is empty", "zero header length");
    size_t n;
    uint8_t *img = st_image(1000, "{}", 10, &n);
    expect_bad(img, n, TRIL_ERR_FORMAT, "header length 1000 exceeds the 12 bytes", "beyond file");
    free(img);
    img = st_image(200u * 1024u * 1024u, "{}", 0, &n);
    expect_bad(img, n, TRIL_ERR_FORMAT, "over the limit of 104857600", "huge header");
    free(img);
    img = st_image(UINT64_MAX - 3, "{}", 0, &n);
    expect_bad(img, n, TRIL_ERR_FORMAT, "over the limit", "2^64 header");
    free(img);
    /* A NUL inside the header's length: not JSON whitespace. */
    img = st_image(3, "{}", 0, &n);
    img[10] = '\0';
    n = 11;
    expect_bad(img, n, TRIL_ERR_FORMAT, "byte 0x00 at 2", "NUL padding");
    free(img);
}

/* A file cut short after writing: the data section no longer holds the
 * last tensor. */
static void test_truncated_data(void **state)
{
    (void)state;
    sample s;
    sample_init(&s);
    const char *path = st_path("cut.safetensors");
    assert_int_equal(tril_safetensors_write(path, s.t, 8, NULL), TRIL_OK);
    size_t n;
    uint8_t *img = st_read_bytes(path, &n);
    assert_int_equal(truncate(path, (off_t)(n - 3)), 0);
    tril_safetensors *st = NULL;
    assert_int_equal(tril_safetensors_open(path, &st), TRIL_ERR_FORMAT);
    assert_non_null(strstr(tril_last_error(), "beyond the data section"));
    assert_non_null(strstr(tril_last_error(), path));
    assert_int_equal(tril_safetensors_parse(img, n - 1, &st), TRIL_ERR_FORMAT);
    assert_int_equal(tril_safetensors_parse(img, n, &st), TRIL_OK);
    tril_safetensors_close(st);
    free(img);
}

static void test_io_errors(void **state)
{
    (void)state;
    tril_safetensors *st = NULL;
    const char *missing = st_path("no_such_file.safetensors");
    assert_int_equal(tril_safetensors_open(missing, &st), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), missing));
    assert_non_null(strstr(tril_last_error(), "No such file"));
    assert_null(st);
    assert_int_equal(tril_safetensors_open(st_dir, &st), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), "not a regular file"));
    assert_int_equal(tril_safetensors_open(NULL, &st), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_safetensors_open(missing, NULL), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_safetensors_parse(NULL, 10, &st), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_safetensors_parse("", 0, NULL), TRIL_ERR_INVALID_ARG);
}

/* What the reader accepts: padding, gaps, adjacent and empty ranges, scalars,
 * unknown keys, a header that does not start at offset order. */
static void test_accepted_variants(void **state)
{
    (void)state;
    const char *header =
        "  {\"z\":" E("U8", "[2]", "[10,12]") ",\"a\":" E("U8", "[4]", "[0,4]")
        ",\"s\":{\"dtype\":\"I16\",\"shape\":[],\"data_offsets\":[4,6],\"extra\":[1]}"
        ",\"e\":" E("F32", "[3,0]", "[6,6]") ",\"f\":" E("F8_E4M3", "[1e0]", "[6,7]")
        ",\"__metadata__\":{}}  \n\t ";
    size_t n;
    uint8_t *img = st_image(UINT64_MAX, header, 12, &n);
    tril_safetensors *st = NULL;
    assert_int_equal(tril_safetensors_parse(img, n, &st), TRIL_OK);
    assert_int_equal(tril_safetensors_count(st), 5);
    const char *order[] = {"a", "s", "e", "f", "z"}; /* by offset */
    for (size_t i = 0; i < 5; i++) assert_string_equal(tril_safetensors_at(st, i)->name, order[i]);
    const tril_st_tensor *z = tril_safetensors_find(st, "z");
    assert_int_equal(((const uint8_t *)z->data)[1], 11);
    assert_int_equal(tril_safetensors_find(st, "s")->numel, 1);
    assert_int_equal(tril_safetensors_find(st, "s")->ndim, 0);
    assert_int_equal(tril_safetensors_find(st, "e")->numel, 0);
    assert_int_equal(tril_safetensors_metadata_count(st), 0);
    tril_safetensors_close(st);
    free(img);
}

/* Released pages leave the process's RSS and read back the same bytes from
 * the file; a parsed buffer and a range outside the mapping are left alone.
 * The big tensor sits at an odd offset, as the loader may see it. */
static void test_release(void **state)
{
    (void)state;
    const int64_t n = 4 << 20; /* 16 MB of F32 */
    float *w = malloc((size_t)n * sizeof *w);
    assert_non_null(w);
    for (int64_t i = 0; i < n; i++) w[i] = (float)(i % 1000) - 500.0f;
    static const uint8_t pad[3] = {1, 2, 3};
    tril_st_write_tensor t[2] = {{"pad", TRIL_ST_U8, 1, {3}, pad},
                                 {"big", TRIL_ST_F32, 1, {n}, w}};
    const char *path = st_path("release.safetensors");
    assert_int_equal(tril_safetensors_write(path, t, 2, NULL), TRIL_OK);
    tril_safetensors *st = NULL;
    assert_int_equal(tril_safetensors_open(path, &st), TRIL_OK);
    const tril_st_tensor *big = tril_safetensors_find(st, "big");
    assert_memory_equal(big->data, w, (size_t)big->nbytes); /* every page resident */
    const long long touched = test_rss_bytes();
    assert_int_equal(tril_safetensors_release(st, big->data, (size_t)big->nbytes), TRIL_OK);
    const long long released = test_rss_bytes();
    printf("  RSS %.1f MB with the tensor read, %.1f MB after release\n", touched / 1e6,
           released / 1e6);
    if (touched >= 0) assert_true(touched - released >= (long long)(big->nbytes * 3 / 4));
    assert_memory_equal(big->data, w, (size_t)big->nbytes); /* read again from the file */
    assert_int_equal(tril_safetensors_release(st, w, 4096), TRIL_OK); /* not in the mapping */
    assert_int_equal(tril_safetensors_release(st, big->data, 0), TRIL_OK);
    assert_int_equal(tril_safetensors_release(NULL, big->data, 16), TRIL_OK);
    tril_safetensors_close(st);
    size_t size;
    uint8_t *img = st_read_bytes(path, &size);
    assert_int_equal(tril_safetensors_parse(img, size, &st), TRIL_OK);
    big = tril_safetensors_find(st, "big");
    assert_int_equal(tril_safetensors_release(st, big->data, (size_t)big->nbytes), TRIL_OK);
    assert_memory_equal(big->data, w, (size_t)big->nbytes); /* a buffer is never dropped */
    tril_safetensors_close(st);
    free(img);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_small),
        cmocka_unit_test(test_dtype_helpers),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_truncated_data),
        cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_accepted_variants),
        cmocka_unit_test(test_release),
    };
    return cmocka_run_group_tests(tests, st_dir_create, st_dir_remove);
}

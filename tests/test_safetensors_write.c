/* The safetensors writer's error paths: bad arguments are rejected before
 * anything is created, I/O failures return TRIL_ERR_IO naming the path, and
 * a failed write leaves no PATH.tmp behind and an existing PATH untouched. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tril/safetensors.h"
#include "st_test_util.h"

static float data4[4] = {1, 2, 3, 4};
static uint8_t big[4096];

static tril_st_write_tensor good(const char *name)
{
    return (tril_st_write_tensor){name, TRIL_ST_F32, 2, {2, 2}, data4};
}

/* `t` (count n) with `meta` must be refused with INVALID_ARG, a message
 * containing `needle`, and no file or tmp file created. */
static void expect_invalid(const tril_st_write_tensor *t, size_t n, const char *const *meta,
                           const char *needle)
{
    const char *path = st_path("invalid.safetensors");
    tril_clear_error();
    tril_status got = tril_safetensors_write(path, t, n, meta);
    if (got != TRIL_ERR_INVALID_ARG || !strstr(tril_last_error(), needle))
        fail_msg("got %s '%s', wanted invalid argument with '%s'", tril_status_name(got),
                 tril_last_error(), needle);
    assert_false(st_exists(path));
    assert_false(st_exists(st_path("invalid.safetensors.tmp")));
}

static void test_invalid_args(void **state)
{
    (void)state;
    tril_st_write_tensor t[2] = {good("a"), good("b")};
    assert_int_equal(tril_safetensors_write(NULL, t, 1, NULL), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_safetensors_write("", t, 1, NULL), TRIL_ERR_INVALID_ARG);
    expect_invalid(NULL, 1, NULL, "no array");

    t[1].ndim = -1;
    expect_invalid(t, 2, NULL, "tensor 'b' has ndim -1");
    t[1].ndim = TRIL_ST_MAX_DIMS + 1;
    expect_invalid(t, 2, NULL, "ndim 9");
    t[1] = good("b");
    t[1].shape[1] = -2;
    expect_invalid(t, 2, NULL, "dim 1 of tensor 'b' is -2");
    t[1] = good("b");
    t[1].dtype = (tril_st_dtype)99;
    expect_invalid(t, 2, NULL, "unknown dtype (99)");
    t[1].dtype = (tril_st_dtype)-1;
    expect_invalid(t, 2, NULL, "unknown dtype (-1)");
    t[1] = good("a");
    expect_invalid(t, 2, NULL, "duplicate tensor name 'a'");
    t[1] = good(NULL);
    expect_invalid(t, 2, NULL, "tensor 1 has no name");
    t[1] = good("__metadata__");
    expect_invalid(t, 2, NULL, "reserved");
    t[1] = good("bad \xff utf8");
    expect_invalid(t, 2, NULL, "not valid UTF-8");
    t[1] = good("overlong \xc0\xaf");
    expect_invalid(t, 2, NULL, "not valid UTF-8");
    t[1] = good("b");
    t[1].data = NULL;
    expect_invalid(t, 2, NULL, "tensor 'b' has no data");
    t[1] = (tril_st_write_tensor){"b", TRIL_ST_U8, 3, {INT64_C(1) << 40, INT64_C(1) << 40, 1 << 20}, big};
    expect_invalid(t, 2, NULL, "overflows");
    t[1] = good("b");

    const char *const odd[] = {"format", "pt", "lonely", NULL};
    expect_invalid(t, 2, odd, "metadata key 'lonely' has no value");
    const char *const dup[] = {"k", "1", "j", "2", "k", "3", NULL};
    expect_invalid(t, 2, dup, "duplicate metadata key 'k'");

    /* The same tensors are fine once fixed; an empty tensor needs no data. */
    t[1] = (tril_st_write_tensor){"b", TRIL_ST_F32, 2, {0, 3}, NULL};
    assert_int_equal(tril_safetensors_write(st_path("fixed.safetensors"), t, 2, odd + 3), TRIL_OK);
}

static void write_version(const char *path, float v)
{
    float d[4] = {v, v, v, v};
    tril_st_write_tensor t = {"v", TRIL_ST_F32, 1, {4}, d};
    assert_int_equal(tril_safetensors_write(path, &t, 1, NULL), TRIL_OK);
}

static void expect_unchanged(const char *path, const uint8_t *before, size_t n_before)
{
    size_t n;
    uint8_t *now = st_read_bytes(path, &n);
    assert_int_equal(n, n_before);
    assert_memory_equal(now, before, n);
    free(now);
}

static void test_unwritable(void **state)
{
    (void)state;
    const char *path = st_path("no/such/dir/x.safetensors");
    float one = 1;
    tril_st_write_tensor t = {"x", TRIL_ST_F32, 1, {1}, &one};
    assert_int_equal(tril_safetensors_write(path, &t, 1, NULL), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), path));
    assert_non_null(strstr(tril_last_error(), "No such file"));

    /* A file where a directory should be. */
    const char *file = st_path("plain");
    st_write_bytes(file, "x", 1);
    char under[1100];
    snprintf(under, sizeof under, "%s/x.safetensors", file);
    assert_int_equal(tril_safetensors_write(under, &t, 1, NULL), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), under));

    /* A read-only directory (root ignores permissions: skipped then). */
    if (geteuid() != 0) {
        const char *ro = st_path("readonly");
        assert_int_equal(mkdir(ro, 0555), 0);
        snprintf(under, sizeof under, "%s/x.safetensors", ro);
        assert_int_equal(tril_safetensors_write(under, &t, 1, NULL), TRIL_ERR_IO);
        assert_non_null(strstr(tril_last_error(), "Permission denied"));
        rmdir(ro);
    }
}

/* PATH.tmp cannot be created (it is a directory): IO, PATH untouched. */
static void test_failed_write_keeps_old_file(void **state)
{
    (void)state;
    const char *path = st_path("keep.safetensors");
    const char *tmp = st_path("keep.safetensors.tmp");
    write_version(path, 1.0f);
    size_t n;
    uint8_t *before = st_read_bytes(path, &n);

    assert_int_equal(mkdir(tmp, 0755), 0);
    float d[4] = {2, 2, 2, 2};
    tril_st_write_tensor t = {"v", TRIL_ST_F32, 1, {4}, d};
    assert_int_equal(tril_safetensors_write(path, &t, 1, NULL), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), path));
    expect_unchanged(path, before, n);
    assert_int_equal(rmdir(tmp), 0);

    /* Writing fails midway (PATH.tmp leads to /dev/full: ENOSPC): the tmp
     * entry is removed and PATH is still the old file. */
    if (access("/dev/full", W_OK) == 0) {
        assert_int_equal(symlink("/dev/full", tmp), 0);
        assert_int_equal(tril_safetensors_write(path, &t, 1, NULL), TRIL_ERR_IO);
        assert_non_null(strstr(tril_last_error(), "write"));
        assert_false(st_exists(tmp));
        expect_unchanged(path, before, n);
    }

    /* The new version goes in once nothing is in the way. */
    write_version(path, 2.0f);
    tril_safetensors *st = NULL;
    assert_int_equal(tril_safetensors_open(path, &st), TRIL_OK);
    assert_true(((const float *)tril_safetensors_at(st, 0)->data)[3] == 2.0f);
    tril_safetensors_close(st);
    free(before);
}

/* A write cut short by the file-size limit (partial write, then EFBIG), in a
 * child process so the limit does not outlive the test. */
static void test_partial_write(void **state)
{
    (void)state;
    const char *path = st_path("limit.safetensors");
    const char *tmp = st_path("limit.safetensors.tmp");
    write_version(path, 1.0f);
    size_t n;
    uint8_t *before = st_read_bytes(path, &n);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {1000, 1000};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(3);
        tril_st_write_tensor t = {"big", TRIL_ST_U8, 1, {sizeof big}, big};
        tril_status rc = tril_safetensors_write(path, &t, 1, NULL);
        if (rc != TRIL_ERR_IO) _exit(1);
        if (!strstr(tril_last_error(), "File too large")) _exit(2);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(st_exists(tmp));
    expect_unchanged(path, before, n);
    free(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_args),
        cmocka_unit_test(test_unwritable),
        cmocka_unit_test(test_failed_write_keeps_old_file),
        cmocka_unit_test(test_partial_write),
    };
    return cmocka_run_group_tests(tests, st_dir_create, st_dir_remove);
}

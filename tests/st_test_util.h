/* Helpers for the safetensors tests: a scratch directory and whole-file I/O.
 * Include after <cmocka.h>. */
#ifndef TRIL_ST_TEST_UTIL_H
#define TRIL_ST_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

static char st_dir[512];

/* A fresh directory under $TMPDIR (or /tmp), removed by st_dir_remove. */
static inline int st_dir_create(void **state)
{
    (void)state;
    if (test_temp_dir(st_dir, sizeof st_dir, "tril_st") != 0) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

/* Removes the scratch directory and everything the tests left in it. */
static inline int st_dir_remove(void **state)
{
    (void)state;
    return test_remove_dir(st_dir);
}

/* st_dir/name in a rotating static buffer (four live at once). */
static inline const char *st_path(const char *name)
{
    static char buf[4][1024];
    static int next;
    char *p = buf[next++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", st_dir, name);
    return p;
}

static inline void st_write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The whole file (caller frees); *n its size. */
static inline uint8_t *st_read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    uint8_t *p = malloc((size_t)size + 1);
    assert_non_null(p);
    if (size) assert_int_equal(fread(p, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return p;
}

static inline int st_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* An image: 8-byte little-endian `hl` (or strlen(header) if hl is
 * UINT64_MAX), the header text, then data_len bytes 0, 1, 2, ... */
static inline uint8_t *st_image(uint64_t hl, const char *header, size_t data_len, size_t *n)
{
    size_t len = strlen(header);
    if (hl == UINT64_MAX) hl = len;
    *n = 8 + len + data_len;
    uint8_t *p = malloc(*n + 1);
    assert_non_null(p);
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(hl >> (8 * i));
    memcpy(p + 8, header, len);
    for (size_t i = 0; i < data_len; i++) p[8 + len + i] = (uint8_t)i;
    return p;
}

#endif

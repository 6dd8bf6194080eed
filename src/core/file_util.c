/* Whole-file reads and path helpers. */
#include "core/file_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

tril_status tril_read_file(const char *path, size_t limit, char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return TRIL_FAIL(TRIL_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return TRIL_FAIL(TRIL_ERR_IO, "'%s' is a directory, not a file", path);
    }
    /* Read in growing chunks rather than trusting st_size: pipes and /proc
     * files report 0. */
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1 || n > limit) break; /* end of file, an error, or too big */
        char *bigger = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (!buf) return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory reading '%s'", path);
    if (err) {
        free(buf);
        return TRIL_FAIL(TRIL_ERR_IO, "cannot read '%s': %s", path, strerror(err));
    }
    if (n > limit) {
        free(buf);
        return TRIL_FAIL(TRIL_ERR_FORMAT, "'%s' is too large (limit %zu bytes)", path, limit);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return TRIL_OK;
}

int tril_is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int tril_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

tril_status tril_path_join(char *dst, size_t size, const char *dir, const char *name)
{
    int n = snprintf(dst, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "path too long: '%s/%s'", dir, name);
    return TRIL_OK;
}

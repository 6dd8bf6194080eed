/* Whole-file reads and path helpers. */
#include "model/file_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

tril_status tril_read_file(const char *path, size_t limit, char **out, size_t *len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return TRIL_FAIL(TRIL_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return TRIL_FAIL(TRIL_ERR_IO, "'%s' is not a regular file", path);
    }
    if ((size_t)sb.st_size > limit) {
        fclose(f);
        return TRIL_FAIL(TRIL_ERR_FORMAT, "'%s' is too large (%lld bytes, limit %zu)", path,
                         (long long)sb.st_size, limit);
    }
    size_t size = (size_t)sb.st_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        fclose(f);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot allocate %zu bytes for '%s'", size + 1, path);
    }
    size_t got = fread(buf, 1, size, f);
    int err = ferror(f);
    fclose(f);
    if (got != size || err) {
        free(buf);
        return TRIL_FAIL(TRIL_ERR_IO, "cannot read '%s'", path);
    }
    buf[size] = '\0';
    *out = buf;
    if (len) *len = size;
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

/* Whole-file reads and path helpers. */
#include "tril/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a file that is not a regular file is, for messages. */
static const char *kind_of(mode_t mode)
{
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISREG(mode)) return "a regular file";
    return "a special file";
}

/* The message for a path that could not be used, from stat's errno. */
static tril_status missing(const char *path, int err)
{
    if (err == ENOENT || err == ENOTDIR)
        return TRIL_FAIL(TRIL_ERR_IO, "'%s' does not exist", path);
    return TRIL_FAIL(TRIL_ERR_IO, "cannot access '%s': %s", path, strerror(err));
}

tril_status tril_open_regular(const char *path, int *fd, uint64_t *size)
{
    *fd = -1;
    if (size) *size = 0;
    /* O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer,
     * possibly forever; fstat then refuses it before any read. */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0) {
        const int err = errno;
        struct stat sb;
        if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
            return TRIL_FAIL(TRIL_ERR_IO, "'%s' is %s, not a regular file", path,
                             kind_of(sb.st_mode));
        if (err == ENOENT || err == ENOTDIR) return missing(path, err);
        return TRIL_FAIL(TRIL_ERR_IO, "cannot open '%s': %s", path, strerror(err));
    }
    struct stat sb;
    if (fstat(f, &sb) != 0) {
        const int err = errno;
        close(f);
        return TRIL_FAIL(TRIL_ERR_IO, "cannot stat '%s': %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(f);
        return TRIL_FAIL(TRIL_ERR_IO, "'%s' is %s, not a regular file", path, kind_of(sb.st_mode));
    }
    /* Regular files ignore O_NONBLOCK, but leave the descriptor as a plain
     * blocking one for whoever reads it. */
    const int flags = fcntl(f, F_GETFL);
    if (flags < 0 || fcntl(f, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        const int err = errno;
        close(f);
        return TRIL_FAIL(TRIL_ERR_IO, "cannot use '%s': %s", path, strerror(err));
    }
    *fd = f;
    if (size) *size = (uint64_t)sb.st_size;
    return TRIL_OK;
}

/* "'name' is larger than the limit of 1024 MB" (MB = 2^20 bytes). */
static tril_status too_large(const char *name, size_t limit)
{
    if (limit >= ((size_t)1 << 20) && limit % ((size_t)1 << 20) == 0)
        return TRIL_FAIL(TRIL_ERR_RANGE, "'%s' is larger than the limit of %zu MB", name,
                         limit >> 20);
    return TRIL_FAIL(TRIL_ERR_RANGE, "'%s' is larger than the limit of %zu bytes", name, limit);
}

tril_status tril_read_fd(int fd, const char *name, size_t limit, size_t hint, char **out,
                         size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    if (limit > SIZE_MAX - 2) limit = SIZE_MAX - 2; /* room for one byte more and the NUL */
    /* Read in growing chunks rather than trusting the hint (a file may
     * change; a pipe has none), and never more than limit + 1 bytes: the
     * extra byte tells "exactly limit" from "more". */
    size_t cap = hint < limit ? hint + 2 : limit + 2;
    if (cap < 4096) cap = 4096 < limit + 2 ? 4096 : limit + 2;
    size_t n = 0;
    char *buf = malloc(cap);
    if (!buf) return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory reading '%s'", name);
    for (;;) {
        if (n == cap - 1) { /* full: grow, up to limit + 2 */
            if (cap >= limit + 2) break;
            size_t bigger = cap > (limit + 2) / 2 ? limit + 2 : cap * 2;
            char *p = realloc(buf, bigger);
            if (!p) {
                free(buf);
                return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory reading '%s' (%zu bytes so far)",
                                 name, n);
            }
            buf = p;
            cap = bigger;
        }
        ssize_t got = read(fd, buf + n, cap - 1 - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            const int err = errno;
            free(buf);
            return TRIL_FAIL(TRIL_ERR_IO, "cannot read '%s': %s", name, strerror(err));
        }
        if (got == 0) break;
        n += (size_t)got;
        if (n > limit) break;
    }
    if (n > limit) {
        free(buf);
        return too_large(name, limit);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return TRIL_OK;
}

tril_status tril_read_file(const char *path, size_t limit, char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    int fd;
    uint64_t size;
    tril_status st = tril_open_regular(path, &fd, &size);
    if (st != TRIL_OK) return st;
    if (size > limit) { /* refused before reading a byte */
        close(fd);
        return too_large(path, limit);
    }
    st = tril_read_fd(fd, path, limit, (size_t)size, out, len);
    if (close(fd) != 0 && st == TRIL_OK) {
        const int err = errno;
        free(*out);
        *out = NULL;
        if (len) *len = 0;
        return TRIL_FAIL(TRIL_ERR_IO, "cannot read '%s': %s", path, strerror(err));
    }
    return st;
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

tril_status tril_check_file(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return missing(path, errno);
    if (!S_ISREG(sb.st_mode))
        return TRIL_FAIL(TRIL_ERR_IO, "'%s' is %s, not a regular file", path, kind_of(sb.st_mode));
    return TRIL_OK;
}

tril_status tril_check_dir(const char *path, const char *what)
{
    struct stat sb;
    const char *sep = what ? " " : "";
    if (what == NULL) what = "";
    if (stat(path, &sb) != 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR)
            return TRIL_FAIL(TRIL_ERR_IO, "%s%s'%s' does not exist", what, sep, path);
        return TRIL_FAIL(TRIL_ERR_IO, "cannot access %s%s'%s': %s", what, sep, path,
                         strerror(err));
    }
    if (!S_ISDIR(sb.st_mode))
        return TRIL_FAIL(TRIL_ERR_IO, "%s%s'%s' is not a directory (it is %s)", what, sep, path,
                         kind_of(sb.st_mode));
    return TRIL_OK;
}

tril_status tril_path_join(char *dst, size_t size, const char *dir, const char *name)
{
    int n = snprintf(dst, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "path too long: '%s/%s'", dir, name);
    return TRIL_OK;
}

/* Crash-safe writes: temporary file or folder, fsync, rename. */
#define _GNU_SOURCE /* renameat2 */
#include "train/fs_atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tril/file.h"

static int write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t put = write(fd, p, len);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) return -1;
        p += put;
        len -= (size_t)put;
    }
    return 0;
}

tril_status trfs_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return TRIL_FAIL(TRIL_ERR_IO, "cannot open folder '%s': %s", dir, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    /* Some file systems cannot fsync a folder (EINVAL); that is no error. */
    if (rc != 0 && err != EINVAL && err != EROFS)
        return TRIL_FAIL(TRIL_ERR_IO, "cannot sync folder '%s': %s", dir, strerror(err));
    return TRIL_OK;
}

void trfs_fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = '\0'; /* "a/b/" names b */
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) slash[1] = '\0';
    else *slash = '\0';
    trfs_fsync_dir(dir);
    tril_clear_error();
}

tril_status trfs_write_file(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= sizeof tmp)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "path too long: '%s'", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return TRIL_FAIL(TRIL_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
    int ok = write_all(fd, data, len) == 0 && fsync(fd) == 0;
    int err = errno;
    ok = (close(fd) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        if (ok) err = errno;
        unlink(tmp);
        return TRIL_FAIL(TRIL_ERR_IO, "cannot write '%s': %s", path, strerror(err));
    }
    trfs_fsync_parent(path);
    return TRIL_OK;
}

tril_status trfs_copy_file(const char *src, const char *dst)
{
    char *buf = NULL;
    size_t len = 0;
    tril_status st = tril_read_file(src, (size_t)1 << 30, &buf, &len);
    if (st != TRIL_OK) return st;
    st = trfs_write_file(dst, buf, len);
    free(buf);
    return st;
}

void trfs_remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path)
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

tril_status trfs_make_temp_dir(const char *dir, char *tmp, size_t size)
{
    if ((size_t)snprintf(tmp, size, "%s.tmp-%ld", dir, (long)getpid()) >= size)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "path too long: '%s'", dir);
    trfs_remove_flat_dir(tmp); /* a leftover of an earlier failure of this process */
    if (mkdir(tmp, 0755) != 0)
        return TRIL_FAIL(TRIL_ERR_IO, "cannot create folder '%s': %s", tmp, strerror(errno));
    return TRIL_OK;
}

tril_status trfs_commit_dir(const char *tmp, const char *dir)
{
    tril_status st = trfs_fsync_dir(tmp);
    if (st != TRIL_OK) return st;
    struct stat sb;
    if (lstat(dir, &sb) != 0) { /* nothing to replace */
        if (rename(tmp, dir) != 0)
            return TRIL_FAIL(TRIL_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, dir,
                             strerror(errno));
        trfs_fsync_parent(dir);
        return TRIL_OK;
    }
    if (!S_ISDIR(sb.st_mode))
        return TRIL_FAIL(TRIL_ERR_IO, "'%s' exists and is not a folder", dir);
#ifdef RENAME_EXCHANGE
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        trfs_fsync_parent(dir);
        trfs_remove_flat_dir(tmp); /* now the old folder */
        return TRIL_OK;
    }
#endif
    char old[PATH_MAX];
    if ((size_t)snprintf(old, sizeof old, "%s.old-%ld", dir, (long)getpid()) >= sizeof old)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "path too long: '%s'", dir);
    trfs_remove_flat_dir(old);
    if (rename(dir, old) != 0)
        return TRIL_FAIL(TRIL_ERR_IO, "cannot move '%s' aside: %s", dir, strerror(errno));
    if (rename(tmp, dir) != 0) {
        int err = errno;
        rename(old, dir);
        return TRIL_FAIL(TRIL_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, dir, strerror(err));
    }
    trfs_fsync_parent(dir);
    trfs_remove_flat_dir(old);
    return TRIL_OK;
}

tril_status trfs_mkdirs(const char *dir)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s", dir) >= sizeof path)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "path too long: '%s'", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return TRIL_FAIL(TRIL_ERR_IO, "cannot create folder '%s': %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return TRIL_FAIL(TRIL_ERR_IO, "cannot create folder '%s': %s", path, strerror(errno));
    if (!tril_is_dir(path)) return TRIL_FAIL(TRIL_ERR_IO, "'%s' is not a folder", path);
    return TRIL_OK;
}

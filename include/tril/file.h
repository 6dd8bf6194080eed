/* tril/file.h - file helpers the layers and programs share: regular files
 * only (never block on a FIFO), size limits, messages that say what is wrong. */
#ifndef TRIL_FILE_H
#define TRIL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "tril/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads a whole regular file into a NUL-terminated malloc'd buffer (limit
 * bytes at most), as tril_open_regular + tril_read_fd: TRIL_ERR_IO naming the
 * path (and what it is, if not a regular file) on failure, TRIL_ERR_RANGE if
 * it holds more than limit bytes. */
tril_status tril_read_file(const char *path, size_t limit, char **out, size_t *len);
/* Opens path read-only if it is a regular file. The open does not block (a
 * FIFO without a writer would wait forever); anything that is not a regular
 * file is refused with TRIL_ERR_IO saying what it is ("is a directory",
 * "is a FIFO (named pipe)", ...). *size: its size in bytes (may be NULL). */
tril_status tril_open_regular(const char *path, int *fd, uint64_t *size);
/* Reads fd to its end into a NUL-terminated malloc'd buffer; `name` names it
 * in messages, `hint` is the expected size (0: unknown). More than `limit`
 * bytes: TRIL_ERR_RANGE "'name' is larger than the limit of ..." after
 * reading at most limit + 1 bytes (so an endless stream stops). */
tril_status tril_read_fd(int fd, const char *name, size_t limit, size_t hint, char **out,
                         size_t *len);
/* 1 if path names an existing regular file / directory. */
int tril_is_file(const char *path);
int tril_is_dir(const char *path);
/* TRIL_OK if path is a regular file / a directory; otherwise TRIL_ERR_IO with
 * a message that says what is wrong: "'P' does not exist", "'P' is a
 * directory, not a regular file", "WHAT 'P' is not a directory (a regular
 * file)", ... (`what`, e.g. "model folder", may be NULL). */
tril_status tril_check_file(const char *path);
tril_status tril_check_dir(const char *path, const char *what);
/* dst = dir + "/" + name; TRIL_ERR_INVALID_ARG if it does not fit. */
tril_status tril_path_join(char *dst, size_t size, const char *dir, const char *name);

#ifdef __cplusplus
}
#endif
#endif /* TRIL_FILE_H */

/* Small file helpers shared by the layers that read files. */
#ifndef TRIL_CORE_FILE_UTIL_H
#define TRIL_CORE_FILE_UTIL_H

#include <stddef.h>

#include "tril/error.h"

/* Reads a whole file into a NUL-terminated malloc'd buffer (limit bytes at
 * most). TRIL_ERR_IO naming the path on failure. */
tril_status tril_read_file(const char *path, size_t limit, char **out, size_t *len);
/* 1 if path names an existing regular file / directory. */
int tril_is_file(const char *path);
int tril_is_dir(const char *path);
/* dst = dir + "/" + name; TRIL_ERR_INVALID_ARG if it does not fit. */
tril_status tril_path_join(char *dst, size_t size, const char *dir, const char *name);

#endif

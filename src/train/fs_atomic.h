/* Crash-safe file and folder writes for checkpoints and caches (internal).
 *
 * A file is written to PATH.tmp-<pid>, fsynced, renamed over PATH, and its
 * folder fsynced: readers see the old file or the new one, never a torn one.
 * A folder is built as DIR.tmp-<pid> (files fsynced, folder fsynced) and
 * then swapped into place (see trfs_commit_dir). */
#ifndef TRIL_TRAIN_FS_ATOMIC_H
#define TRIL_TRAIN_FS_ATOMIC_H

#include <stddef.h>

#include "tril/error.h"

/* Writes `len` bytes to `path` atomically. TRIL_ERR_IO naming the path. */
tril_status trfs_write_file(const char *path, const void *data, size_t len);
/* Copies a file's bytes to `dst` atomically. */
tril_status trfs_copy_file(const char *src, const char *dst);
/* fsync of a folder, so renames inside it are durable. */
tril_status trfs_fsync_dir(const char *dir);
/* fsync of the folder that holds `path`. */
void trfs_fsync_parent(const char *path);
/* Creates a fresh, empty DIR.tmp-<pid> (removing a stale one of that name)
 * and writes its path into tmp. */
tril_status trfs_make_temp_dir(const char *dir, char *tmp, size_t size);
/* Puts the finished folder `tmp` in place as `dir`. When `dir` exists the two
 * are swapped in one atomic step (renameat2 RENAME_EXCHANGE) and the old one
 * removed; where the file system cannot exchange, `dir` is renamed aside to
 * DIR.old-<pid>, `tmp` renamed in, then the old one removed. Either way a
 * crash leaves a complete old or new folder, never a mix. */
tril_status trfs_commit_dir(const char *tmp, const char *dir);
/* Removes a folder and the plain files in it (not recursive); best effort. */
void trfs_remove_flat_dir(const char *dir);
/* mkdir -p for one folder and its missing parents. */
tril_status trfs_mkdirs(const char *dir);

#endif

/* A training run's output folder: the lock that keeps it to one run at a
 * time, the leftovers of interrupted writes, and an earlier run's files
 * (layout and guarantees in include/tril/checkpoint.h). */
#include "tril/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tril/file.h"
#include "train/fs_atomic.h"

#define LOCK_NAME ".tril-train.lock"

/* The files tril writes at the top of an output folder and in a checkpoint. */
static const char *const model_files[] = {"config.json", "model.safetensors"};
static const char *const run_files[] = {"log.csv", "trainer_state.json", "optimizer.safetensors"};
static const char *const tokenizer_files[] = {"vocab.json", "merges.txt", "tokenizer.json"};
static const char *const checkpoint_files[] = {"config.json", "model.safetensors",
                                               "optimizer.safetensors", "trainer_state.json",
                                               "vocab.json", "merges.txt", "tokenizer.json"};
#define COUNT(a) (sizeof(a) / sizeof *(a))

static int in_list(const char *name, size_t len, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && strncmp(name, list[i], len) == 0) return 1;
    return 0;
}

/* "checkpoint-<digits>" in the first len bytes of name. */
static int is_checkpoint_name(const char *name, size_t len)
{
    if (len <= 11 || strncmp(name, "checkpoint-", 11) != 0) return 0;
    for (size_t i = 11; i < len; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    return 1;
}

/* A name tril writes into an output folder (the base of a leftover). */
static int owned_name(const char *name, size_t len)
{
    return is_checkpoint_name(name, len) || in_list(name, len, model_files, COUNT(model_files)) ||
           in_list(name, len, tokenizer_files, COUNT(tokenizer_files));
}

static long read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return end != buf && pid > 0 ? pid : 0;
}

tril_status tril_run_dir_lock(const char *dir, tril_run_lock *lock)
{
    if (!dir || !lock) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "run folder lock: NULL argument");
    memset(lock, 0, sizeof *lock);
    lock->fd = -1;
    if ((size_t)snprintf(lock->dir, sizeof lock->dir, "%s", dir) >= sizeof lock->dir ||
        tril_path_join(lock->path, sizeof lock->path, dir, LOCK_NAME) != TRIL_OK)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "path too long: '%s'", dir);
    /* The file of a lock is removed on release, so one opened just before
     * that may be locked but no longer named: then lock the new one. */
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(lock->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return TRIL_FAIL(TRIL_ERR_IO, "cannot create the lock file '%s': %s", lock->path,
                             strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            if (err == EINTR) {
                close(fd);
                continue;
            }
            if (err != EWOULDBLOCK) {
                close(fd);
                return TRIL_FAIL(TRIL_ERR_IO, "cannot lock '%s': %s", lock->path, strerror(err));
            }
            /* The holder writes its pid just after locking: give it a moment. */
            long pid = 0;
            for (int i = 0; i < 50 && (pid = read_pid(fd)) == 0; i++)
                nanosleep(&(struct timespec){0, 2000000}, NULL);
            close(fd);
            if (pid)
                return TRIL_FAIL(TRIL_ERR_IO, "output folder %s is in use by another tril train "
                                              "(pid %ld)", dir, pid);
            return TRIL_FAIL(TRIL_ERR_IO, "output folder %s is in use by another tril train", dir);
        }
        struct stat held, named;
        if (fstat(fd, &held) == 0 && stat(lock->path, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino) {
            char buf[32];
            int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
                int err = errno;
                close(fd);
                return TRIL_FAIL(TRIL_ERR_IO, "cannot write the lock file '%s': %s", lock->path,
                                 strerror(err));
            }
            lock->fd = fd;
            lock->held = 1;
            return TRIL_OK;
        }
        close(fd);
    }
    return TRIL_FAIL(TRIL_ERR_IO, "cannot lock '%s': its lock file keeps changing", lock->path);
}

void tril_run_dir_unlock(tril_run_lock *lock)
{
    if (!lock || !lock->held) return;
    struct stat held, named;
    /* Remove the file only while it is still ours; the close releases the lock. */
    if (fstat(lock->fd, &held) == 0 && stat(lock->path, &named) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino)
        unlink(lock->path);
    close(lock->fd);
    lock->fd = -1;
    lock->held = 0;
}

/* NAME.tmp-<pid> / NAME.old-<pid>: the pid and whether it is an "old". */
static int leftover(const char *name, long *pid, int *is_old, size_t *base_len)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name || (strncmp(dot, ".tmp-", 5) != 0 && strncmp(dot, ".old-", 5) != 0))
        return 0;
    char *end;
    *pid = strtol(dot + 5, &end, 10);
    if (end == dot + 5 || *end || *pid <= 0) return 0;
    *is_old = dot[1] == 'o';
    *base_len = (size_t)(dot - name);
    return 1;
}

/* locked: this process holds the folder's lock, so no other run writes
 * here and a leftover of tril's own files is stale even when its pid now
 * names a live process (pids are reused). Other names keep the pid test:
 * e.g. the token cache of a data file kept in this folder may be written by
 * a run elsewhere. */
static int cleanup(const char *out_dir, int locked)
{
    DIR *d = out_dir ? opendir(out_dir) : NULL;
    if (!d) return 0;
    int done = 0;
    struct dirent *e;
    char path[PATH_MAX], base[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        long pid;
        int is_old;
        size_t blen;
        if (locked && strcmp(e->d_name, "model.safetensors.tmp") == 0) {
            /* the safetensors writer's temporary name carries no pid */
            if ((size_t)snprintf(path, sizeof path, "%s/%s", out_dir, e->d_name) < sizeof path &&
                unlink(path) == 0)
                done++;
            continue;
        }
        if (!leftover(e->d_name, &pid, &is_old, &blen) || pid == (long)getpid()) continue;
        const int stale = (locked && owned_name(e->d_name, blen)) ||
                          (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
        if (!stale) continue; /* its writer may be running */
        if ((size_t)snprintf(path, sizeof path, "%s/%s", out_dir, e->d_name) >= sizeof path ||
            (size_t)snprintf(base, sizeof base, "%s/%.*s", out_dir, (int)blen, e->d_name) >= sizeof base)
            continue;
        struct stat sb;
        if (lstat(path, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) {
            if (is_old && !tril_is_dir(base) && rename(path, base) == 0) {
                done++;
                continue;
            }
            trfs_remove_flat_dir(path);
            done += !tril_is_dir(path);
        } else if (S_ISREG(sb.st_mode) && unlink(path) == 0) {
            done++;
        }
    }
    closedir(d);
    return done;
}

int tril_checkpoint_cleanup(const char *out_dir)
{
    return cleanup(out_dir, 0);
}

int tril_run_dir_cleanup(const tril_run_lock *lock)
{
    return lock && lock->held ? cleanup(lock->dir, 1) : 0;
}

/* Appends ", name" to a list, ending it with "..." once it is full. */
static void list_add(char *list, size_t size, const char *name)
{
    if (!list || !size) return;
    size_t len = strlen(list);
    if (len >= 3 && strcmp(list + len - 3, "...") == 0) return;
    int n = snprintf(list + len, size - len, "%s%s", len ? ", " : "", name);
    if (n < 0 || (size_t)n >= size - len) {
        if (size < 4) {
            list[0] = '\0';
            return;
        }
        size_t at = len + 5 < size ? len : size - 5; /* room for ", ..." or "..." */
        snprintf(list + at, size - at, "%s...", at ? ", " : "");
    }
}

int tril_run_dir_earlier_run(const char *dir, char *what, size_t size)
{
    if (what && size) what[0] = '\0';
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const size_t len = strlen(e->d_name);
        if (!in_list(e->d_name, len, model_files, COUNT(model_files)) &&
            !in_list(e->d_name, len, run_files, COUNT(run_files)) &&
            !is_checkpoint_name(e->d_name, len))
            continue;
        found++;
        list_add(what, size, e->d_name);
    }
    closedir(d);
    return found;
}

/* Removes dir/name if it is a plain file; a missing one is no error. */
static tril_status remove_file(const char *dir, const char *name, int *removed)
{
    char path[PATH_MAX];
    *removed = 0;
    if (tril_path_join(path, sizeof path, dir, name) != TRIL_OK)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "path too long: '%s/%s'", dir, name);
    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return TRIL_OK; /* not tril's */
    if (unlink(path) != 0)
        return TRIL_FAIL(TRIL_ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
    *removed = 1;
    return TRIL_OK;
}

tril_status tril_run_dir_clear(const char *dir, int keep_tokenizer, char *removed, size_t size,
                               char *kept, size_t kept_size)
{
    if (removed && size) removed[0] = '\0';
    if (kept && kept_size) kept[0] = '\0';
    if (!dir) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "run folder clear: NULL argument");
    DIR *d = opendir(dir);
    if (!d) return TRIL_FAIL(TRIL_ERR_IO, "cannot read the folder '%s': %s", dir, strerror(errno));
    tril_status st = TRIL_OK;
    struct dirent *e;
    char sub[PATH_MAX];
    while (st == TRIL_OK && (e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        const size_t len = strlen(name);
        int gone = 0;
        if (in_list(name, len, model_files, COUNT(model_files)) ||
            in_list(name, len, run_files, COUNT(run_files)) ||
            (!keep_tokenizer && in_list(name, len, tokenizer_files, COUNT(tokenizer_files)))) {
            st = remove_file(dir, name, &gone);
            if (gone) list_add(removed, size, name);
            continue;
        }
        if (!is_checkpoint_name(name, len)) continue; /* not tril's: never touched */
        if (tril_path_join(sub, sizeof sub, dir, name) != TRIL_OK) {
            st = TRIL_FAIL(TRIL_ERR_INVALID_ARG, "path too long: '%s/%s'", dir, name);
            break;
        }
        struct stat sb;
        if (lstat(sub, &sb) != 0 || !S_ISDIR(sb.st_mode)) continue;
        for (size_t i = 0; i < COUNT(checkpoint_files) && st == TRIL_OK; i++)
            st = remove_file(sub, checkpoint_files[i], &gone);
        if (st != TRIL_OK) break;
        /* A checkpoint that also holds files tril did not write stays, with them. */
        if (rmdir(sub) == 0) list_add(removed, size, name);
        else if (errno == ENOTEMPTY || errno == EEXIST) list_add(kept, kept_size, name);
        else st = TRIL_FAIL(TRIL_ERR_IO, "cannot remove '%s': %s", sub, strerror(errno));
    }
    closedir(d);
    if (st == TRIL_OK && trfs_fsync_dir(dir) != TRIL_OK)
        tril_clear_error(); /* the removals are done; their durability is best effort */
    return st;
}

/* io/safetensors_write.c - the atomic safetensors writer.
 *
 * The header is written by hand (not by cJSON, which prints large integers
 * as 1e+15): {"__metadata__":{...},"name":{"dtype":..,"shape":[..],
 * "data_offsets":[b,e]},...} with tensors in the order given and their data
 * packed in that order, padded with spaces to a multiple of 8 bytes as the
 * reference writer does. The file goes to PATH.tmp, is fsynced, renamed over
 * PATH, and the directory is fsynced; on failure PATH.tmp is removed and an
 * existing PATH is left as it was. */
#include "tril/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors_internal.h"

#define ST_MAX_EXACT_DIM (INT64_C(1) << 53) /* what the reader accepts */

/* ---- a growing byte buffer --------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom || n == 0) return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_u64(sbuf *b, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    sb_put(b, t, (size_t)n);
}

static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': sb_put(b, "\\\"", 2); break;
        case '\\': sb_put(b, "\\\\", 2); break;
        case '\n': sb_put(b, "\\n", 2); break;
        case '\r': sb_put(b, "\\r", 2); break;
        case '\t': sb_put(b, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", (unsigned)*p);
                sb_put(b, esc, 6);
            } else {
                sb_put(b, (const char *)p, 1);
            }
        }
    }
    sb_put(b, "\"", 1);
}

/* ---- validation ---------------------------------------------------------------- */

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF):
 * the header is JSON text, which readers decode as UTF-8. */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c = *p++;
        int n;
        uint32_t min;
        if (c < 0x80) continue;
        if ((c & 0xE0) == 0xC0) n = 1, min = 0x80, c &= 0x1F;
        else if ((c & 0xF0) == 0xE0) n = 2, min = 0x800, c &= 0x0F;
        else if ((c & 0xF8) == 0xF0) n = 3, min = 0x10000, c &= 0x07;
        else return 0;
        for (int i = 0; i < n; i++, p++) {
            if ((*p & 0xC0) != 0x80) return 0; /* also stops at the NUL */
            c = (c << 6) | (*p & 0x3Fu);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    }
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts v and returns a string that occurs twice, or NULL. */
static const char *find_duplicate(const char **v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_str);
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1], v[i]) == 0) return v[i];
    return NULL;
}

static tril_status check_tensor(const char *path, size_t i, const tril_st_write_tensor *t,
                                uint64_t *nbytes)
{
    if (!t->name) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: tensor %zu has no name", path, i);
    const char *name = t->name;
    if (strcmp(name, "__metadata__") == 0)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: '__metadata__' is reserved, not a tensor name",
                         path);
    if (!utf8_valid(name))
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: name of tensor %zu is not valid UTF-8", path, i);
    if (tril_st_dtype_size(t->dtype) == 0)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: tensor '%s' has an unknown dtype (%d)", path,
                         name, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > TRIL_ST_MAX_DIMS)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: tensor '%s' has ndim %d, not in [0, %d]", path,
                         name, (int)t->ndim, TRIL_ST_MAX_DIMS);
    for (int32_t d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0 || t->shape[d] > ST_MAX_EXACT_DIM)
            return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: dim %d of tensor '%s' is %lld, not in "
                             "[0, 2^53]", path, (int)d, name, (long long)t->shape[d]);
    }
    int64_t numel;
    if (st_shape_numel(t->ndim, t->shape, &numel) != 0 || st_nbytes(t->dtype, numel, nbytes) != 0 ||
        *nbytes > SIZE_MAX)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: size of tensor '%s' overflows", path, name);
    if (*nbytes > 0 && !t->data)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: tensor '%s' has no data", path, name);
    return TRIL_OK;
}

static tril_status check_inputs(const char *path, const tril_st_write_tensor *tensors, size_t count,
                                const char *const *metadata, uint64_t *nbytes)
{
    size_t n_meta = 0;
    for (size_t i = 0; metadata && metadata[i]; i += 2) {
        if (!metadata[i + 1])
            return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                             "%s: metadata key '%s' has no value (the list is key, value pairs "
                             "ending with NULL)", path, metadata[i]);
        if (!utf8_valid(metadata[i]) || !utf8_valid(metadata[i + 1]))
            return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: metadata entry '%s' is not valid UTF-8",
                             path, metadata[i]);
        n_meta++;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        tril_status rc = check_tensor(path, i, &tensors[i], &nbytes[i]);
        if (rc != TRIL_OK) return rc;
        if (__builtin_add_overflow(total, nbytes[i], &total))
            return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: total data size overflows", path);
    }
    size_t most = count > n_meta ? count : n_meta;
    const char **names = malloc((most ? most : 1) * sizeof *names);
    if (!names) return TRIL_FAIL(TRIL_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < count; i++) names[i] = tensors[i].name;
    const char *dup = find_duplicate(names, count);
    tril_status rc = TRIL_OK;
    if (dup) {
        rc = TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: duplicate tensor name '%s'", path, dup);
    } else {
        for (size_t i = 0; i < n_meta; i++) names[i] = metadata[2 * i];
        dup = find_duplicate(names, n_meta);
        if (dup) rc = TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: duplicate metadata key '%s'", path, dup);
    }
    free(names);
    return rc;
}

/* ---- the file ------------------------------------------------------------------- */

/* Writes all n bytes, across partial writes and EINTR; -1 with errno set. */
static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync the directory holding path, so that the rename itself is durable.
 * Filesystems that cannot sync a directory (EINVAL) are not an error. */
static tril_status sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    if (slash && n == 0) n = 1; /* "/file" */
    char *dir = malloc(n + 1);
    if (!dir) return TRIL_FAIL(TRIL_ERR_NOMEM, "%s: out of memory", path);
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    tril_status rc = TRIL_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        rc = TRIL_FAIL(TRIL_ERR_IO, "wrote '%s' but cannot open its directory '%s' to sync it: %s",
                       path, dir, strerror(errno));
    } else {
        if (fsync(fd) != 0 && errno != EINVAL)
            rc = TRIL_FAIL(TRIL_ERR_IO, "wrote '%s' but cannot sync its directory '%s': %s", path,
                           dir, strerror(errno));
        close(fd); /* read-only descriptor: nothing to lose */
    }
    free(dir);
    return rc;
}

static tril_status write_file(const char *path, const sbuf *hdr, const tril_st_write_tensor *tensors,
                              const uint64_t *nbytes, size_t count)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) return TRIL_FAIL(TRIL_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        tril_status rc = TRIL_FAIL(TRIL_ERR_IO, "cannot write '%s': cannot create '%s': %s", path,
                                   tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    const char *step = NULL;
    int err = 0;
    if (write_all(fd, hdr->p, hdr->len) != 0) step = "write", err = errno;
    for (size_t i = 0; i < count && !step; i++) {
        if (nbytes[i] && write_all(fd, tensors[i].data, (size_t)nbytes[i]) != 0)
            step = "write", err = errno;
    }
    if (!step && fsync(fd) != 0) step = "fsync", err = errno;
    if (close(fd) != 0 && !step) step = "close", err = errno;
    if (!step && rename(tmp, path) != 0) step = "rename", err = errno;
    tril_status rc = TRIL_OK;
    if (step) {
        unlink(tmp); /* best effort: the error that matters is the first one */
        rc = TRIL_FAIL(TRIL_ERR_IO, "cannot write '%s': %s of '%s' failed: %s", path, step, tmp,
                       strerror(err));
    }
    free(tmp);
    return rc == TRIL_OK ? sync_dir(path) : rc;
}

tril_status tril_safetensors_write(const char *path, const tril_st_write_tensor *tensors,
                                   size_t count, const char *const *metadata)
{
    if (!path || !*path) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "safetensors write: no path");
    if (count > 0 && !tensors)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: %zu tensors but no array", path, count);
    if (count > SIZE_MAX / sizeof(uint64_t))
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: too many tensors (%zu)", path, count);
    uint64_t *nbytes = malloc((count ? count : 1) * sizeof *nbytes);
    if (!nbytes) return TRIL_FAIL(TRIL_ERR_NOMEM, "%s: out of memory", path);
    tril_status rc = check_inputs(path, tensors, count, metadata, nbytes);
    if (rc != TRIL_OK) {
        free(nbytes);
        return rc;
    }

    sbuf h = {0};
    sb_put(&h, "\0\0\0\0\0\0\0\0{", 9); /* the length is filled in below */
    int first = 1;
    if (metadata && metadata[0]) {
        sb_str(&h, "\"__metadata__\":{");
        for (size_t i = 0; metadata[i]; i += 2) {
            if (i) sb_put(&h, ",", 1);
            sb_json_string(&h, metadata[i]);
            sb_put(&h, ":", 1);
            sb_json_string(&h, metadata[i + 1]);
        }
        sb_put(&h, "}", 1);
        first = 0;
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        const tril_st_write_tensor *t = &tensors[i];
        if (!first) sb_put(&h, ",", 1);
        first = 0;
        sb_json_string(&h, t->name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, tril_st_dtype_name(t->dtype));
        sb_str(&h, "\",\"shape\":[");
        for (int32_t d = 0; d < t->ndim; d++) {
            if (d) sb_put(&h, ",", 1);
            sb_u64(&h, (uint64_t)t->shape[d]);
        }
        sb_str(&h, "],\"data_offsets\":[");
        sb_u64(&h, offset);
        sb_put(&h, ",", 1);
        offset += nbytes[i]; /* the sum was checked in check_inputs */
        sb_u64(&h, offset);
        sb_str(&h, "]}");
    }
    sb_put(&h, "}", 1);
    while (!h.oom && (h.len - 8) % 8 != 0) sb_put(&h, " ", 1);

    if (h.oom) {
        rc = TRIL_FAIL(TRIL_ERR_NOMEM, "%s: out of memory for the header", path);
    } else if (h.len - 8 > TRIL_ST_MAX_HEADER) {
        rc = TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: header of %zu bytes is over the %u-byte limit",
                       path, h.len - 8, (unsigned)TRIL_ST_MAX_HEADER);
    } else {
        uint64_t hl = h.len - 8;
        for (int i = 0; i < 8; i++) h.p[i] = (char)(unsigned char)(hl >> (8 * i));
        rc = write_file(path, &h, tensors, nbytes, count);
    }
    free(h.p);
    free(nbytes);
    return rc;
}

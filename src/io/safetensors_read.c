/* io/safetensors_read.c - the validating safetensors reader.
 *
 * A file is memory-mapped (PROT_READ, MAP_PRIVATE) and checked completely
 * before the handle is returned: header length against the file size and
 * TRIL_ST_MAX_HEADER, the header JSON (cJSON), every entry's dtype, shape and
 * data_offsets, names unique, ranges inside the data section and not
 * overlapping (safetensors_header.c). Tensor data are never copied; only the
 * header text is, so that cJSON sees a NUL-terminated string of exactly the
 * header's bytes. */
#include "tril/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors_internal.h"

/* ---- dtypes ---------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t size;
} st_dtypes[TRIL_ST_DTYPE_COUNT] = {
    [TRIL_ST_F32] = {"F32", 4},          [TRIL_ST_F16] = {"F16", 2},
    [TRIL_ST_BF16] = {"BF16", 2},        [TRIL_ST_F64] = {"F64", 8},
    [TRIL_ST_I64] = {"I64", 8},          [TRIL_ST_I32] = {"I32", 4},
    [TRIL_ST_I16] = {"I16", 2},          [TRIL_ST_I8] = {"I8", 1},
    [TRIL_ST_U64] = {"U64", 8},          [TRIL_ST_U32] = {"U32", 4},
    [TRIL_ST_U16] = {"U16", 2},          [TRIL_ST_U8] = {"U8", 1},
    [TRIL_ST_BOOL] = {"BOOL", 1},        [TRIL_ST_F8_E4M3] = {"F8_E4M3", 1},
    [TRIL_ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *tril_st_dtype_name(tril_st_dtype dtype)
{
    return (unsigned)dtype < TRIL_ST_DTYPE_COUNT ? st_dtypes[dtype].name : NULL;
}

size_t tril_st_dtype_size(tril_st_dtype dtype)
{
    return (unsigned)dtype < TRIL_ST_DTYPE_COUNT ? st_dtypes[dtype].size : 0;
}

tril_status tril_st_to_dtype(tril_st_dtype dtype, tril_dtype *out)
{
    tril_dtype d;
    switch (dtype) {
    case TRIL_ST_F32: d = TRIL_F32; break;
    case TRIL_ST_F16: d = TRIL_F16; break;
    case TRIL_ST_BF16: d = TRIL_BF16; break;
    default: {
        const char *name = tril_st_dtype_name(dtype);
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED,
                         "safetensors dtype %s has no tril dtype (only F32, F16 and BF16 do)",
                         name ? name : "(invalid)");
    }
    }
    if (out) *out = d;
    return TRIL_OK;
}

tril_status tril_st_dtype_parse(const char *name, tril_st_dtype *out)
{
    for (int i = 0; name && i < TRIL_ST_DTYPE_COUNT; i++) {
        if (strcmp(name, st_dtypes[i].name) == 0) {
            if (out) *out = (tril_st_dtype)i;
            return TRIL_OK;
        }
    }
    return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                     "unknown safetensors dtype '%s' (expected F32, F16, BF16, F64, I64, I32, I16, "
                     "I8, U64, U32, U16, U8, BOOL, F8_E4M3 or F8_E5M2, exact case)",
                     name ? name : "(null)");
}

/* ---- the image --------------------------------------------------------------- */

static tril_status too_short(const char *where, unsigned long long size)
{
    return ST_FAIL(where, TRIL_ERR_FORMAT,
                   "truncated: %llu bytes, less than the 8-byte header length field", size);
}

static int is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static tril_status parse_image(const uint8_t *base, size_t size, const char *where,
                               tril_safetensors *st)
{
    if (size < 8) return too_short(where, size);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | base[i]; /* little-endian, any host */
    if (hl > TRIL_ST_MAX_HEADER)
        return ST_FAIL(where, TRIL_ERR_FORMAT, "header length %llu is over the limit of %u bytes",
                       (unsigned long long)hl, (unsigned)TRIL_ST_MAX_HEADER);
    if (hl > size - 8)
        return ST_FAIL(where, TRIL_ERR_FORMAT,
                       "header length %llu exceeds the %zu bytes after the length field "
                       "(file of %zu bytes truncated?)",
                       (unsigned long long)hl, size - 8, size);
    if (hl == 0) return ST_FAIL(where, TRIL_ERR_FORMAT, "header is empty (length 0)");
    size_t hlen = (size_t)hl;
    uint64_t data_size = (uint64_t)(size - 8 - hlen);

    char *text = malloc(hlen + 1);
    if (!text) return ST_FAIL(where, TRIL_ERR_NOMEM, "out of memory for a %zu-byte header", hlen);
    memcpy(text, base + 8, hlen);
    text[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, hlen, &end, 0);
    tril_status rc = TRIL_OK;
    if (!root) {
        rc = ST_FAIL(where, TRIL_ERR_FORMAT, "header is not valid JSON (error near byte %zu of %zu)",
                     end && end >= text ? (size_t)(end - text) : (size_t)0, hlen);
        goto done;
    }
    for (const char *p = end; p && p < text + hlen; p++) {
        if (!is_json_space(*p)) {
            rc = ST_FAIL(where, TRIL_ERR_FORMAT,
                         "header has byte 0x%02x at %zu after its JSON value (only spaces may "
                         "pad it)",
                         (unsigned)(unsigned char)*p, (size_t)(p - text));
            goto done;
        }
    }
    if (!cJSON_IsObject(root)) {
        rc = ST_FAIL(where, TRIL_ERR_FORMAT, "header is not a JSON object");
        goto done;
    }
    rc = st_parse_header(root, where, data_size, st);
    if (rc == TRIL_OK) {
        const uint8_t *data = base + 8 + hlen;
        for (size_t i = 0; i < st->count; i++)
            st->tensors[i].data = data + st->tensors[i].offset;
    }
done:
    cJSON_Delete(root);
    free(text);
    return rc;
}

tril_status tril_safetensors_parse(const void *data, size_t size, tril_safetensors **out)
{
    if (!out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "tril_safetensors_parse: out is NULL");
    *out = NULL;
    if (!data && size > 0)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "tril_safetensors_parse: data is NULL");
    tril_safetensors *st = calloc(1, sizeof *st);
    if (!st) return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory");
    tril_status rc = data ? parse_image(data, size, "safetensors buffer", st)
                          : too_short("safetensors buffer", 0);
    if (rc != TRIL_OK) {
        tril_safetensors_close(st);
        return rc;
    }
    *out = st;
    return TRIL_OK;
}

tril_status tril_safetensors_open(const char *path, tril_safetensors **out)
{
    if (!out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "tril_safetensors_open: out is NULL");
    *out = NULL;
    if (!path) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "tril_safetensors_open: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return TRIL_FAIL(TRIL_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return TRIL_FAIL(TRIL_ERR_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return TRIL_FAIL(TRIL_ERR_IO, "'%s' is not a regular file", path);
    }
    if (sb.st_size < 8) {
        close(fd);
        return too_short(path, (unsigned long long)sb.st_size);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return TRIL_FAIL(TRIL_ERR_IO, "'%s' is too large to map", path);
    }
    size_t size = (size_t)sb.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    if (close(fd) != 0) {
        int e = errno;
        if (map != MAP_FAILED) munmap(map, size);
        return TRIL_FAIL(TRIL_ERR_IO, "cannot close '%s': %s", path, strerror(e));
    }
    if (map == MAP_FAILED)
        return TRIL_FAIL(TRIL_ERR_IO, "cannot map '%s': %s", path, strerror(map_errno));
    tril_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        munmap(map, size);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    st->map = map;
    st->map_size = size;
    tril_status rc = parse_image(map, size, path, st);
    if (rc != TRIL_OK) {
        tril_safetensors_close(st);
        return rc;
    }
    *out = st;
    return TRIL_OK;
}

void tril_safetensors_close(tril_safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->count; i++) free((char *)st->tensors[i].name);
    for (size_t i = 0; i < st->meta_count; i++) {
        free(st->meta[i].key);
        free(st->meta[i].value);
    }
    free(st->tensors);
    free(st->by_name);
    free(st->meta);
    if (st->map) munmap(st->map, st->map_size);
    free(st);
}

tril_status tril_safetensors_release(const tril_safetensors *st, const void *data, size_t nbytes)
{
    if (!st || !st->map || !data) return TRIL_OK;
    const uintptr_t base = (uintptr_t)st->map, p = (uintptr_t)data;
    if (p < base || p - base > st->map_size || nbytes > st->map_size - (p - base)) return TRIL_OK;
    const long page_l = sysconf(_SC_PAGESIZE);
    const uintptr_t page = page_l > 0 ? (uintptr_t)page_l : 4096u;
    /* Inward to whole pages: the neighbours' bytes stay resident. (The
     * mapping is read-only and private, so a dropped page is never lost:
     * touching it reads the file again.) */
    const uintptr_t begin = (p + page - 1) / page * page, end = (p + nbytes) / page * page;
    if (end <= begin) return TRIL_OK;
    if (madvise((void *)begin, (size_t)(end - begin), MADV_DONTNEED) != 0)
        return TRIL_FAIL(TRIL_ERR_IO, "cannot release %zu mapped bytes: %s", (size_t)(end - begin),
                         strerror(errno));
    return TRIL_OK;
}

/* ---- queries ----------------------------------------------------------------- */

size_t tril_safetensors_count(const tril_safetensors *st) { return st ? st->count : 0; }

const tril_st_tensor *tril_safetensors_at(const tril_safetensors *st, size_t i)
{
    return st && i < st->count ? &st->tensors[i] : NULL;
}

static int cmp_find(const void *key, const void *elem)
{
    return strcmp(key, (*(const tril_st_tensor *const *)elem)->name);
}

const tril_st_tensor *tril_safetensors_find(const tril_safetensors *st, const char *name)
{
    if (!st || !name || st->count == 0) return NULL;
    const tril_st_tensor *const *hit =
        bsearch(name, st->by_name, st->count, sizeof *st->by_name, cmp_find);
    return hit ? *hit : NULL;
}

static int cmp_find_meta(const void *key, const void *elem)
{
    return strcmp(key, ((const st_meta *)elem)->key);
}

const char *tril_safetensors_metadata(const tril_safetensors *st, const char *key)
{
    if (!st || !key || st->meta_count == 0) return NULL;
    const st_meta *hit = bsearch(key, st->meta, st->meta_count, sizeof *st->meta, cmp_find_meta);
    return hit ? hit->value : NULL;
}

size_t tril_safetensors_metadata_count(const tril_safetensors *st)
{
    return st ? st->meta_count : 0;
}

const char *tril_safetensors_metadata_key(const tril_safetensors *st, size_t i)
{
    return st && i < st->meta_count ? st->meta[i].key : NULL;
}


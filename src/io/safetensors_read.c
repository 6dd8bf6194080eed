/* io/safetensors_read.c - the validating safetensors reader.
 *
 * A file is memory-mapped (PROT_READ, MAP_PRIVATE) and checked completely
 * before the handle is returned: header length against the file size and
 * TRIL_ST_MAX_HEADER, the header JSON (cJSON), every entry's dtype, shape and
 * data_offsets, names unique, ranges inside the data section and not
 * overlapping. Tensor data are never copied; only the header text is, so that
 * cJSON sees a NUL-terminated string of exactly the header's bytes. Integers
 * in the header must be exact and at most 2^53 (what a JSON double holds
 * exactly; 8 PiB is beyond any file this reads). */
#include "tril/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors_internal.h"

typedef struct {
    char *key;
    char *value;
} st_meta;

struct tril_safetensors {
    void *map; /* the mapped file, or NULL for a parsed buffer */
    size_t map_size;
    tril_st_tensor *tensors; /* in order of data offset; names owned here */
    size_t count;
    const tril_st_tensor **by_name; /* sorted by name, for find() */
    st_meta *meta;                  /* sorted by key */
    size_t meta_count;
};

/* Every message starts with the file (or "safetensors buffer"). */
#define ST_FAIL(where, code, fmt, ...) TRIL_FAIL((code), "%s: " fmt, (where), ##__VA_ARGS__)

#define ST_MAX_EXACT 9007199254740992.0 /* 2^53 */

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

int tril_st_to_dtype(tril_st_dtype dtype, tril_dtype *out)
{
    tril_dtype d;
    switch (dtype) {
    case TRIL_ST_F32: d = TRIL_F32; break;
    case TRIL_ST_F16: d = TRIL_F16; break;
    case TRIL_ST_BF16: d = TRIL_BF16; break;
    default: return -1;
    }
    if (out) *out = d;
    return 0;
}

int tril_st_dtype_parse(const char *name, tril_st_dtype *out)
{
    if (!name) return -1;
    for (int i = 0; i < TRIL_ST_DTYPE_COUNT; i++) {
        if (strcmp(name, st_dtypes[i].name) == 0) {
            if (out) *out = (tril_st_dtype)i;
            return 0;
        }
    }
    return -1;
}

/* ---- header entries ---------------------------------------------------------- */

/* An exact integer in [0, 2^53]: 0; -1 negative, -2 not an integer, -3 too big. */
static int json_uint(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item)) return -2;
    double d = item->valuedouble;
    if (!isfinite(d) || d != floor(d)) return -2;
    if (d < 0) return -1;
    if (d > ST_MAX_EXACT) return -3;
    *out = (uint64_t)d;
    return 0;
}

static const char *uint_problem(const cJSON *item, int rc, char *buf, size_t n)
{
    if (!cJSON_IsNumber(item)) return "not a number";
    snprintf(buf, n, "%s (%.17g)",
             rc == -1 ? "negative" : rc == -2 ? "not an integer" : "larger than 2^53",
             item->valuedouble);
    return buf;
}

static tril_status parse_entry(const cJSON *entry, const char *where, uint64_t data_size,
                               tril_st_tensor *t)
{
    const char *name = t->name;
    if (!cJSON_IsObject(entry))
        return ST_FAIL(where, TRIL_ERR_FORMAT, "entry of tensor '%s' is not a JSON object", name);
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
    for (const cJSON *c = entry->child; c; c = c->next) {
        const cJSON **slot = NULL;
        if (!c->string) continue;
        if (strcmp(c->string, "dtype") == 0) slot = &dtype;
        else if (strcmp(c->string, "shape") == 0) slot = &shape;
        else if (strcmp(c->string, "data_offsets") == 0) slot = &offs;
        if (!slot) continue; /* other keys are ignored, as by the reference reader */
        if (*slot)
            return ST_FAIL(where, TRIL_ERR_FORMAT, "tensor '%s' has \"%s\" twice", name, c->string);
        *slot = c;
    }
    if (!dtype) return ST_FAIL(where, TRIL_ERR_FORMAT, "tensor '%s' has no \"dtype\"", name);
    if (!shape) return ST_FAIL(where, TRIL_ERR_FORMAT, "tensor '%s' has no \"shape\"", name);
    if (!offs) return ST_FAIL(where, TRIL_ERR_FORMAT, "tensor '%s' has no \"data_offsets\"", name);

    if (!cJSON_IsString(dtype))
        return ST_FAIL(where, TRIL_ERR_FORMAT, "\"dtype\" of tensor '%s' is not a string", name);
    if (tril_st_dtype_parse(dtype->valuestring, &t->dtype) != 0)
        return ST_FAIL(where, TRIL_ERR_FORMAT, "unknown dtype '%s' for tensor '%s'",
                       dtype->valuestring, name);

    char buf[96];
    if (!cJSON_IsArray(shape))
        return ST_FAIL(where, TRIL_ERR_FORMAT, "\"shape\" of tensor '%s' is not an array", name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim < 0 || ndim > TRIL_ST_MAX_DIMS)
        return ST_FAIL(where, TRIL_ERR_FORMAT, "tensor '%s' has %d dims; at most %d are supported",
                       name, ndim, TRIL_ST_MAX_DIMS);
    int d = 0;
    for (const cJSON *c = shape->child; c; c = c->next, d++) {
        uint64_t v = 0;
        int rc = json_uint(c, &v);
        if (rc != 0)
            return ST_FAIL(where, TRIL_ERR_FORMAT, "dim %d of tensor '%s' is %s", d, name,
                           uint_problem(c, rc, buf, sizeof buf));
        t->shape[d] = (int64_t)v;
    }
    t->ndim = ndim;
    if (st_shape_numel(t->ndim, t->shape, &t->numel) != 0)
        return ST_FAIL(where, TRIL_ERR_FORMAT,
                       "shape of tensor '%s' has more elements than int64 holds (overflow)", name);
    uint64_t nbytes;
    if (st_nbytes(t->dtype, t->numel, &nbytes) != 0)
        return ST_FAIL(where, TRIL_ERR_FORMAT, "byte size of tensor '%s' overflows", name);

    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return ST_FAIL(where, TRIL_ERR_FORMAT,
                       "\"data_offsets\" of tensor '%s' is not a [begin, end] pair", name);
    uint64_t be[2] = {0, 0};
    int k = 0;
    for (const cJSON *c = offs->child; c; c = c->next, k++) {
        int rc = json_uint(c, &be[k]);
        if (rc != 0)
            return ST_FAIL(where, TRIL_ERR_FORMAT, "data_offsets[%d] of tensor '%s' is %s", k,
                           name, uint_problem(c, rc, buf, sizeof buf));
    }
    if (be[1] < be[0])
        return ST_FAIL(where, TRIL_ERR_FORMAT,
                       "data_offsets of tensor '%s' end before they begin: [%llu, %llu]", name,
                       (unsigned long long)be[0], (unsigned long long)be[1]);
    if (be[1] > data_size)
        return ST_FAIL(where, TRIL_ERR_FORMAT,
                       "data_offsets [%llu, %llu] of tensor '%s' reach beyond the data section "
                       "(%llu bytes; file truncated?)",
                       (unsigned long long)be[0], (unsigned long long)be[1], name,
                       (unsigned long long)data_size);
    if (be[1] - be[0] != nbytes)
        return ST_FAIL(where, TRIL_ERR_FORMAT,
                       "tensor '%s' (%s, %lld elements) needs %llu bytes but data_offsets "
                       "[%llu, %llu] hold %llu",
                       name, tril_st_dtype_name(t->dtype), (long long)t->numel,
                       (unsigned long long)nbytes, (unsigned long long)be[0],
                       (unsigned long long)be[1], (unsigned long long)(be[1] - be[0]));
    t->offset = be[0];
    t->nbytes = nbytes;
    return TRIL_OK;
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(((const st_meta *)a)->key, ((const st_meta *)b)->key);
}

static tril_status parse_metadata(const cJSON *m, const char *where, tril_safetensors *st)
{
    if (!cJSON_IsObject(m))
        return ST_FAIL(where, TRIL_ERR_FORMAT, "\"__metadata__\" is not a JSON object");
    size_t n = 0;
    for (const cJSON *c = m->child; c; c = c->next) n++;
    st->meta = calloc(n ? n : 1, sizeof *st->meta);
    if (!st->meta) return ST_FAIL(where, TRIL_ERR_NOMEM, "out of memory for %zu metadata entries", n);
    st->meta_count = n; /* entries are filled below; close() frees NULLs too */
    size_t i = 0;
    for (const cJSON *c = m->child; c; c = c->next, i++) {
        if (!cJSON_IsString(c))
            return ST_FAIL(where, TRIL_ERR_FORMAT, "metadata value of '%s' is not a string",
                           c->string ? c->string : "");
        st->meta[i].key = strdup(c->string ? c->string : "");
        st->meta[i].value = strdup(c->valuestring);
        if (!st->meta[i].key || !st->meta[i].value)
            return ST_FAIL(where, TRIL_ERR_NOMEM, "out of memory copying metadata");
    }
    qsort(st->meta, n, sizeof *st->meta, cmp_meta);
    for (i = 1; i < n; i++) {
        if (strcmp(st->meta[i - 1].key, st->meta[i].key) == 0)
            return ST_FAIL(where, TRIL_ERR_FORMAT, "metadata key '%s' appears twice",
                           st->meta[i].key);
    }
    return TRIL_OK;
}

static int cmp_offset(const void *a, const void *b)
{
    const tril_st_tensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const tril_st_tensor *const *)a)->name,
                  (*(const tril_st_tensor *const *)b)->name);
}

static tril_status parse_root(const cJSON *root, const char *where, uint64_t data_size,
                              tril_safetensors *st)
{
    size_t n = 0;
    const cJSON *meta = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c->string && strcmp(c->string, "__metadata__") == 0) {
            if (meta) return ST_FAIL(where, TRIL_ERR_FORMAT, "\"__metadata__\" appears twice");
            meta = c;
        } else {
            n++;
        }
    }
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    st->by_name = calloc(n ? n : 1, sizeof *st->by_name);
    if (!st->tensors || !st->by_name)
        return ST_FAIL(where, TRIL_ERR_NOMEM, "out of memory for %zu tensors", n);
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c == meta) continue;
        tril_st_tensor *t = &st->tensors[st->count];
        t->name = strdup(c->string ? c->string : "");
        if (!t->name) return ST_FAIL(where, TRIL_ERR_NOMEM, "out of memory copying names");
        st->count++;
        tril_status rc = parse_entry(c, where, data_size, t);
        if (rc != TRIL_OK) return rc;
    }
    if (meta) {
        tril_status rc = parse_metadata(meta, where, st);
        if (rc != TRIL_OK) return rc;
    }

    qsort(st->tensors, n, sizeof *st->tensors, cmp_offset);
    for (size_t i = 0; i < n; i++) st->by_name[i] = &st->tensors[i];
    qsort(st->by_name, n, sizeof *st->by_name, cmp_name);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(st->by_name[i - 1]->name, st->by_name[i]->name) == 0)
            return ST_FAIL(where, TRIL_ERR_FORMAT, "duplicate tensor name '%s'",
                           st->by_name[i]->name);
    }
    /* Sorted by begin: a range overlaps an earlier one iff it begins before
     * the furthest end so far (adjacent ranges and gaps are fine). */
    const tril_st_tensor *reach = NULL;
    for (size_t i = 0; i < n; i++) {
        const tril_st_tensor *t = &st->tensors[i];
        if (reach && t->offset < reach->offset + reach->nbytes)
            return ST_FAIL(where, TRIL_ERR_FORMAT,
                           "data of tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap",
                           reach->name, (unsigned long long)reach->offset,
                           (unsigned long long)(reach->offset + reach->nbytes), t->name,
                           (unsigned long long)t->offset,
                           (unsigned long long)(t->offset + t->nbytes));
        if (!reach || t->offset + t->nbytes > reach->offset + reach->nbytes) reach = t;
    }
    return TRIL_OK;
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
    rc = parse_root(root, where, data_size, st);
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

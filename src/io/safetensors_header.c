/* io/safetensors_header.c - validation of a safetensors header's JSON:
 * every entry's dtype, shape and data_offsets, the "__metadata__" object,
 * unique names, and data ranges inside the data section without overlap.
 * Integers must be exact and at most 2^53 (what a JSON double holds exactly;
 * 8 PiB is beyond any file this reads). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors_internal.h"

#define ST_MAX_EXACT 9007199254740992.0 /* 2^53 */

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
    if (tril_st_dtype_parse(dtype->valuestring, &t->dtype) != TRIL_OK)
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

tril_status st_parse_header(const cJSON *root, const char *where, uint64_t data_size,
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

/* tril/safetensors.h - reading and writing the safetensors format.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON header
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "value", ...}}, then the raw little-endian data.
 * Offsets are relative to the start of the data section.
 *
 * The reader memory-maps the file and validates everything before any tensor
 * is used: header length against the file size (and a sane limit), JSON
 * syntax, dtype names, shapes (non-negative, product without overflow), every
 * offset range inside the data section, byte size = numel * element size,
 * ranges not overlapping, duplicate names. */
#ifndef TRIL_SAFETENSORS_H
#define TRIL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tril/dtype.h"
#include "tril/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRIL_ST_MAX_DIMS 8
/* Headers larger than this are rejected (the reference implementation uses
 * 100 MB). */
#define TRIL_ST_MAX_HEADER (100u * 1024u * 1024u)

/* Every dtype the safetensors spec names. Only F32, F16 and BF16 map to a
 * tril_dtype; the others parse (so a file with an int buffer is readable) but
 * cannot be used as model weights. */
typedef enum {
    TRIL_ST_F32 = 0,
    TRIL_ST_F16,
    TRIL_ST_BF16,
    TRIL_ST_F64,
    TRIL_ST_I64,
    TRIL_ST_I32,
    TRIL_ST_I16,
    TRIL_ST_I8,
    TRIL_ST_U64,
    TRIL_ST_U32,
    TRIL_ST_U16,
    TRIL_ST_U8,
    TRIL_ST_BOOL,
    TRIL_ST_F8_E4M3,
    TRIL_ST_F8_E5M2,
    TRIL_ST_DTYPE_COUNT
} tril_st_dtype;

/* "F32", "F16", ...; NULL if invalid. */
const char *tril_st_dtype_name(tril_st_dtype dtype);
/* Bytes per element; 0 if invalid. */
size_t tril_st_dtype_size(tril_st_dtype dtype);
/* The tril_dtype of F32/F16/BF16 into *out (may be NULL); any other dtype
 * is TRIL_ERR_UNSUPPORTED naming it. */
tril_status tril_st_to_dtype(tril_st_dtype dtype, tril_dtype *out);
/* Parses a spec name ("F32", "BF16", "F8_E4M3", ... exact case) into *out
 * (may be NULL); anything else is TRIL_ERR_INVALID_ARG naming the name and
 * the accepted ones. */
tril_status tril_st_dtype_parse(const char *name, tril_st_dtype *out);

typedef struct {
    const char *name;
    tril_st_dtype dtype;
    int32_t ndim;
    int64_t shape[TRIL_ST_MAX_DIMS];
    int64_t numel;
    uint64_t offset; /* byte offset in the data section */
    uint64_t nbytes;
    const void *data; /* points into the mapped file (or the parsed buffer) */
} tril_st_tensor;

typedef struct tril_safetensors tril_safetensors;

/* Opens and validates a file; the data stay memory-mapped until close.
 * Errors: TRIL_ERR_IO (missing, unreadable; message names the path),
 * TRIL_ERR_FORMAT (anything malformed; message says what and where). */
tril_status tril_safetensors_open(const char *path, tril_safetensors **out);
/* Validates a safetensors image already in memory (not copied: `data` must
 * outlive the handle). Used by the fuzz target. */
tril_status tril_safetensors_parse(const void *data, size_t size, tril_safetensors **out);
void tril_safetensors_close(tril_safetensors *st);

size_t tril_safetensors_count(const tril_safetensors *st);
/* Tensors in order of their data offsets. */
const tril_st_tensor *tril_safetensors_at(const tril_safetensors *st, size_t i);
/* NULL if there is no tensor of that name. */
const tril_st_tensor *tril_safetensors_find(const tril_safetensors *st, const char *name);
/* Hands the pages wholly inside [data, data + nbytes) of the file's mapping
 * back to the kernel (madvise MADV_DONTNEED): they leave the process's
 * resident memory and are read from the file again if touched. A loader
 * that copies tensors one by one calls it after each, so the mapping and the
 * copy are never resident at once. Nothing to do for a parsed buffer or a
 * range outside the mapping. Errors: TRIL_ERR_IO (madvise failed). */
tril_status tril_safetensors_release(const tril_safetensors *st, const void *data, size_t nbytes);
/* Value of a "__metadata__" string entry, or NULL. */
const char *tril_safetensors_metadata(const tril_safetensors *st, const char *key);
/* Number of "__metadata__" entries, and the i-th key in byte order of the
 * keys (NULL if i is out of range), to enumerate them. */
size_t tril_safetensors_metadata_count(const tril_safetensors *st);
const char *tril_safetensors_metadata_key(const tril_safetensors *st, size_t i);

/* One tensor to write: name, dtype, shape and its bytes (little-endian). */
typedef struct {
    const char *name;
    tril_st_dtype dtype;
    int32_t ndim;
    int64_t shape[TRIL_ST_MAX_DIMS];
    const void *data;
} tril_st_write_tensor;

/* Writes a safetensors file: header padded with spaces to a multiple of 8
 * bytes (as the reference writer does), tensors in the order given, packed.
 * `metadata` is NULL or a NULL-terminated list of key, value strings.
 * Atomic: writes PATH.tmp, fsyncs, renames over PATH. */
tril_status tril_safetensors_write(const char *path, const tril_st_write_tensor *tensors,
                                   size_t count, const char *const *metadata);

#ifdef __cplusplus
}
#endif
#endif

/* libFuzzer target: arbitrary bytes as a safetensors image.
 *
 * tril_safetensors_parse must either reject the bytes with a message or
 * return a handle whose every tensor lies inside the input: the fuzzer's
 * input is an exact-size heap copy, so touching the first and last byte of
 * each tensor lets AddressSanitizer catch any range the validation let
 * through. Names, lookups and metadata are exercised the same way. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tril/safetensors.h"

#define CHECK(cond) \
    do {            \
        if (!(cond)) abort(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tril_safetensors *st = NULL;
    tril_status rc = tril_safetensors_parse(data, size, &st);
    if (rc != TRIL_OK) {
        CHECK(st == NULL);
        CHECK(tril_last_error()[0] != '\0'); /* every rejection says why */
        return 0;
    }
    volatile uint8_t sink = 0;
    const uint8_t *end = data + size;
    uint64_t prev_end = 0;
    size_t n = tril_safetensors_count(st);
    for (size_t i = 0; i < n; i++) {
        const tril_st_tensor *t = tril_safetensors_at(st, i);
        CHECK(t && t->name);
        CHECK(t->ndim >= 0 && t->ndim <= TRIL_ST_MAX_DIMS);
        CHECK(tril_st_dtype_size(t->dtype) > 0);
        CHECK(t->nbytes == (uint64_t)t->numel * tril_st_dtype_size(t->dtype));
        const uint8_t *p = t->data;
        if (t->nbytes > 0) { /* ASan reports these first if a range escaped */
            sink ^= p[0];
            sink ^= p[t->nbytes - 1];
            CHECK(t->offset >= prev_end); /* sorted, no overlap */
            prev_end = t->offset + t->nbytes;
        }
        CHECK(p >= data && p <= end && t->nbytes <= (uint64_t)(end - p));
        sink ^= (uint8_t)strlen(t->name);
        CHECK(tril_safetensors_find(st, t->name) == t);
    }
    CHECK(tril_safetensors_at(st, n) == NULL);
    size_t m = tril_safetensors_metadata_count(st);
    for (size_t i = 0; i < m; i++) {
        const char *key = tril_safetensors_metadata_key(st, i);
        CHECK(key != NULL);
        const char *value = tril_safetensors_metadata(st, key);
        CHECK(value != NULL);
        sink ^= (uint8_t)(strlen(key) + strlen(value));
    }
    (void)sink;
    tril_safetensors_close(st);
    return 0;
}

/* Training data: a text file tokenized once (ids cached next to it), split
 * into train and validation parts, and random windows of T+1 tokens.
 *
 * Cache file FILE.<tokenizer>.tokens, all integers little-endian:
 *   0  "TRILTOK1"          magic
 *   8  u32 version (1)
 *   12 u32 header bytes (96)
 *   16 char[32] tokenizer name, NUL-padded
 *   48 u64 source size in bytes
 *   56 i64 source mtime, ns since the epoch
 *   64 i64 token count n
 *   72 i64 vocab size
 *   80 16 bytes reserved (zero)
 *   96 i32 ids[n]
 * A cache that fails any check (magic, version, name, size, mtime, length,
 * vocab, an id out of range) is ignored, and the file is tokenized again and
 * the cache rewritten atomically (temporary file, fsync, rename, fsync of
 * the folder). Caching is best effort: a location that cannot be written is
 * not an error. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tril/file.h"
#include "train/fs_atomic.h"
#include "tril/train.h"

#define CACHE_MAGIC "TRILTOK1"
#define CACHE_VERSION 1u
#define CACHE_HEADER 96
#define CACHE_NAME 32

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

typedef struct {
    uint64_t size;
    int64_t mtime_ns;
    const char *name;
    int64_t vocab;
} source_id;

static void make_header(unsigned char *h, const source_id *src, int64_t n)
{
    memset(h, 0, CACHE_HEADER);
    memcpy(h, CACHE_MAGIC, 8);
    put_u32(h + 8, CACHE_VERSION);
    put_u32(h + 12, CACHE_HEADER);
    strncpy((char *)h + 16, src->name, CACHE_NAME - 1);
    put_u64(h + 48, src->size);
    put_u64(h + 56, (uint64_t)src->mtime_ns);
    put_u64(h + 64, (uint64_t)n);
    put_u64(h + 72, (uint64_t)src->vocab);
}

static int read_all(int fd, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t got = read(fd, p, len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        p += got;
        len -= (size_t)got;
    }
    return 0;
}

/* The cached ids if the cache is valid for this source; NULL otherwise. */
static int32_t *cache_read(const char *path, const source_id *src, int64_t *n_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    unsigned char h[CACHE_HEADER], want[CACHE_HEADER];
    struct stat sb;
    int32_t *ids = NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || read_all(fd, h, sizeof h) != 0) goto fail;
    const int64_t n = (int64_t)get_u64(h + 64);
    make_header(want, src, n);
    if (memcmp(h, want, CACHE_HEADER) != 0 || n <= 0 || (uint64_t)n > SIZE_MAX / 4 ||
        (uint64_t)sb.st_size != CACHE_HEADER + 4 * (uint64_t)n)
        goto fail;
    unsigned char *raw = malloc((size_t)n * 4);
    ids = malloc((size_t)n * sizeof *ids);
    if (!raw || !ids || read_all(fd, raw, (size_t)n * 4) != 0) {
        free(raw);
        goto fail;
    }
    for (int64_t i = 0; i < n; i++) {
        ids[i] = (int32_t)get_u32(raw + 4 * i);
        if (ids[i] < 0 || ids[i] >= src->vocab) {
            free(raw);
            goto fail;
        }
    }
    free(raw);
    close(fd);
    *n_out = n;
    return ids;
fail:
    free(ids);
    close(fd);
    return NULL;
}

/* Best effort: any failure leaves no temporary file and no error. */
static void cache_write(const char *path, const source_id *src, const int32_t *ids, int64_t n)
{
    if ((uint64_t)n > (SIZE_MAX - CACHE_HEADER) / 4) return;
    unsigned char *buf = malloc(CACHE_HEADER + (size_t)n * 4);
    if (!buf) return;
    make_header(buf, src, n);
    for (int64_t i = 0; i < n; i++) put_u32(buf + CACHE_HEADER + 4 * i, (uint32_t)ids[i]);
    if (trfs_write_file(path, buf, CACHE_HEADER + (size_t)n * 4) != TRIL_OK) tril_clear_error();
    free(buf);
}

static tril_status tokenize_file(int fd, const char *path, size_t size, tril_tokenizer *tok,
                                 int32_t **ids, int64_t *n)
{
    char *text = malloc(size);
    if (!text) return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot allocate %zu bytes for '%s'", size, path);
    if (read_all(fd, text, size) != 0) {
        free(text);
        return TRIL_FAIL(TRIL_ERR_IO, "cannot read '%s'", path);
    }
    size_t count = 0;
    tril_status st = tril_tokenizer_encode(tok, text, size, ids, &count);
    free(text);
    *n = (int64_t)count;
    return st;
}

tril_status tril_dataset_load(const char *text_path, tril_tokenizer *tok,
                              const char *tokenizer_name, double val_fraction, int64_t min_tokens,
                              tril_dataset *out)
{
    return tril_dataset_load_capped(text_path, tok, tokenizer_name, val_fraction, min_tokens,
                                    UINT64_MAX, out);
}

tril_status tril_dataset_load_capped(const char *text_path, tril_tokenizer *tok,
                                     const char *tokenizer_name, double val_fraction,
                                     int64_t min_tokens, uint64_t max_bytes, tril_dataset *out)
{
    if (!text_path || !tok || !tokenizer_name || !out)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "dataset: NULL argument");
    memset(out, 0, sizeof *out);
    if (!(val_fraction >= 0.0 && val_fraction < 1.0))
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "dataset: validation fraction %g is not in [0, 1)",
                         val_fraction);
    if (strlen(tokenizer_name) >= CACHE_NAME || strchr(tokenizer_name, '/'))
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "dataset: bad tokenizer name '%s'", tokenizer_name);
    int fd; /* a FIFO or device is refused without blocking */
    tril_status opened = tril_open_regular(text_path, &fd, NULL);
    if (opened != TRIL_OK) return opened;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return TRIL_FAIL(TRIL_ERR_IO, "'%s' is not a regular file", text_path);
    }
    if (sb.st_size == 0) {
        close(fd);
        return TRIL_FAIL(TRIL_ERR_FORMAT, "'%s' is empty: no text to train on", text_path);
    }
    if ((uint64_t)sb.st_size > max_bytes) { /* before the cache too: the same answer either way */
        close(fd);
        if (max_bytes >= (1u << 20) && max_bytes % (1u << 20) == 0)
            return TRIL_FAIL(TRIL_ERR_RANGE, "'%s' is larger than the limit of %llu MB",
                             text_path, (unsigned long long)(max_bytes >> 20));
        return TRIL_FAIL(TRIL_ERR_RANGE, "'%s' is larger than the limit of %llu bytes", text_path,
                         (unsigned long long)max_bytes);
    }
    source_id src = {(uint64_t)sb.st_size,
                     (int64_t)sb.st_mtim.tv_sec * 1000000000 + (int64_t)sb.st_mtim.tv_nsec,
                     tokenizer_name, tril_tokenizer_vocab_size(tok)};
    char cache[PATH_MAX];
    int have_cache_path = (size_t)snprintf(cache, sizeof cache, "%s.%s.tokens", text_path,
                                           tokenizer_name) < sizeof cache;
    int64_t n = 0;
    int32_t *ids = have_cache_path ? cache_read(cache, &src, &n) : NULL;
    tril_status st = TRIL_OK;
    if (!ids) {
        if ((size_t)sb.st_size > SIZE_MAX / 2) {
            st = TRIL_FAIL(TRIL_ERR_FORMAT, "'%s' is too large", text_path);
        } else if ((st = tokenize_file(fd, text_path, (size_t)sb.st_size, tok, &ids, &n)) ==
                       TRIL_OK &&
                   have_cache_path && n > 0) {
            cache_write(cache, &src, ids, n);
        }
    }
    close(fd);
    if (st != TRIL_OK) {
        free(ids);
        return st;
    }
    const int64_t n_val = (int64_t)((double)n * val_fraction);
    const int64_t n_train = n - n_val;
    if (n > 0 && n >= 2 * min_tokens && (n_train < min_tokens || n_val < min_tokens)) {
        /* Enough text for both parts: the fraction is what is wrong. */
        free(ids);
        const int small = n_val < min_tokens;
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "the validation fraction %g is too %s for '%s': its %lld tokens give "
                         "%lld for training and %lld for validation; each part needs at least "
                         "%lld (a fraction of about %.2g or %s)",
                         val_fraction, small ? "small" : "large", text_path, (long long)n,
                         (long long)n_train, (long long)n_val, (long long)min_tokens,
                         small ? (double)min_tokens / (double)n
                               : 1.0 - (double)min_tokens / (double)n,
                         small ? "more" : "less");
    }
    if (n == 0 || n_train < min_tokens || n_val < min_tokens) {
        free(ids);
        return TRIL_FAIL(TRIL_ERR_FORMAT,
                         "'%s' has too little text: %lld tokens, %lld for training and %lld for "
                         "validation (fraction %g); each part needs at least %lld",
                         text_path, (long long)n, (long long)n_train, (long long)n_val,
                         val_fraction, (long long)min_tokens);
    }
    out->tokens = ids;
    out->n = n;
    out->n_train = n_train;
    out->vocab = src.vocab;
    return TRIL_OK;
}

void tril_dataset_free(tril_dataset *d)
{
    if (!d) return;
    free(d->tokens);
    memset(d, 0, sizeof *d);
}

void tril_dataset_batch(const tril_dataset *d, int split, int64_t B, int64_t T, tril_rng *rng,
                        int32_t *inputs, int32_t *targets)
{
    const int64_t lo = split ? d->n_train : 0, hi = split ? d->n : d->n_train;
    const int64_t starts = hi - lo - T; /* windows [s, s + T] inside [lo, hi) */
    for (int64_t b = 0; b < B; b++) {
        const int64_t s = lo + (starts > 0 ? (int64_t)tril_rng_below(rng, (uint64_t)starts) : 0);
        const int32_t *w = d->tokens + s;
        memcpy(inputs + b * T, w, (size_t)T * sizeof *w);
        memcpy(targets + b * T, w + 1, (size_t)T * sizeof *w);
    }
}

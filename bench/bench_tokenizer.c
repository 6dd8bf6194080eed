/* GPT-2 tokenizer benchmark: encodes a text file (default
 * data/tinyshakespeare.txt) with the bundled GPT-2 tokenizer and prints MB/s
 * and tokens/s, median of several runs:
 *   cold  the word cache emptied before each run (every distinct word goes
 *         through BPE once, as the first encode after loading)
 *   warm  the cache kept from the previous run (repeated text)
 *   nocache  the cache turned off (BPE for every piece)
 * plus decode speed. Checks decode(encode(text)) == text; exits 1 if not.
 *
 *   bench_tokenizer [text_file] [tokenizer_dir] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tril/timing.h"
#include "tril/tokenizer.h"

#define RUNS 5

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *bigger = realloc(buf, cap *= 2);
        if (!bigger) free(buf);
        buf = bigger;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_tokenizer: %s: %s\n", what, tril_last_error());
    exit(1);
}

/* Median seconds of RUNS encodes; cache_words < 0 keeps the cache as is,
 * otherwise it is reset to that size before each run. */
static double time_encode(tril_tokenizer *tok, const char *text, size_t len, long cache_words,
                          size_t *count)
{
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        if (cache_words >= 0 && tril_tokenizer_set_cache_size(tok, (size_t)cache_words) != TRIL_OK)
            die("set_cache_size");
        int32_t *ids;
        const double t0 = tril_now();
        if (tril_tokenizer_encode(tok, text, len, &ids, count) != TRIL_OK) die("encode");
        t[r] = tril_now() - t0;
        free(ids);
    }
    return tril_median(t, RUNS);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : TRIL_SOURCE_DATA_DIR "/tinyshakespeare.txt";
    const char *dir = argc > 2 ? argv[2] : TRIL_SOURCE_DATA_DIR "/gpt2";
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "bench_tokenizer: cannot read %s\n", path);
        return 1;
    }
    tril_tokenizer *tok;
    double t0 = tril_now();
    if (tril_tokenizer_load_dir(dir, &tok) != TRIL_OK) die("load");
    const double load_s = tril_now() - t0;

    /* Correctness first: the round trip. */
    int32_t *ids;
    size_t count;
    char *back;
    size_t back_len;
    if (tril_tokenizer_encode(tok, text, len, &ids, &count) != TRIL_OK) die("encode");
    t0 = tril_now();
    if (tril_tokenizer_decode(tok, ids, count, &back, &back_len) != TRIL_OK) die("decode");
    const double decode_s = tril_now() - t0;
    if (back_len != len || memcmp(back, text, len) != 0) {
        fprintf(stderr, "bench_tokenizer: round trip FAILED on %s\n", path);
        return 1;
    }
    free(back);
    free(ids);

    const double mb = (double)len / 1e6;
    const double cold = time_encode(tok, text, len, 32768, &count);
    const double warm = time_encode(tok, text, len, -1, &count);
    const double nocache = time_encode(tok, text, len, 0, &count);
    printf("# %s: %zu bytes, %zu tokens (%.3f tokens/byte); tokenizer %s loaded in %.0f ms\n",
           path, len, count, (double)count / (double)len, dir, load_s * 1e3);
    printf("%-8s %10s %10s %12s\n", "encode", "ms", "MB/s", "Mtokens/s");
    const char *names[] = {"cold", "warm", "nocache"};
    const double secs[] = {cold, warm, nocache};
    for (int i = 0; i < 3; i++)
        printf("%-8s %10.2f %10.1f %12.2f\n", names[i], secs[i] * 1e3, mb / secs[i],
               (double)count / secs[i] / 1e6);
    printf("decode   %10.2f %10.1f %12.2f\n", decode_s * 1e3, mb / decode_s,
           (double)count / decode_s / 1e6);
    printf("round_trip=ok\n");
    tril_tokenizer_free(tok);
    free(text);
    return 0;
}

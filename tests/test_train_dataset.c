/* Training data: tokenizing a text file, the token cache next to it
 * (created, reused, invalidated when the file changes, ignored when
 * corrupt, skipped when it cannot be written), the train/validation split,
 * batch windows (targets = inputs shifted by one, every start reachable),
 * and the errors (missing, empty, too little text). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "tril/checkpoint.h"
#include "tril/train.h"

static char dir[256];

static const char *path_of(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_text(const char *name, const char *text, size_t len)
{
    FILE *f = fopen(path_of(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Moves a file's mtime by `secs` (a change that keeps the size). */
static void shift_mtime(const char *path, long secs)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    struct timespec t[2] = {sb.st_atim, sb.st_mtim};
    t[1].tv_sec += secs;
    assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

static void patch_byte(const char *path, long offset, unsigned char value)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &value, 1, offset), 1);
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    return test_temp_dir(dir, sizeof dir, "tril_dataset");
}

static int teardown(void **state)
{
    (void)state;
    return test_remove_dir(dir);
}

static char text100[101];

static void test_load_split_and_cache(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++) text100[i] = (char)('a' + i % 26);
    write_text("a.txt", text100, 100);
    tril_tokenizer *tok;
    assert_int_equal(tril_tokenizer_create_bytes(&tok), TRIL_OK);
    tril_dataset d;
    assert_int_equal(tril_dataset_load(path_of("a.txt"), tok, "bytes", 0.2, 5, &d), TRIL_OK);
    assert_int_equal(d.n, 100);
    assert_int_equal(d.n_train, 80);
    assert_int_equal(d.vocab, 256);
    for (int i = 0; i < 100; i++) assert_int_equal(d.tokens[i], (unsigned char)text100[i]);
    tril_dataset_free(&d);

    /* the cache: header + 4 bytes per token, magic first */
    char cache[512];
    snprintf(cache, sizeof cache, "%s", path_of("a.txt.bytes.tokens"));
    assert_int_equal(file_size(cache), 96 + 4 * 100);
    FILE *f = fopen(cache, "rb");
    char magic[8];
    assert_int_equal(fread(magic, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(magic, "TRILTOK1", 8);

    /* reused: a (valid) id changed in the cache shows up in the next load */
    patch_byte(cache, 96, 'Z');
    assert_int_equal(tril_dataset_load(path_of("a.txt"), tok, "bytes", 0.2, 5, &d), TRIL_OK);
    assert_int_equal(d.tokens[0], 'Z');
    tril_dataset_free(&d);

    /* invalidated when the file changes (same size, new mtime) */
    text100[0] = 'Q';
    write_text("a.txt", text100, 100);
    shift_mtime(path_of("a.txt"), 5);
    assert_int_equal(tril_dataset_load(path_of("a.txt"), tok, "bytes", 0.2, 5, &d), TRIL_OK);
    assert_int_equal(d.tokens[0], 'Q');
    tril_dataset_free(&d);
    /* ... and rewritten: patching it is seen again */
    patch_byte(cache, 96, 'Y');
    assert_int_equal(tril_dataset_load(path_of("a.txt"), tok, "bytes", 0.2, 5, &d), TRIL_OK);
    assert_int_equal(d.tokens[0], 'Y');
    tril_dataset_free(&d);

    /* invalidated when the size changes */
    write_text("a.txt", text100, 90);
    assert_int_equal(tril_dataset_load(path_of("a.txt"), tok, "bytes", 0.2, 5, &d), TRIL_OK);
    assert_int_equal(d.n, 90);
    assert_int_equal(d.tokens[0], 'Q');
    tril_dataset_free(&d);
    assert_int_equal(file_size(cache), 96 + 4 * 90);

    /* corrupt caches are ignored: an id out of range, a truncated file */
    patch_byte(cache, 96 + 1, 0x7f); /* id 0x7f00 + ... >= 256 */
    assert_int_equal(tril_dataset_load(path_of("a.txt"), tok, "bytes", 0.2, 5, &d), TRIL_OK);
    assert_int_equal(d.tokens[0], 'Q');
    tril_dataset_free(&d);
    assert_int_equal(truncate(cache, 50), 0);
    assert_int_equal(tril_dataset_load(path_of("a.txt"), tok, "bytes", 0.2, 5, &d), TRIL_OK);
    assert_int_equal(d.n, 90);
    tril_dataset_free(&d);
    assert_int_equal(file_size(cache), 96 + 4 * 90);
    /* a cache of another tokenizer name is another file */
    assert_int_equal(tril_dataset_load(path_of("a.txt"), tok, "bytes2", 0.2, 5, &d), TRIL_OK);
    tril_dataset_free(&d);
    assert_true(file_size(path_of("a.txt.bytes2.tokens")) > 0);
    tril_tokenizer_free(tok);
}

static void test_unwritable_cache(void **state)
{
    (void)state;
    write_text("b.txt", "some text to train on, long enough", 34);
    /* a folder where the cache file would go: it can be neither read nor
     * replaced, and that is no error */
    assert_int_equal(mkdir(path_of("b.txt.bytes.tokens"), 0755), 0);
    tril_tokenizer *tok;
    assert_int_equal(tril_tokenizer_create_bytes(&tok), TRIL_OK);
    tril_dataset d;
    assert_int_equal(tril_dataset_load(path_of("b.txt"), tok, "bytes", 0.5, 3, &d), TRIL_OK);
    assert_int_equal(d.n, 34);
    assert_int_equal(d.n_train, 17);
    tril_dataset_free(&d);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path_of("b.txt.bytes.tokens"), (long)getpid());
    assert_int_equal(access(tmp, F_OK), -1); /* no temporary file left */
    tril_tokenizer_free(tok);
}

static void expect_error(const char *name, tril_status want, const char *needle1,
                         const char *needle2, double val, int64_t min)
{
    tril_tokenizer *tok;
    assert_int_equal(tril_tokenizer_create_bytes(&tok), TRIL_OK);
    tril_dataset d;
    tril_status st = tril_dataset_load(path_of(name), tok, "bytes", val, min, &d);
    const char *msg = tril_last_error();
    if (st != want || !strstr(msg, needle1) || (needle2 && !strstr(msg, needle2)))
        fail_msg("%s: got %s '%s'", name, tril_status_name(st), msg);
    tril_tokenizer_free(tok);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("missing.txt", TRIL_ERR_IO, "missing.txt", NULL, 0.1, 1);
    write_text("empty.txt", "", 0);
    expect_error("empty.txt", TRIL_ERR_FORMAT, "empty", NULL, 0.1, 1);
    write_text("small.txt", "0123456789", 10);
    /* 10 tokens could give 5 + 5: the fraction is blamed, not the text */
    expect_error("small.txt", TRIL_ERR_INVALID_ARG, "fraction 0.2 is too small",
                 "10 tokens give 8 for training and 2 for validation", 0.2, 5);
    expect_error("small.txt", TRIL_ERR_FORMAT, "7 for training", "needs at least 8", 0.3, 8);
    expect_error("small.txt", TRIL_ERR_INVALID_ARG, "fraction", NULL, 1.0, 1);
    expect_error("small.txt", TRIL_ERR_INVALID_ARG, "fraction 0.9 is too large", "1 for training",
                 0.9, 2);
    for (int i = 0; i < 100; i++) text100[i] = (char)('a' + i % 26);
    write_text("long.txt", text100, 100);
    expect_error("long.txt", TRIL_ERR_INVALID_ARG, "fraction 1e-300 is too small",
                 "0 for validation", 1e-300, 5);
    expect_error(".", TRIL_ERR_IO, "is a directory, not a regular file", NULL, 0.1, 1);
    /* A FIFO without a writer is refused at once: the alarm ends the test
     * if the open waits for a writer. */
    assert_int_equal(mkfifo(path_of("fifo"), 0600), 0);
    alarm(20);
    expect_error("fifo", TRIL_ERR_IO, "is a FIFO (named pipe), not a regular file", NULL, 0.1, 1);
    alarm(0);
}

/* The size cap: at most max_bytes, checked before the token cache is used. */
static void test_size_cap(void **state)
{
    (void)state;
    tril_tokenizer *tok;
    assert_int_equal(tril_tokenizer_create_bytes(&tok), TRIL_OK);
    for (int i = 0; i < 100; i++) text100[i] = (char)('a' + i % 26);
    write_text("cap.txt", text100, 100);
    tril_dataset d;
    assert_int_equal(tril_dataset_load_capped(path_of("cap.txt"), tok, "bytes", 0.2, 5, 100, &d),
                     TRIL_OK); /* exactly the cap; the cache is written */
    assert_int_equal(d.n, 100);
    tril_dataset_free(&d);
    assert_int_equal(tril_dataset_load_capped(path_of("cap.txt"), tok, "bytes", 0.2, 5, 99, &d),
                     TRIL_ERR_RANGE);
    assert_non_null(strstr(tril_last_error(), "cap.txt' is larger than the limit of 99 bytes"));
    tril_tokenizer_free(tok);
}

static void test_batches(void **state)
{
    (void)state;
    int32_t tokens[40];
    for (int i = 0; i < 40; i++) tokens[i] = i;
    tril_dataset d = {tokens, 40, 30, 40};
    enum { B = 8, T = 4 };
    int32_t in[B * T], tg[B * T];
    for (int split = 0; split < 2; split++) {
        const int lo = split ? 30 : 0, hi = split ? 40 : 30;
        int seen[40] = {0};
        tril_rng rng;
        tril_rng_seed(&rng, 7);
        for (int rep = 0; rep < 200; rep++) {
            tril_dataset_batch(&d, split, B, T, &rng, in, tg);
            for (int b = 0; b < B; b++) {
                const int s = in[b * T];
                assert_true(s >= lo && s <= hi - (T + 1));
                seen[s]++;
                for (int t = 0; t < T; t++) {
                    assert_int_equal(in[b * T + t], s + t);
                    assert_int_equal(tg[b * T + t], s + t + 1);
                }
            }
        }
        for (int s = lo; s <= hi - (T + 1); s++)
            if (!seen[s]) fail_msg("split %d: start %d never drawn", split, s);
    }
    /* the same seed, the same batches */
    tril_rng r1, r2;
    tril_rng_seed(&r1, 99);
    tril_rng_seed(&r2, 99);
    int32_t in2[B * T], tg2[B * T];
    tril_dataset_batch(&d, 0, B, T, &r1, in, tg);
    tril_dataset_batch(&d, 0, B, T, &r2, in2, tg2);
    assert_memory_equal(in, in2, sizeof in);
    /* a split of exactly T + 1 tokens has one window */
    tril_dataset small = {tokens, 10, 5, 40};
    tril_dataset_batch(&small, 0, 1, 4, &r1, in, tg);
    assert_int_equal(in[0], 0);
    tril_dataset_batch(&small, 1, 1, 4, &r1, in, tg);
    assert_int_equal(in[0], 5);
    assert_int_equal(tg[3], 9);
}

/* The GPT-2 tokenizer: ids equal a direct encode, cached under its name. */
static void test_gpt2_tokens(void **state)
{
    (void)state;
    char tdir[4096], vocab[4200], merges[4200];
    snprintf(tdir, sizeof tdir, "%s/gpt2", TRIL_TEST_DATA_DIR);
    snprintf(vocab, sizeof vocab, "%s/vocab.json", tdir);
    snprintf(merges, sizeof merges, "%s/merges.txt", tdir);
    tril_tokenizer *tok;
    assert_int_equal(tril_tokenizer_load_gpt2(vocab, merges, &tok), TRIL_OK);
    const char *text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
                       "All:\nSpeak, speak.\n";
    write_text("g.txt", text, strlen(text));
    int32_t *ids;
    size_t n;
    assert_int_equal(tril_tokenizer_encode(tok, text, strlen(text), &ids, &n), TRIL_OK);
    for (int pass = 0; pass < 2; pass++) { /* tokenized, then from the cache */
        tril_dataset d;
        assert_int_equal(tril_dataset_load(path_of("g.txt"), tok, "gpt2", 0.25, 3, &d), TRIL_OK);
        assert_int_equal(d.n, (int64_t)n);
        assert_int_equal(d.vocab, 50257);
        assert_memory_equal(d.tokens, ids, n * sizeof *ids);
        tril_dataset_free(&d);
        assert_int_equal(file_size(path_of("g.txt.gpt2.tokens")), 96 + 4 * (long)n);
    }
    free(ids);
    tril_tokenizer_free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_split_and_cache), cmocka_unit_test(test_unwritable_cache),
        cmocka_unit_test(test_errors), cmocka_unit_test(test_size_cap), cmocka_unit_test(test_batches),
        cmocka_unit_test(test_gpt2_tokens),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

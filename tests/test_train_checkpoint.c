/* Checkpoints: a saved run restores exactly (weights, moments, step, RNG,
 * arguments, loss log), a model folder loads with tril_gpt2_load and carries
 * its tokenizer, overwriting is clean, and damaged or mismatched
 * checkpoints fail with FORMAT / IO errors that say what is wrong. The
 * output folder: one run's lock at a time, leftovers tidied, an earlier
 * run's files found and removed for --overwrite (and nothing else). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpt2_test_util.h"
#include "test_util.h"
#include "tril/checkpoint.h"
#include "tril/safetensors.h"

static char dir[256];

static const char *path_of(const char *name)
{
    static char buf[16][512];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int setup(void **state)
{
    (void)state;
    return test_temp_dir(dir, sizeof dir, "tril_ckpt");
}

static int teardown(void **state)
{
    (void)state;
    return test_remove_dir(dir);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

typedef struct {
    tril_gpt2 *model;
    tril_adamw opt;
    tril_adamw_config cfg;
    tril_train_state st;
} run;

static void make_run(run *r, int64_t vocab, const char *tokenizer)
{
    tril_gpt2_config c = {.n_layer = 1, .n_head = 2, .n_embd = 8, .n_positions = 16,
                          .vocab_size = vocab, .layer_norm_epsilon = 1e-5f};
    assert_int_equal(tril_gpt2_create(&c, &r->model), TRIL_OK);
    assert_int_equal(tril_gpt2_init_random(r->model, 5), TRIL_OK);
    assert_int_equal(tril_adamw_create(test_arena_numel(r->model), &r->opt), TRIL_OK);
    for (int64_t i = 0; i < r->opt.n; i++) {
        r->opt.m[i] = (float)sin((double)i) * 1e-3f;
        r->opt.v[i] = (float)(i % 13) * 1e-7f;
    }
    r->opt.step = 7;
    r->cfg = tril_adamw_config_default();
    memset(&r->st, 0, sizeof r->st);
    tril_train_args *a = &r->st.args;
    snprintf(a->data_path, sizeof a->data_path, "/some/where/input \"quoted\".txt");
    snprintf(a->tokenizer, sizeof a->tokenizer, "%s", tokenizer);
    a->steps = 60;
    a->batch = 4;
    a->seq = 16;
    a->accum = 2;
    a->warmup = 6;
    a->eval_every = 10;
    a->eval_batches = 3;
    a->save_every = 7;
    a->lr = 1e-3;
    a->min_lr = 1.0 / 3.0 * 1e-4; /* needs all 17 digits to round-trip */
    a->weight_decay = 0.1;
    a->clip = 1.0;
    a->val_fraction = 0.1;
    a->seed = UINT64_C(18446744073709551557); /* > 2^53 */
    a->causal = 0;
    a->data_tokens = 123456;
    a->model = c;
    r->st.step = 7;
    tril_rng_seed(&r->st.rng, 1337);
    for (int i = 0; i < 100; i++) tril_rng_next(&r->st.rng);
    for (int i = 1; i <= 7; i++) {
        tril_train_log_row row = {i, 5.0 / i, i % 5 == 0 ? 4.5 / i : NAN, 1e-4 * i, 1234.5 + i};
        assert_int_equal(tril_train_log_append(&r->st.log, &row), TRIL_OK);
    }
}

static void free_run(run *r)
{
    tril_gpt2_free(r->model);
    tril_adamw_free(&r->opt);
    tril_train_log_free(&r->st.log);
}

static void count_leftovers(const char *prefix, int *tmp, int *old)
{
    *tmp = *old = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        *tmp += strstr(e->d_name, ".tmp-") != NULL;
        *old += strstr(e->d_name, ".old-") != NULL;
    }
    closedir(d);
}

static void test_round_trip(void **state)
{
    (void)state;
    run a;
    make_run(&a, 256, "bytes");
    char ck[512];
    snprintf(ck, sizeof ck, "%s", path_of("ck"));
    assert_int_equal(tril_checkpoint_save(ck, a.model, &a.opt, &a.cfg, &a.st, NULL), TRIL_OK);
    /* saved again over itself, with a stale temporary folder in the way */
    char stale[600];
    snprintf(stale, sizeof stale, "%s.tmp-%ld", ck, (long)getpid());
    assert_int_equal(mkdir(stale, 0755), 0);
    spit(path_of("ck.tmp-0"), "x"); /* someone else's leftover file: left alone */
    assert_int_equal(tril_checkpoint_save(ck, a.model, &a.opt, &a.cfg, &a.st, NULL), TRIL_OK);
    int tmp, old;
    count_leftovers("ck.", &tmp, &old);
    assert_int_equal(tmp, 1); /* only ck.tmp-0 */
    assert_int_equal(old, 0);

    run b;
    assert_int_equal(tril_checkpoint_load(ck, &b.model, &b.opt, &b.st), TRIL_OK);
    int64_t na, nb;
    const float *wa = test_arena(a.model, &na), *wb = test_arena(b.model, &nb);
    assert_int_equal(nb, na);
    assert_memory_equal(wb, wa, (size_t)na * 4);
    assert_int_equal(b.opt.n, a.opt.n);
    assert_int_equal(b.opt.step, 7);
    assert_memory_equal(b.opt.m, a.opt.m, (size_t)a.opt.n * 4);
    assert_memory_equal(b.opt.v, a.opt.v, (size_t)a.opt.n * 4);
    assert_int_equal(b.st.step, 7);
    assert_memory_equal(b.st.rng.s, a.st.rng.s, sizeof a.st.rng.s);
    const tril_train_args *x = &a.st.args, *y = &b.st.args;
    assert_string_equal(y->data_path, x->data_path);
    assert_string_equal(y->tokenizer, "bytes");
    assert_string_equal(y->init_dir, "");
    assert_true(y->steps == 60 && y->batch == 4 && y->seq == 16 && y->accum == 2 &&
                y->warmup == 6 && y->eval_every == 10 && y->eval_batches == 3 &&
                y->save_every == 7 && y->causal == 0 && y->data_tokens == 123456);
    assert_true(y->lr == x->lr && y->min_lr == x->min_lr && y->weight_decay == x->weight_decay &&
                y->clip == x->clip && y->val_fraction == x->val_fraction);
    assert_true(y->seed == x->seed);
    assert_memory_equal(&y->model, &x->model, sizeof x->model);
    assert_int_equal(b.st.log.count, 7);
    for (size_t i = 0; i < 7; i++) {
        const tril_train_log_row *p = &a.st.log.rows[i], *q = &b.st.log.rows[i];
        assert_true(p->step == q->step && p->train_loss == q->train_loss && p->lr == q->lr &&
                    p->tokens_per_s == q->tokens_per_s);
        assert_true(isnan(p->val_loss) ? isnan(q->val_loss) : p->val_loss == q->val_loss);
    }
    /* the checkpoint is also a model folder, with the keys HF expects */
    tril_gpt2 *m;
    assert_int_equal(tril_gpt2_load(ck, NULL, &m), TRIL_OK);
    tril_gpt2_free(m);
    char *cfg = slurp(path_of("ck/config.json"), NULL);
    assert_non_null(strstr(cfg, "\"n_ctx\":\t16"));
    assert_non_null(strstr(cfg, "\"tril_tokenizer\":\t\"bytes\""));
    assert_non_null(strstr(cfg, "\"layer_norm_epsilon\":\t1e-05"));
    assert_non_null(strstr(cfg, "\"activation_function\":\t\"gelu_new\""));
    free(cfg);
    free_run(&b);
    free_run(&a);
}

static void test_model_save(void **state)
{
    (void)state;
    run a;
    make_run(&a, 50257, "gpt2");
    char tdir[4096];
    snprintf(tdir, sizeof tdir, "%s/gpt2", TRIL_TEST_DATA_DIR);
    const char *out = path_of("out/nested");
    assert_int_equal(tril_model_save(out, a.model, "gpt2", tdir), TRIL_OK);
    tril_gpt2 *m;
    assert_int_equal(tril_gpt2_load(out, NULL, &m), TRIL_OK);
    assert_memory_equal(test_param_f32(m, "wte.weight"), test_arena(a.model, NULL), 8 * 50257 * 4);
    tril_gpt2_free(m);
    char src[4200];
    snprintf(src, sizeof src, "%s/merges.txt", tdir);
    size_t l1, l2;
    char *want = slurp(src, &l1), *got = slurp(path_of("out/nested/merges.txt"), &l2);
    assert_non_null(got);
    assert_true(l1 == l2 && memcmp(want, got, l1) == 0);
    free(want);
    free(got);
    assert_int_equal(access(path_of("out/nested/vocab.json"), F_OK), 0);
    /* writing again replaces files in place; other files in the folder stay */
    spit(path_of("out/nested/log.csv"), "keep me");
    assert_int_equal(tril_model_save(out, a.model, "gpt2", tdir), TRIL_OK);
    assert_int_equal(access(path_of("out/nested/log.csv"), F_OK), 0);
    /* a GPT-2 model needs its tokenizer files */
    assert_int_equal(tril_model_save(path_of("out2"), a.model, "gpt2", dir), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), "no tokenizer files"));
    /* a non-finite weight is never saved */
    test_arena(a.model, NULL)[3] = NAN;
    assert_int_equal(tril_model_save(path_of("out3"), a.model, "gpt2", tdir), TRIL_ERR_RANGE);
    assert_int_equal(access(path_of("out3"), F_OK), -1);
    assert_int_equal(tril_checkpoint_save(path_of("ck3"), a.model, &a.opt, &a.cfg, &a.st, tdir),
                     TRIL_ERR_RANGE);
    assert_int_equal(access(path_of("ck3"), F_OK), -1);
    /* a bf16 model (its fp32 matrices are gone) is refused, not read */
    test_arena(a.model, NULL)[3] = 0.0f;
    assert_int_equal(tril_gpt2_use_bf16(a.model), TRIL_OK);
    assert_int_equal(tril_model_save(path_of("out4"), a.model, "gpt2", tdir), TRIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(tril_last_error(), "only fp32 models can be saved"));
    assert_int_equal(access(path_of("out4"), F_OK), -1);
    free_run(&a);
}

static void expect_load_error(const char *ck, tril_status want, const char *needle)
{
    run b;
    tril_status st = tril_checkpoint_load(ck, &b.model, &b.opt, &b.st);
    if (st != want || !strstr(tril_last_error(), needle))
        fail_msg("%s: got %s '%s', wanted '%s'", ck, tril_status_name(st), tril_last_error(), needle);
    assert_null(b.model);
    assert_null(b.opt.m);
}

static void test_bad_checkpoints(void **state)
{
    (void)state;
    run a;
    make_run(&a, 256, "bytes");
    char ck[512];
    snprintf(ck, sizeof ck, "%s", path_of("bad"));
    expect_load_error(ck, TRIL_ERR_IO, "does not exist");
    assert_int_equal(tril_checkpoint_save(ck, a.model, &a.opt, &a.cfg, &a.st, NULL), TRIL_OK);
    size_t len;
    char *good_state = slurp(path_of("bad/trainer_state.json"), &len);

    /* the saved shape disagrees with the model */
    a.st.args.model.n_embd = 16;
    char *json;
    assert_int_equal(tril_train_state_to_json(&a.st, &json), TRIL_OK);
    spit(path_of("bad/trainer_state.json"), json);
    free(json);
    expect_load_error(ck, TRIL_ERR_FORMAT, "trainer_state.json says 1 x 2 x 16");
    a.st.args.model.n_embd = 8;

    spit(path_of("bad/trainer_state.json"), "{\"format\": \"tril-trainer-state-1\"}");
    expect_load_error(ck, TRIL_ERR_FORMAT, "missing key \"step\"");
    spit(path_of("bad/trainer_state.json"), "not json");
    expect_load_error(ck, TRIL_ERR_FORMAT, "not a JSON object");
    spit(path_of("bad/trainer_state.json"), good_state);

    /* moments of another length */
    tril_adamw small;
    assert_int_equal(tril_adamw_create(a.opt.n - 1, &small), TRIL_OK);
    small.step = 7;
    tril_gpt2_config c2 = *tril_gpt2_get_config(a.model);
    (void)c2;
    tril_st_write_tensor t[2] = {{"m", TRIL_ST_F32, 1, {small.n}, small.m},
                                 {"v", TRIL_ST_F32, 1, {small.n}, small.v}};
    const char *meta[] = {"format", "tril-adamw-1", "step", "7", NULL};
    assert_int_equal(tril_safetensors_write(path_of("bad/optimizer.safetensors"), t, 2, meta), TRIL_OK);
    expect_load_error(ck, TRIL_ERR_FORMAT, "values but the model has");
    /* a step that disagrees with trainer_state.json */
    const char *meta2[] = {"format", "tril-adamw-1", "step", "8", NULL};
    t[0].shape[0] = t[1].shape[0] = a.opt.n;
    t[0].data = a.opt.m;
    t[1].data = a.opt.v;
    assert_int_equal(tril_safetensors_write(path_of("bad/optimizer.safetensors"), t, 2, meta2), TRIL_OK);
    expect_load_error(ck, TRIL_ERR_FORMAT, "does not match trainer_state.json");
    unlink(path_of("bad/optimizer.safetensors"));
    expect_load_error(ck, TRIL_ERR_IO, "optimizer.safetensors");
    unlink(path_of("bad/trainer_state.json"));
    expect_load_error(ck, TRIL_ERR_IO, "not a checkpoint folder");
    tril_adamw_free(&small);
    free(good_state);
    free_run(&a);
}

/* Leftovers of a dead writer are tidied; a live writer's are not touched. */
static void test_cleanup(void **state)
{
    (void)state;
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0); /* now a pid that runs nothing */
    char name[128], own[128];
    assert_int_equal(mkdir(path_of("clean"), 0755), 0);
    snprintf(name, sizeof name, "clean/checkpoint-3.tmp-%ld", (long)child);
    assert_int_equal(mkdir(path_of(name), 0755), 0);
    snprintf(name, sizeof name, "clean/checkpoint-3.tmp-%ld/config.json", (long)child);
    spit(path_of(name), "{}");
    snprintf(name, sizeof name, "clean/checkpoint-2.old-%ld", (long)child); /* no checkpoint-2 */
    assert_int_equal(mkdir(path_of(name), 0755), 0);
    assert_int_equal(mkdir(path_of("clean/checkpoint-1"), 0755), 0);
    snprintf(name, sizeof name, "clean/checkpoint-1.old-%ld", (long)child);
    assert_int_equal(mkdir(path_of(name), 0755), 0);
    snprintf(name, sizeof name, "clean/config.json.tmp-%ld", (long)child);
    spit(path_of(name), "{");
    snprintf(own, sizeof own, "clean/checkpoint-4.tmp-%ld", (long)getpid());
    assert_int_equal(mkdir(path_of(own), 0755), 0);
    spit(path_of("clean/notes.tmp-x"), "not a leftover");
    assert_int_equal(tril_checkpoint_cleanup(path_of("clean")), 4);
    DIR *d = opendir(path_of("clean"));
    int entries = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 4); /* checkpoint-1, checkpoint-2 (recovered), own tmp, notes */
    struct stat sb;
    assert_int_equal(stat(path_of("clean/checkpoint-2"), &sb), 0);
    assert_int_equal(stat(path_of(own), &sb), 0);
    assert_int_equal(tril_checkpoint_cleanup(path_of("missing")), 0);
}

static int exists(const char *name)
{
    struct stat sb;
    return lstat(path_of(name), &sb) == 0;
}

/* One run per output folder: a second lock fails at once naming the
 * holder's pid; a release, or the holder's death by SIGKILL, frees it. */
static void test_run_lock(void **state)
{
    (void)state;
    assert_int_equal(mkdir(path_of("locked"), 0755), 0);
    tril_run_lock a, b;
    assert_int_equal(tril_run_dir_lock(path_of("locked"), &a), TRIL_OK);
    assert_true(a.held);
    char *text = slurp(path_of("locked/.tril-train.lock"), NULL);
    assert_non_null(text);
    assert_int_equal(strtol(text, NULL, 10), (long)getpid());
    free(text);
    char want[160];
    snprintf(want, sizeof want, "in use by another tril train (pid %ld)", (long)getpid());
    assert_int_equal(tril_run_dir_lock(path_of("locked"), &b), TRIL_ERR_IO);
    assert_false(b.held);
    if (!strstr(tril_last_error(), want)) fail_msg("'%s' lacks '%s'", tril_last_error(), want);
    tril_run_dir_unlock(&b); /* not held: no-op, and a's lock stays */
    assert_int_equal(tril_run_dir_lock(path_of("locked"), &b), TRIL_ERR_IO);
    tril_run_dir_unlock(&a);
    assert_false(exists("locked/.tril-train.lock"));
    assert_int_equal(tril_run_dir_lock(path_of("locked"), &b), TRIL_OK);
    tril_run_dir_unlock(&b);
    tril_run_dir_unlock(&b); /* twice: no-op */

    /* a holder killed with SIGKILL: the kernel drops its lock */
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        tril_run_lock c;
        char ok = tril_run_dir_lock(path_of("locked"), &c) == TRIL_OK ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) _exit(1);
        for (;;) pause();
    }
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    snprintf(want, sizeof want, "in use by another tril train (pid %ld)", (long)child);
    assert_int_equal(tril_run_dir_lock(path_of("locked"), &b), TRIL_ERR_IO);
    if (!strstr(tril_last_error(), want)) fail_msg("'%s' lacks '%s'", tril_last_error(), want);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(ready[0]);
    close(ready[1]);
    assert_true(exists("locked/.tril-train.lock")); /* left behind, but not locked */
    assert_int_equal(tril_run_dir_lock(path_of("locked"), &b), TRIL_OK);
    tril_run_dir_unlock(&b);
    assert_int_equal(tril_run_dir_lock(path_of("no/such/folder"), &b), TRIL_ERR_IO);
    assert_false(b.held);
}

/* With the folder locked, leftovers of tril's files are stale even when
 * their pid names a live process (a reused pid); others keep the pid test. */
static void test_cleanup_locked(void **state)
{
    (void)state;
    const long live = (long)getppid(); /* runs, and is no tril train of this folder */
    char name[160];
    assert_int_equal(mkdir(path_of("tidy"), 0755), 0);
    snprintf(name, sizeof name, "tidy/checkpoint-3.tmp-%ld", live);
    assert_int_equal(mkdir(path_of(name), 0755), 0);
    snprintf(name, sizeof name, "tidy/checkpoint-3.tmp-%ld/model.safetensors", live);
    spit(path_of(name), "x");
    snprintf(name, sizeof name, "tidy/config.json.tmp-%ld", live);
    spit(path_of(name), "{");
    spit(path_of("tidy/model.safetensors.tmp"), "torn");
    snprintf(name, sizeof name, "tidy/data.txt.bytes.tokens.tmp-%ld", live);
    spit(path_of(name), "another run's token cache being written");
    assert_int_equal(tril_checkpoint_cleanup(path_of("tidy")), 0); /* live pids: kept */
    tril_run_lock lock;
    memset(&lock, 0, sizeof lock);
    assert_int_equal(tril_run_dir_cleanup(&lock), 0); /* not held: nothing */
    assert_int_equal(tril_run_dir_lock(path_of("tidy"), &lock), TRIL_OK);
    assert_int_equal(tril_run_dir_cleanup(&lock), 3);
    snprintf(name, sizeof name, "tidy/checkpoint-3.tmp-%ld", live);
    assert_false(exists(name));
    assert_false(exists("tidy/model.safetensors.tmp"));
    snprintf(name, sizeof name, "tidy/data.txt.bytes.tokens.tmp-%ld", live);
    assert_true(exists(name));
    tril_run_dir_unlock(&lock);
}

static void make_checkpoint_files(const char *ck)
{
    const char *files[] = {"config.json", "model.safetensors", "optimizer.safetensors",
                           "trainer_state.json"};
    char name[160];
    assert_int_equal(mkdir(path_of(ck), 0755), 0);
    for (size_t i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s/%s", ck, files[i]);
        spit(path_of(name), "x");
    }
}

/* An earlier run's files are found and, for --overwrite, removed: only the
 * names tril writes, never a user's file. */
static void test_earlier_run(void **state)
{
    (void)state;
    char what[256], removed[256], kept[64];
    assert_int_equal(mkdir(path_of("prior"), 0755), 0);
    assert_int_equal(tril_run_dir_earlier_run(path_of("prior"), what, sizeof what), 0);
    assert_string_equal(what, "");
    spit(path_of("prior/vocab.json"), "{}"); /* tokenizer files alone are no run */
    spit(path_of("prior/notes.txt"), "mine");
    assert_int_equal(tril_run_dir_earlier_run(path_of("prior"), what, sizeof what), 0);
    spit(path_of("prior/config.json"), "{}");
    spit(path_of("prior/model.safetensors"), "x");
    spit(path_of("prior/log.csv"), "step\n");
    make_checkpoint_files("prior/checkpoint-5");
    make_checkpoint_files("prior/checkpoint-10");
    spit(path_of("prior/checkpoint-10/mine.txt"), "mine");
    assert_int_equal(mkdir(path_of("prior/checkpoint-x"), 0755), 0); /* not tril's name */
    spit(path_of("prior/checkpoint-7"), "a file, not a checkpoint folder");
    assert_int_equal(tril_run_dir_earlier_run(path_of("prior"), what, sizeof what), 6);
    assert_non_null(strstr(what, "checkpoint-10"));
    assert_non_null(strstr(what, "log.csv"));
    assert_int_equal(tril_run_dir_earlier_run(path_of("prior"), what, 20), 6);
    assert_true(strlen(what) < 20 && strstr(what, "...") != NULL);
    assert_int_equal(tril_run_dir_earlier_run(path_of("missing"), what, sizeof what), 0);

    assert_int_equal(tril_run_dir_clear(path_of("prior"), 1, removed, sizeof removed, kept,
                                        sizeof kept), TRIL_OK);
    assert_non_null(strstr(removed, "checkpoint-5"));
    assert_non_null(strstr(removed, "model.safetensors"));
    assert_null(strstr(removed, "checkpoint-10"));
    assert_string_equal(kept, "checkpoint-10");
    assert_false(exists("prior/config.json"));
    assert_false(exists("prior/model.safetensors"));
    assert_false(exists("prior/log.csv"));
    assert_false(exists("prior/checkpoint-5"));
    assert_false(exists("prior/checkpoint-10/model.safetensors"));
    assert_true(exists("prior/checkpoint-10/mine.txt"));
    assert_true(exists("prior/vocab.json")); /* kept: the new run's tokenizer source */
    assert_true(exists("prior/notes.txt"));
    assert_true(exists("prior/checkpoint-x"));
    assert_true(exists("prior/checkpoint-7"));
    assert_int_equal(tril_run_dir_clear(path_of("prior"), 0, removed, sizeof removed, kept,
                                        sizeof kept), TRIL_OK);
    assert_string_equal(removed, "vocab.json");
    assert_false(exists("prior/vocab.json"));
    assert_int_equal(tril_run_dir_clear(path_of("missing"), 0, removed, sizeof removed, kept,
                                        sizeof kept), TRIL_ERR_IO);
}

/* One rank's part of a checkpoint: the weights whole, the moments of its
 * tril_shard_range slice only, for every world size; a shard alone cannot be
 * saved as a checkpoint (it would not be the whole run). */
static void test_load_shard(void **state)
{
    (void)state;
    run a;
    make_run(&a, 20000, "bytes"); /* 160k+ values: three chunks of the norm */
    assert_true(tril_grad_chunks(a.opt.n) == 3);
    char ck[512];
    snprintf(ck, sizeof ck, "%s", path_of("shard"));
    assert_int_equal(tril_checkpoint_save(ck, a.model, &a.opt, &a.cfg, &a.st, NULL), TRIL_OK);
    int64_t na;
    const float *wa = test_arena(a.model, &na);
    for (int world = 1; world <= 4; world++) {
        int64_t covered = 0;
        for (int rank = 0; rank < world; rank++) {
            run b;
            assert_int_equal(tril_checkpoint_load_shard(ck, rank, world, &b.model, &b.opt, &b.st),
                             TRIL_OK);
            int64_t lo, hi, nb;
            tril_shard_range(na, rank, world, &lo, &hi);
            assert_true(b.opt.lo == lo && b.opt.n == hi - lo && b.opt.step == 7);
            assert_memory_equal(b.opt.m, a.opt.m + lo, (size_t)(hi - lo) * 4);
            assert_memory_equal(b.opt.v, a.opt.v + lo, (size_t)(hi - lo) * 4);
            const float *wb = test_arena(b.model, &nb);
            assert_true(nb == na);
            assert_memory_equal(wb, wa, (size_t)na * 4);
            covered += hi - lo;
            if (world > 1 && hi > lo) { /* a shard is not a checkpoint */
                assert_int_equal(tril_checkpoint_save(path_of("shard-bad"), b.model, &b.opt, &a.cfg,
                                                      &b.st, NULL),
                                 TRIL_ERR_SHAPE);
            }
            free_run(&b);
        }
        assert_true(covered == na);
    }
    run c;
    assert_int_equal(tril_checkpoint_load_shard(ck, 2, 2, &c.model, &c.opt, &c.st),
                     TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_checkpoint_load_shard(ck, -1, 2, &c.model, &c.opt, &c.st),
                     TRIL_ERR_INVALID_ARG);
    free_run(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_load_shard),
        cmocka_unit_test(test_model_save),
        cmocka_unit_test(test_bad_checkpoints),
        cmocka_unit_test(test_cleanup),
        cmocka_unit_test(test_run_lock),
        cmocka_unit_test(test_cleanup_locked),
        cmocka_unit_test(test_earlier_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

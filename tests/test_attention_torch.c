/* tril's attention kernels against PyTorch.
 *
 * tests/ref/torch_attention.py writes random problems with torch's float64
 * answers (stored as float32) into the directory named by $TRIL_TORCH_CASES
 * (set by CTest, which runs the script first as a fixture). Every case is run
 * through the reference kernel (the oracle) and every available SIMD kernel
 * in fp32, and must match torch:
 *   out: max abs error <= 1e-5
 *   lse: abs error <= 1e-5 where torch's lse is finite; -inf exactly where it
 *        is -inf (rows with no visible key).
 *
 * Case file format (little-endian, see the script):
 *   char    magic[8] = "TRILATT1"
 *   int64   B, H, D, Tq, Tk, has_padding
 *   float32 q [B,Tq,H,D], k [B,Tk,H,D], v [B,Tk,H,D]
 *   int64   key_start [B], key_end [B]
 *   float32 out [B,Tq,H,D], lse [B,H,Tq] */
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

#include "tril/attention.h"

#define OUT_TOL 1e-5
#define LSE_TOL 1e-5
#define MAX_CASES 256

typedef struct {
    char name[64];
    int64_t B, H, D, Tq, Tk, has_padding;
    float *q, *k, *v, *out, *lse;
    int64_t *key_start, *key_end;
} torch_case;

static int read_exact(FILE *f, void *dst, size_t bytes)
{
    return fread(dst, 1, bytes, f) == bytes;
}

/* Reads one case file; on a malformed file fails the test with a message. */
static void load_case(const char *dir, const char *name, torch_case *c)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    char magic[8];
    int64_t hdr[6];
    if (!read_exact(f, magic, 8) || memcmp(magic, "TRILATT1", 8) != 0)
        fail_msg("%s: bad magic", path);
    if (!read_exact(f, hdr, sizeof hdr)) fail_msg("%s: short header", path);
    c->B = hdr[0]; c->H = hdr[1]; c->D = hdr[2];
    c->Tq = hdr[3]; c->Tk = hdr[4]; c->has_padding = hdr[5];
    for (int i = 0; i < 5; i++)
        if (hdr[i] < 1 || hdr[i] > 100000) fail_msg("%s: bad size %lld", path, (long long)hdr[i]);
    size_t nq = (size_t)(c->B * c->Tq * c->H * c->D);
    size_t nk = (size_t)(c->B * c->Tk * c->H * c->D);
    size_t nl = (size_t)(c->B * c->H * c->Tq);
    size_t nb = (size_t)c->B;
    c->q = malloc(nq * sizeof(float));
    c->k = malloc(nk * sizeof(float));
    c->v = malloc(nk * sizeof(float));
    c->out = malloc(nq * sizeof(float));
    c->lse = malloc(nl * sizeof(float));
    c->key_start = malloc(nb * sizeof(int64_t));
    c->key_end = malloc(nb * sizeof(int64_t));
    assert_non_null(c->q); assert_non_null(c->k); assert_non_null(c->v);
    assert_non_null(c->out); assert_non_null(c->lse);
    assert_non_null(c->key_start); assert_non_null(c->key_end);
    if (!read_exact(f, c->q, nq * 4) || !read_exact(f, c->k, nk * 4) ||
        !read_exact(f, c->v, nk * 4) || !read_exact(f, c->key_start, nb * 8) ||
        !read_exact(f, c->key_end, nb * 8) || !read_exact(f, c->out, nq * 4) ||
        !read_exact(f, c->lse, nl * 4))
        fail_msg("%s: truncated", path);
    if (fgetc(f) != EOF) fail_msg("%s: trailing bytes", path);
    fclose(f);
}

static void free_case(torch_case *c)
{
    free(c->q); free(c->k); free(c->v); free(c->out); free(c->lse);
    free(c->key_start); free(c->key_end);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Lists *.bin in dir, sorted. Returns the count. */
static int list_cases(const char *dir, char names[][64], int cap)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap) {
        size_t len = strlen(e->d_name);
        if (len > 4 && len < 64 && strcmp(e->d_name + len - 4, ".bin") == 0)
            memcpy(names[n++], e->d_name, len + 1);
    }
    closedir(d);
    qsort(names, (size_t)n, 64, cmp_names);
    return n;
}

typedef struct {
    double out_err, lse_err;
    char out_case[64], lse_case[64];
    int runs;
} kernel_stats;

/* Runs one case on one kernel and checks it; updates the worst errors. */
static void run_case(const torch_case *c, tril_attn_kernel kernel, kernel_stats *st)
{
    size_t nq = (size_t)(c->B * c->Tq * c->H * c->D);
    size_t nl = (size_t)(c->B * c->H * c->Tq);
    float *out = malloc(nq * sizeof(float));
    float *lse = malloc(nl * sizeof(float));
    assert_non_null(out);
    assert_non_null(lse);
    for (size_t i = 0; i < nq; i++) out[i] = NAN; /* every element must be written */
    for (size_t i = 0; i < nl; i++) lse[i] = NAN;

    tril_attention_args a = tril_attention_args_init();
    a.batch = c->B; a.heads = c->H; a.head_dim = c->D;
    a.q_len = c->Tq; a.kv_len = c->Tk;
    a.dtype = TRIL_F32;
    a.q = c->q; a.k = c->k; a.v = c->v; a.out = out; a.lse = lse;
    if (c->has_padding) {
        a.key_start = c->key_start;
        a.key_end = c->key_end;
    }
    a.mask = TRIL_MASK_STRUCTURAL;
    tril_status s = tril_attention_forward(&a, kernel);
    if (s != TRIL_OK)
        fail_msg("%s on %s: status %d (%s): %s", tril_attn_kernel_name(kernel), c->name, (int)s,
                 tril_status_name(s), tril_last_error());

    double worst_out = 0.0, worst_lse = 0.0;
    size_t at_out = 0, at_lse = 0;
    for (size_t i = 0; i < nq; i++) {
        double e = fabs((double)out[i] - (double)c->out[i]);
        if (!(e <= worst_out)) { /* NaN counts as the worst */
            worst_out = isnan(e) ? INFINITY : e;
            at_out = i;
        }
    }
    for (size_t i = 0; i < nl; i++) {
        double e;
        if (isinf(c->lse[i]) && c->lse[i] < 0)
            e = (isinf(lse[i]) && lse[i] < 0) ? 0.0 : INFINITY;
        else
            e = isfinite(lse[i]) ? fabs((double)lse[i] - (double)c->lse[i]) : INFINITY;
        if (e > worst_lse) {
            worst_lse = e;
            at_lse = i;
        }
    }
    if (worst_out > st->out_err) {
        st->out_err = worst_out;
        snprintf(st->out_case, sizeof st->out_case, "%s", c->name);
    }
    if (worst_lse > st->lse_err) {
        st->lse_err = worst_lse;
        snprintf(st->lse_case, sizeof st->lse_case, "%s", c->name);
    }
    st->runs++;
    if (!(worst_out <= OUT_TOL))
        fail_msg("%s on %s (B=%lld H=%lld D=%lld Tq=%lld Tk=%lld pad=%lld): out[%zu] = %.9g, "
                 "torch %.9g, abs err %.3g > %.0e",
                 tril_attn_kernel_name(kernel), c->name, (long long)c->B, (long long)c->H,
                 (long long)c->D, (long long)c->Tq, (long long)c->Tk, (long long)c->has_padding,
                 at_out, (double)out[at_out], (double)c->out[at_out], worst_out, OUT_TOL);
    if (!(worst_lse <= LSE_TOL))
        fail_msg("%s on %s (B=%lld H=%lld D=%lld Tq=%lld Tk=%lld pad=%lld): lse[%zu] = %.9g, "
                 "torch %.9g, abs err %.3g > %.0e",
                 tril_attn_kernel_name(kernel), c->name, (long long)c->B, (long long)c->H,
                 (long long)c->D, (long long)c->Tq, (long long)c->Tk, (long long)c->has_padding,
                 at_lse, (double)lse[at_lse], (double)c->lse[at_lse], worst_lse, LSE_TOL);
    free(out);
    free(lse);
}

static const char *cases_dir(void)
{
    const char *dir = getenv("TRIL_TORCH_CASES");
    if (!dir || !*dir) fail_msg("TRIL_TORCH_CASES is not set (run through ctest)");
    return dir;
}

/* The directory must hold the cases the script writes: an empty directory is
 * a failure, not a pass. */
static void test_cases_present(void **state)
{
    (void)state;
    static char names[MAX_CASES][64];
    int n = list_cases(cases_dir(), names, MAX_CASES);
    if (n < 12) fail_msg("expected >= 12 torch cases in %s, found %d", cases_dir(), n);
}

static void check_kernel(tril_attn_kernel kernel)
{
    static char names[MAX_CASES][64];
    const char *dir = cases_dir();
    int n = list_cases(dir, names, MAX_CASES);
    if (n == 0) fail_msg("no torch cases in %s", dir);
    kernel_stats st;
    memset(&st, 0, sizeof st);
    for (int i = 0; i < n; i++) {
        torch_case c;
        load_case(dir, names[i], &c);
        run_case(&c, kernel, &st);
        free_case(&c);
    }
    printf("%-14s %2d cases  worst out err %.3g (%s)  worst lse err %.3g (%s)\n",
           tril_attn_kernel_name(kernel), st.runs, st.out_err, st.out_case[0] ? st.out_case : "-",
           st.lse_err, st.lse_case[0] ? st.lse_case : "-");
    assert_int_equal(st.runs, n);
}

static void test_reference(void **state)
{
    (void)state;
    assert_true(tril_attn_kernel_available(TRIL_ATTN_REFERENCE));
    check_kernel(TRIL_ATTN_REFERENCE);
}

/* Every SIMD build this CPU can run (and AUTO, whatever it picks). */
static void test_simd_kernels(void **state)
{
    (void)state;
    int ran = 0;
    for (int k = 0; k < TRIL_ATTN_KERNEL_COUNT; k++) {
        if (k == TRIL_ATTN_REFERENCE) continue;
        if (!tril_attn_kernel_available((tril_attn_kernel)k)) {
            printf("%-14s not available here, skipped\n", tril_attn_kernel_name((tril_attn_kernel)k));
            continue;
        }
        check_kernel((tril_attn_kernel)k);
        ran++;
    }
    /* auto, simd and simd-generic are always there */
    assert_true(ran >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_present),
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_simd_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

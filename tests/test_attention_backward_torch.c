/* tril_attention_backward against PyTorch autograd.
 *
 * tests/ref/torch_attention_backward.py writes random problems (q, k, v,
 * dout in fp32) with torch's float64 gradients of sum(out * dout) into the
 * directory named by $TRIL_TORCH_BWD_CASES (set by CTest, which runs the
 * script first as a fixture): structural mask with empty rows (Tq > Tk,
 * empty padding windows), Tq < Tk, left/right padding, B > 1, T not a
 * multiple of any tile, D in {16, 64, 80}, and the none/additive/boolean
 * modes. tril's forward (the oracle) supplies out and lse, then the backward
 * of the oracle and of every available SIMD kernel must match torch:
 *   per gradient tensor, max abs error <= 1e-5 * max |torch gradient|.
 *
 * Case file format (little-endian, see the script):
 *   char    magic[8] = "TRILBWD1"
 *   int64   B, H, D, Tq, Tk, has_padding, mask;  float64 fill
 *   float32 q [B,Tq,H,D], k [B,Tk,H,D], v [B,Tk,H,D]
 *   int64   key_start [B], key_end [B]
 *   float32 dout [B,Tq,H,D]
 *   float64 dq [B,Tq,H,D], dk [B,Tk,H,D], dv [B,Tk,H,D] */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "tril/attention.h"

#define REL_TOL 1e-5
#define MIN_CASES 15

static int read_all(FILE *f, void *dst, size_t bytes) { return fread(dst, 1, bytes, f) == bytes; }

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

/* Runs one case through every kernel; worst[0..2] collect the oracle's dq,
 * dk, dv errors, worst[3] the SIMD kernels'. */
static void run_case(const char *path, double *worst)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    char magic[8];
    int64_t h[7];
    double fill;
    if (!read_all(f, magic, 8) || memcmp(magic, "TRILBWD1", 8) || !read_all(f, h, sizeof h) ||
        !read_all(f, &fill, 8))
        fail_msg("%s: bad header", path);
    for (int i = 0; i < 5; i++)
        if (h[i] < 1 || h[i] > 4096 || (i == 0 && h[i] > 8)) fail_msg("%s: bad size", path);
    const int64_t B = h[0], H = h[1], D = h[2], Tq = h[3], Tk = h[4];
    const size_t nq = (size_t)(B * Tq * H * D), nk = (size_t)(B * Tk * H * D);
    float *q = xmalloc(nq * 4), *k = xmalloc(nk * 4), *v = xmalloc(nk * 4), *dout = xmalloc(nq * 4);
    float *out = xmalloc(nq * 4), *lse = xmalloc((size_t)(B * H * Tq) * 4);
    float *g[3] = {xmalloc(nq * 4), xmalloc(nk * 4), xmalloc(nk * 4)};
    double *want[3] = {xmalloc(nq * 8), xmalloc(nk * 8), xmalloc(nk * 8)};
    int64_t ks[8], ke[8];
    if (!read_all(f, q, nq * 4) || !read_all(f, k, nk * 4) || !read_all(f, v, nk * 4) ||
        !read_all(f, ks, (size_t)B * 8) || !read_all(f, ke, (size_t)B * 8) ||
        !read_all(f, dout, nq * 4) || !read_all(f, want[0], nq * 8) ||
        !read_all(f, want[1], nk * 8) || !read_all(f, want[2], nk * 8) || fgetc(f) != EOF)
        fail_msg("%s: truncated or trailing bytes", path);
    fclose(f);

    tril_attention_args a = tril_attention_args_init();
    a.batch = B; a.heads = H; a.head_dim = D; a.q_len = Tq; a.kv_len = Tk;
    a.q = q; a.k = k; a.v = v; a.out = out; a.lse = lse;
    a.mask = (tril_mask_mode)h[6];
    a.fill = (float)fill;
    if (h[5]) {
        a.key_start = ks;
        a.key_end = ke;
    }
    if (tril_attention_forward(&a, TRIL_ATTN_REFERENCE) != TRIL_OK)
        fail_msg("%s: forward: %s", path, tril_last_error());
    for (int kk = 0; kk < TRIL_ATTN_KERNEL_COUNT; kk++) {
        const tril_attn_kernel kernel = (tril_attn_kernel)kk;
        if (!tril_attn_kernel_available(kernel)) continue;
        for (int t = 0; t < 3; t++) /* every element must be written */
            for (size_t i = 0; i < (t ? nk : nq); i++) g[t][i] = NAN;
        if (tril_attention_backward(&a, dout, g[0], g[1], g[2], kernel) != TRIL_OK)
            fail_msg("%s: backward %s: %s", path, tril_attn_kernel_name(kernel), tril_last_error());
        for (int t = 0; t < 3; t++) {
            const double e = test_rel_err_f64(g[t], want[t], t ? nk : nq);
            const int slot = kernel == TRIL_ATTN_REFERENCE ? t : 3;
            worst[slot] = fmax(worst[slot], e);
            if (!(e <= REL_TOL))
                fail_msg("%s (B=%lld H=%lld D=%lld Tq=%lld Tk=%lld mask=%s): %s d%c rel err %.3g "
                         "> %.0e", path, (long long)B, (long long)H, (long long)D, (long long)Tq,
                         (long long)Tk, tril_mask_mode_name(a.mask), tril_attn_kernel_name(kernel),
                         "qkv"[t], e, REL_TOL);
        }
    }
    free(q); free(k); free(v); free(dout); free(out); free(lse);
    for (int t = 0; t < 3; t++) {
        free(g[t]);
        free(want[t]);
    }
}

static void test_torch_gradients(void **state)
{
    (void)state;
    const char *dir = getenv("TRIL_TORCH_BWD_CASES");
    if (!dir || !*dir) fail_msg("TRIL_TORCH_BWD_CASES is not set (run through ctest)");
    double worst[4] = {0, 0, 0, 0};
    int n = 0;
    for (;; n++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/bwd_%02d.bin", dir, n);
        FILE *f = fopen(path, "rb");
        if (!f) break;
        fclose(f);
        run_case(path, worst);
    }
    printf("torch: %d cases, worst rel err: oracle dq %.3g dk %.3g dv %.3g, SIMD kernels %.3g\n",
           n, worst[0], worst[1], worst[2], worst[3]);
    /* An empty directory is a failure, not a pass. */
    if (n < MIN_CASES) fail_msg("expected >= %d torch cases in %s, found %d", MIN_CASES, dir, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

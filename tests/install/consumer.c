/* A program built against an installed tril (tests/install/test_install.sh),
 * using only the public headers: causal attention with the reference kernel
 * against the default one, a GEMM (OpenBLAS) against its scalar oracle, the
 * GPT-2 tokenizer (cJSON, PCRE2) from the installed data folder, and the mask
 * picture (libpng), so that a static link needs every dependency.
 *
 *   consumer DATA_DIR OUT.png      (DATA_DIR: <prefix>/share/tril)
 * Prints what it checked; exits 1 at the first disagreement. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tril/attention.h>
#include <tril/cpu.h>
#include <tril/error.h>
#include <tril/image.h>
#include <tril/ops.h>
#include <tril/tokenizer.h>

static int fail(const char *what)
{
    fprintf(stderr, "consumer: FAIL: %s (%s)\n", what, tril_last_error());
    return 1;
}

static float uniform(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)(*state >> 8) / 16777216.0f - 0.5f;
}

static float max_abs_diff(const float *a, const float *b, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as a failure */
    }
    return m;
}

/* Causal self-attention, T = 37 queries over 37 keys, 3 heads of 16. */
static int check_attention(void)
{
    enum { B = 2, T = 37, H = 3, D = 16, N = B * T * H * D };
    static float q[N], k[N], v[N], ref[N], fast[N];
    unsigned seed = 12345u;
    for (int i = 0; i < N; i++) {
        q[i] = uniform(&seed);
        k[i] = uniform(&seed);
        v[i] = uniform(&seed);
    }
    tril_attention_args a = tril_attention_args_init();
    a.batch = B;
    a.heads = H;
    a.head_dim = D;
    a.q_len = a.kv_len = T;
    a.q = q;
    a.k = k;
    a.v = v;
    a.out = ref;
    if (tril_attention_forward(&a, TRIL_ATTN_REFERENCE) != TRIL_OK) return fail("reference attention");
    a.out = fast;
    if (tril_attention_forward(&a, TRIL_ATTN_AUTO) != TRIL_OK) return fail("default attention");
    float diff = max_abs_diff(ref, fast, N);
    printf("attention: reference vs auto, max |diff| %.3g\n", (double)diff);
    if (!(diff < 1e-5f)) return fail("attention kernels disagree");
    /* Row 0 sees key 0 alone: its output is v's row 0. */
    if (max_abs_diff(ref, v, D) > 1e-6f) return fail("query 0 attends beyond key 0");
    return 0;
}

static int check_matmul(void)
{
    enum { T = 24, IN = 40, OUT = 56 };
    static float x[T * IN], w[IN * OUT], b[OUT], ref[T * OUT], fast[T * OUT];
    unsigned seed = 777u;
    for (int i = 0; i < T * IN; i++) x[i] = uniform(&seed);
    for (int i = 0; i < IN * OUT; i++) w[i] = uniform(&seed);
    for (int i = 0; i < OUT; i++) b[i] = uniform(&seed);
    tril_ref_matmul(ref, x, w, b, T, IN, OUT);
    tril_matmul(fast, x, w, b, T, IN, OUT);
    float diff = max_abs_diff(ref, fast, T * OUT);
    printf("matmul: oracle vs OpenBLAS, max |diff| %.3g\n", (double)diff);
    return diff < 1e-4f ? 0 : fail("matmul disagrees with its oracle");
}

static int check_tokenizer(const char *data_dir)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/gpt2", data_dir);
    tril_tokenizer *tok = NULL;
    if (tril_tokenizer_load_dir(dir, &tok) != TRIL_OK) return fail("loading the GPT-2 tokenizer");
    const char *text = "Hello world";
    int32_t *ids = NULL;
    size_t n = 0;
    char *back = NULL;
    size_t len = 0;
    int rc = 0;
    if (tril_tokenizer_encode(tok, text, strlen(text), &ids, &n) != TRIL_OK) {
        rc = fail("encode");
    } else if (n != 2 || ids[0] != 15496 || ids[1] != 995) {
        rc = fail("\"Hello world\" is not [15496, 995]");
    } else if (tril_tokenizer_decode(tok, ids, n, &back, &len) != TRIL_OK) {
        rc = fail("decode");
    } else if (len != strlen(text) || memcmp(back, text, len) != 0) {
        rc = fail("decode(encode(text)) != text");
    } else {
        printf("tokenizer: \"%s\" -> [%d, %d] -> \"%s\"\n", text, ids[0], ids[1], back);
    }
    free(ids);
    free(back);
    tril_tokenizer_free(tok);
    return rc;
}

static int check_png(const char *path)
{
    if (tril_mask_png(path, 6, 6) != TRIL_OK) return fail("tril_mask_png");
    unsigned char sig[8] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(sig, 1, sizeof sig, f) : 0;
    if (f) fclose(f);
    if (got != 8 || memcmp(sig, "\x89PNG\r\n\x1a\n", 8) != 0) return fail("not a PNG file");
    printf("png: %s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATA_DIR OUT.png\n", argv[0]);
        return 2;
    }
    printf("isa: %s\n", tril_isa_name(tril_cpu_best_isa()));
    if (check_attention() || check_matmul() || check_tokenizer(argv[1]) || check_png(argv[2]))
        return 1;
    tril_attention_free_workspace();
    printf("ok\n");
    return 0;
}

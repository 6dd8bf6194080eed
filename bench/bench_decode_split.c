/* Where a decoded token's time goes: one decoding step (tril_gpt2_forward
 * of one token) against the same token's matrix-vector products alone (the
 * 4 x n_layer matrices and the head, in the model's own weights and dtype),
 * alternating in one process. The difference is everything else: LayerNorm,
 * attention, GELU, residual adds, the parallel regions' start and end, the
 * logits check. It bounds what running the whole token in one parallel
 * region could save.
 *
 *   bench_decode_split --model DIR [--dtype fp32|bf16|int8] [--repeats N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tril/gpt2.h"
#include "tril/ops.h"
#include "tril/timing.h"

static const char *const matrices[4] = {"attn.c_attn.weight", "attn.c_proj.weight",
                                        "mlp.c_fc.weight", "mlp.c_proj.weight"};

static int gemvs(const tril_gpt2 *m, tril_dtype d, float *y, const float *x, float *partials)
{
    const tril_gpt2_config *c = tril_gpt2_get_config(m);
    tril_gpt2_tensor t;
    for (int64_t l = 0; l < c->n_layer; l++)
        for (int k = 0; k < 4; k++) {
            char name[64];
            snprintf(name, sizeof name, "h.%lld.%s", (long long)l, matrices[k]);
            if (tril_gpt2_find_param(m, name, &t) != TRIL_OK) return -1;
            const int64_t in = t.info->shape[0], out = t.info->shape[1];
            if (d == TRIL_F32) tril_matvec(y, x, t.data, NULL, in, out, partials);
            else if (d == TRIL_BF16) tril_matvec_bf16(y, x, t.data, NULL, in, out);
            else if (tril_matmul_q8(y, x, t.data, t.scales, NULL, 1, in, out, NULL) != TRIL_OK) return -1;
        }
    if (tril_gpt2_find_param(m, "wte.weight", &t) != TRIL_OK) return -1;
    const tril_status st =
        d == TRIL_F32    ? tril_lm_head(y, x, t.data, 1, c->n_embd, c->vocab_size)
        : d == TRIL_BF16 ? tril_lm_head_bf16(y, x, t.data, 1, c->n_embd, c->vocab_size, NULL, 0)
                         : tril_lm_head_q8(y, x, t.data, t.scales, 1, c->n_embd, c->vocab_size, NULL, 0);
    return st == TRIL_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *dtype_name = "fp32";
    int repeats = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--dtype")) dtype_name = argv[i + 1];
        else if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_decode_split: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    tril_dtype d;
    if (!dir || repeats < 1 || tril_dtype_parse(dtype_name, &d) != TRIL_OK || d == TRIL_F16) {
        fprintf(stderr, "usage: bench_decode_split --model DIR [--dtype fp32|bf16|int8] [--repeats N]\n");
        return 2;
    }
    tril_gpt2_load_opts opts = {.weight_dtype = d};
    tril_gpt2 *m = NULL;
    tril_gpt2_state *s = NULL;
    if (tril_gpt2_load(dir, &opts, &m) != TRIL_OK || tril_gpt2_state_create(m, 64, 16, &s) != TRIL_OK) {
        fprintf(stderr, "bench_decode_split: %s\n", tril_last_error());
        return 1;
    }
    const tril_gpt2_config *c = tril_gpt2_get_config(m);
    const int64_t wide = 4 * c->n_embd > c->vocab_size ? 4 * c->n_embd : c->vocab_size;
    int32_t ids[64];
    for (int i = 0; i < 64; i++) ids[i] = (int32_t)((i * 7919) % c->vocab_size);
    float *logits = malloc((size_t)c->vocab_size * 4), *x = calloc((size_t)(4 * c->n_embd), 4);
    float *y = malloc((size_t)wide * 4), *partials = malloc((size_t)TRIL_MATVEC_PARTIALS(4 * c->n_embd) * 4);
    if (!logits || !x || !y || !partials) return 1;
    for (int64_t i = 0; i < 4 * c->n_embd; i++) x[i] = 0.01f * (float)(i % 17);
    double *tok = malloc((size_t)repeats * sizeof *tok), *mv = malloc((size_t)repeats * sizeof *mv);
    for (int r = -1; r < repeats; r++) { /* r = -1: warm-up */
        if (tril_gpt2_state_position(s) == 0 || tril_gpt2_state_position(s) >= 48) {
            tril_gpt2_state_reset(s);
            if (tril_gpt2_forward(m, s, ids, 16, logits, NULL) != TRIL_OK) return 1;
        }
        const int64_t pos = tril_gpt2_state_position(s);
        const double t0 = tril_now();
        if (tril_gpt2_forward(m, s, ids + pos, 1, logits, NULL) != TRIL_OK) return 1;
        const double t1 = tril_now();
        if (gemvs(m, d, y, x, partials) != 0) return 1;
        const double t2 = tril_now();
        if (r >= 0) tok[r] = t1 - t0, mv[r] = t2 - t1;
    }
    const double tm = tril_median(tok, repeats) * 1e3, gm = tril_median(mv, repeats) * 1e3;
    printf("bench=decode_split model=%s dtype=%s positions=16-48 token_ms=%.2f gemv_ms=%.2f "
           "rest_ms=%.2f rest_fraction=%.3f\n",
           dir, dtype_name, tm, gm, tm - gm, (tm - gm) / tm);
    return 0;
}

/* The parameter table: every GPT-2 tensor's name, shape and place in the
 * arena. Gradients and optimizer state use the same layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tril/gpt2.h"

static void add(tril_param_info *t, size_t *n, int64_t *offset, const char *name, int64_t d0,
                int64_t d1, int decay)
{
    tril_param_info *p = &t[(*n)++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = d1 > 0 ? 2 : 1;
    p->shape[0] = d0;
    p->shape[1] = d1 > 0 ? d1 : 0;
    p->numel = d1 > 0 ? d0 * d1 : d0;
    p->offset = *offset;
    p->decay = decay;
    *offset += p->numel;
}

tril_status tril_gpt2_param_table(const tril_gpt2_config *cfg, tril_param_info **out, size_t *count)
{
    tril_status st = tril_gpt2_config_validate(cfg);
    if (st != TRIL_OK) return st;
    const int64_t C = cfg->n_embd, L = cfg->n_layer, I = tril_gpt2_mlp_width(cfg);
    const size_t total = (size_t)(2 + 12 * L + 2);
    tril_param_info *t = calloc(total, sizeof *t);
    if (!t) return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot allocate the parameter table");
    size_t n = 0;
    int64_t off = 0;
    char name[48];
    add(t, &n, &off, "wte.weight", cfg->vocab_size, C, 1);
    add(t, &n, &off, "wpe.weight", cfg->n_positions, C, 1);
    for (int64_t l = 0; l < L; l++) {
        const struct { const char *suffix; int64_t rows, cols; int decay; } layer[] = {
            /* cols 0 = a vector; I = the MLP width (n_inner) */
            {"ln_1.weight", C, 0, 0},          {"ln_1.bias", C, 0, 0},
            {"attn.c_attn.weight", C, 3 * C, 1}, {"attn.c_attn.bias", 3 * C, 0, 0},
            {"attn.c_proj.weight", C, C, 1},   {"attn.c_proj.bias", C, 0, 0},
            {"ln_2.weight", C, 0, 0},          {"ln_2.bias", C, 0, 0},
            {"mlp.c_fc.weight", C, I, 1},      {"mlp.c_fc.bias", I, 0, 0},
            {"mlp.c_proj.weight", I, C, 1},    {"mlp.c_proj.bias", C, 0, 0},
        };
        for (size_t i = 0; i < sizeof layer / sizeof layer[0]; i++) {
            snprintf(name, sizeof name, "h.%lld.%s", (long long)l, layer[i].suffix);
            add(t, &n, &off, name, layer[i].rows, layer[i].cols, layer[i].decay);
        }
    }
    add(t, &n, &off, "ln_f.weight", C, 0, 0);
    add(t, &n, &off, "ln_f.bias", C, 0, 0);
    *out = t;
    *count = n;
    return TRIL_OK;
}

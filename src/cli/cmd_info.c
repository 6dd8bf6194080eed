/* tril info: what a model folder holds. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define CMD "info"

typedef struct {
    const char *model;
} info_opts;

static const cli_opt options[] = {
    {"--model", "DIR", CLI_ARG_PATH, 0, CLI_FIELD(info_opts, model),
     .help = "model folder (default: the bundled model)"},
};

const cli_spec cmd_info_spec = {
    CMD,
    "usage: tril info [--model DIR]\n\n"
    "Prints the model's config, parameter count, stored dtype and memory.\n",
    NULL,
    CLI_OPTS(options),
};

int cmd_info(int argc, char **argv)
{
    info_opts o = {NULL};
    int rc = cli_parse(&cmd_info_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    tril_gpt2 *m;
    rc = cli_load_model(CMD, o.model, &m, NULL);
    if (rc != CLI_OK) return rc;
    const tril_gpt2_config *c = tril_gpt2_get_config(m);
    int64_t params = tril_gpt2_num_params(c);
    printf("n_layer=%lld\nn_head=%lld\nn_embd=%lld\nhead_dim=%lld\nn_positions=%lld\n"
           "vocab_size=%lld\nlayer_norm_epsilon=%g\nactivation=gelu_new\n",
           (long long)c->n_layer, (long long)c->n_head, (long long)c->n_embd,
           (long long)(c->n_embd / c->n_head), (long long)c->n_positions,
           (long long)c->vocab_size, (double)c->layer_norm_epsilon);
    printf("mlp_width=%lld\nscale_attn_weights=%s\nscale_attn_by_inverse_layer_idx=%s\n",
           (long long)tril_gpt2_mlp_width(c), c->attn_unscaled ? "false" : "true",
           c->attn_inverse_layer ? "true" : "false");
    printf("parameters=%lld (%.1fM)\nstored_dtype=%s\ncompute_dtype=fp32\n", (long long)params,
           params / 1e6, tril_gpt2_get_stored_dtype(m));
    const double kv_fp32_mb = 2.0 * c->n_layer * c->n_positions * c->n_embd * 4.0 / 1e6;
    printf("weights_mb=%.1f (%s)\nkv_cache_mb_full_context=%.1f (fp32; %.1f in bf16)\n",
           params * 4.0 / 1e6,
           tril_gpt2_get_storage(m) == TRIL_GPT2_ARENA ? "converted to fp32" : "memory-mapped in place",
           kv_fp32_mb, kv_fp32_mb / 2.0);
    tril_gpt2_free(m);
    return CLI_OK;
}

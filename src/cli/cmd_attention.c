/* tril attention: one head's attention over a prompt, drawn as a picture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tril/image.h"

#define CMD "attention"

typedef struct {
    const char *model, *prompt, *png;
    int64_t layer, head;
    int threads;
} attention_opts;

#define F(field) CLI_FIELD(attention_opts, field)
static const cli_opt options[] = {
    {"--model", "DIR", CLI_ARG_PATH, 0, F(model),
     .help = "model folder (default: the bundled model)"},
    {"--prompt", "TEXT", CLI_ARG_STRING, CLI_REQUIRED, F(prompt),
     .help = "the text whose attention is drawn (1..512 tokens)"},
    {"--layer", "L", CLI_ARG_INT, CLI_REQUIRED, F(layer), .imin = 0, .imax = INT32_MAX,
     .help = "the layer, from 0"},
    {"--head", "H", CLI_ARG_INT, CLI_REQUIRED, F(head), .imin = 0, .imax = INT32_MAX,
     .help = "the head in that layer, from 0"},
    {"--png", "FILE", CLI_ARG_PATH, CLI_REQUIRED, F(png), .help = "the picture to write"},
    {"--threads", "N", CLI_ARG_CUSTOM, 0, F(threads), .custom = &cli_threads_arg,
     .help = "compute threads (default: $TRIL_NUM_THREADS, else all cores)"},
};
#undef F

const cli_spec cmd_attention_spec = {
    CMD,
    "usage: tril attention [--model DIR] --prompt TEXT --layer L --head H --png FILE\n\n"
    "Draws the attention probabilities of head H in layer L over the prompt's\n"
    "tokens: queries down, keys across, token strings on both axes. The upper\n"
    "triangle (the future) is grey: the mask made visible on real data. The\n"
    "colour scale on the right runs from 0 to the largest probability (colour\n"
    "follows its square root). In labels a space is a middle dot, a newline a\n"
    "return arrow, a tab an arrow, other non-ASCII bytes \\xNN; past ~50\n"
    "tokens only every k-th token is labelled, after its position.\n"
    "Prompts of 1..512 tokens; layers and heads count from 0.\n",
    NULL,
    CLI_OPTS(options),
};

/* A token's bytes as a C string for an axis label; tril_heatmap_png escapes
 * them (spaces, newlines, UTF-8). A NUL byte cannot come from argv. */
static char *token_label(const tril_tokenizer *tok, int32_t id)
{
    const char *bytes;
    size_t len;
    if (tril_tokenizer_token_bytes(tok, id, &bytes, &len) != TRIL_OK) len = 0;
    char *s = malloc(len + 1);
    if (!s) return NULL;
    if (len) memcpy(s, bytes, len);
    s[len] = '\0';
    return s;
}

int cmd_attention(int argc, char **argv)
{
    attention_opts o = {NULL};
    int rc = cli_parse(&cmd_attention_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    const char *prompt = o.prompt, *png = o.png;
    const int64_t layer = o.layer, head = o.head;
    tril_gpt2 *model;
    tril_tokenizer *tok;
    rc = cli_load_model(CMD, o.model, &model, &tok);
    if (rc != CLI_OK) return rc;
    int32_t *ids = NULL;
    size_t n = 0;
    float *probs = NULL;
    char **labels = NULL;
    if (tril_tokenizer_encode(tok, prompt, strlen(prompt), &ids, &n) != TRIL_OK) {
        rc = cli_lib_error(CMD, "cannot tokenize the prompt");
        goto done;
    }
    if (n < 1 || n > 512) {
        fprintf(stderr, "tril attention: the prompt has %zu tokens (1..512 can be drawn)\n", n);
        rc = CLI_USAGE;
        goto done;
    }
    probs = malloc(n * n * sizeof *probs);
    labels = calloc(n, sizeof *labels);
    if (!probs || !labels) {
        rc = CLI_FAIL;
        goto done;
    }
    if (tril_gpt2_attention_probs(model, ids, (int64_t)n, layer, head, probs) != TRIL_OK) {
        rc = cli_lib_error(CMD, "cannot compute the attention");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (!(labels[i] = token_label(tok, ids[i]))) { rc = CLI_FAIL; goto done; }
    char title[96];
    snprintf(title, sizeof title, "layer %lld head %lld: attention over %zu tokens", (long long)layer,
             (long long)head, n);
    if (tril_heatmap_png(png, probs, (int64_t)n, (int64_t)n, (const char *const *)labels,
                         (const char *const *)labels, title, 1) != TRIL_OK) {
        rc = cli_lib_error(CMD, "cannot draw");
        goto done;
    }
    printf("wrote %s (%zu tokens, layer %lld, head %lld)\n", png, n, (long long)layer, (long long)head);
done:
    for (size_t i = 0; labels && i < n; i++) free(labels[i]);
    free(labels);
    free(probs);
    free(ids);
    tril_tokenizer_free(tok);
    tril_gpt2_free(model);
    return rc;
}

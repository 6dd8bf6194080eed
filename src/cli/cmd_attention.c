/* tril attention: one head's attention over a prompt, drawn as a picture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tril/image.h"

#define CMD "attention"

void cmd_attention_help(void)
{
    printf("usage: tril attention [--model DIR] --prompt TEXT --layer L --head H --png FILE\n\n"
           "Draws the attention probabilities of head H in layer L over the prompt's\n"
           "tokens: queries down, keys across, token strings on both axes. The upper\n"
           "triangle (the future) is grey: the mask made visible on real data. The\n"
           "colour scale on the right runs from 0 to the largest probability (colour\n"
           "follows its square root). In labels a space is a middle dot, a newline a\n"
           "return arrow, a tab an arrow, other non-ASCII bytes \\xNN; past ~50\n"
           "tokens only every k-th token is labelled, after its position.\n"
           "Prompts of 1..512 tokens; layers and heads count from 0.\n\n"
           "  --threads N   compute threads (default: $TRIL_NUM_THREADS, else all cores)\n");
}

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
    const char *model_dir = NULL, *prompt = NULL, *png = NULL, *val;
    int64_t layer = -1, head = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--model") && strcmp(arg, "--prompt") && strcmp(arg, "--png") &&
            strcmp(arg, "--layer") && strcmp(arg, "--head") && strcmp(arg, "--threads"))
            return cli_unknown(CMD, arg);
        if (!(val = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        if (!strcmp(arg, "--model")) model_dir = val;
        else if (!strcmp(arg, "--threads")) { if (cli_parse_threads(CMD, val)) return CLI_USAGE; }
        else if (!strcmp(arg, "--prompt")) prompt = val;
        else if (!strcmp(arg, "--png")) png = val;
        else if (cli_parse_i64(CMD, arg, val, 0, INT32_MAX, !strcmp(arg, "--layer") ? &layer : &head))
            return CLI_USAGE;
    }
    if (!prompt || !png || layer < 0 || head < 0) {
        fprintf(stderr, "tril attention: --prompt, --layer, --head and --png are required\n");
        return CLI_USAGE;
    }
    tril_gpt2 *model;
    tril_tokenizer *tok;
    int rc = cli_load_model(CMD, model_dir, &model, &tok);
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

/* tril tokenize / detokenize: text <-> token ids with a model's tokenizer. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void cmd_tokenize_help(void)
{
    printf("usage: tril tokenize [--model DIR] (--text TEXT | --file F)\n\n"
           "Prints the token ids of the text, space-separated, on one line.\n"
           "  --model DIR   folder with vocab.json + merges.txt or tokenizer.json\n"
           "                (default: the bundled model)\n"
           "  --text TEXT   the text\n"
           "  --file F      read the text (any bytes) from a file\n");
}

void cmd_detokenize_help(void)
{
    printf("usage: tril detokenize [--model DIR] ID...\n\n"
           "Prints exactly the bytes the token ids stand for, with no newline added\n"
           "(so 'tril detokenize $(tril tokenize --file F)' reproduces F).\n"
           "  --model DIR   folder with the tokenizer (default: the bundled model)\n");
}

/* The tokenizer alone: no need to load (or even have) the weights. */
static int load_tokenizer(const char *cmd, const char *model_arg, tril_tokenizer **tok)
{
    char dir[PATH_MAX], config[PATH_MAX + 16];
    if (tril_gpt2_resolve_dir(model_arg, dir, sizeof dir) != TRIL_OK) return cli_lib_error(cmd, "no model");
    tril_gpt2_config cfg;
    snprintf(config, sizeof config, "%s/config.json", dir);
    int64_t vocab = -1;
    FILE *f = fopen(config, "rb");
    if (f) {
        fclose(f);
        if (tril_gpt2_config_load(config, &cfg) != TRIL_OK) return cli_lib_error(cmd, "bad config");
        vocab = cfg.vocab_size;
    }
    return cli_load_tokenizer(cmd, dir, vocab, tok);
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model_dir = NULL, *text = NULL, *file = NULL, *val;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--model") && strcmp(arg, "--text") && strcmp(arg, "--file"))
            return cli_unknown("tokenize", arg);
        if (!(val = cli_value("tokenize", argc, argv, &i))) return CLI_USAGE;
        if (!strcmp(arg, "--model")) model_dir = val;
        else if (!strcmp(arg, "--text")) text = val;
        else file = val;
    }
    if (!text == !file) {
        fprintf(stderr, "tril tokenize: give exactly one of --text or --file\n");
        return CLI_USAGE;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = CLI_OK;
    if (file) {
        if ((rc = cli_read_text("tokenize", file, &buf, &len)) != CLI_OK) return rc;
    } else {
        len = strlen(text);
    }
    tril_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    if ((rc = load_tokenizer("tokenize", model_dir, &tok)) == CLI_OK) {
        if (tril_tokenizer_encode(tok, file ? buf : text, len, &ids, &n) != TRIL_OK) {
            rc = cli_lib_error("tokenize", "cannot tokenize");
        } else {
            for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
            printf("\n");
        }
    }
    free(ids);
    free(buf);
    tril_tokenizer_free(tok);
    return rc;
}

int cmd_detokenize(int argc, char **argv)
{
    const char *model_dir = NULL;
    int32_t *ids = calloc((size_t)argc, sizeof *ids);
    size_t n = 0;
    if (!ids) return CLI_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--model")) {
            if (!(model_dir = cli_value("detokenize", argc, argv, &i))) { free(ids); return CLI_USAGE; }
            continue;
        }
        int64_t id;
        if (arg[0] == '-' && !(arg[1] >= '0' && arg[1] <= '9')) { free(ids); return cli_unknown("detokenize", arg); }
        if (cli_parse_i64("detokenize", "ID", arg, INT32_MIN, INT32_MAX, &id)) { free(ids); return CLI_USAGE; }
        ids[n++] = (int32_t)id;
    }
    tril_tokenizer *tok = NULL;
    int rc = load_tokenizer("detokenize", model_dir, &tok);
    if (rc == CLI_OK) {
        char *text = NULL;
        size_t len = 0;
        if (tril_tokenizer_decode(tok, ids, n, &text, &len) != TRIL_OK) {
            rc = cli_lib_error("detokenize", "cannot decode");
        } else {
            fwrite(text, 1, len, stdout); /* main checks that stdout took it all */
        }
        free(text);
    }
    free(ids);
    tril_tokenizer_free(tok);
    return rc;
}

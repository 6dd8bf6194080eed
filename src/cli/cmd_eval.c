/* tril eval: perplexity of a text file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tril/generate.h"

#define CMD "eval"

void cmd_eval_help(void)
{
    printf("usage: tril eval [--model DIR] --file TEXT_FILE [--context N]\n\n"
           "Scores a text file and prints one line:\n"
           "  tokens=<predicted tokens> loss=<mean nats per token> ppl=<exp(loss)>\n"
           "The file's tokens are split into consecutive, non-overlapping windows of N\n"
           "tokens (a last partial window counts if it has at least 2 tokens); each\n"
           "window predicts its tokens 2..end from the ones before it in the window.\n\n"
           "  --model DIR    model folder (default: the bundled model)\n"
           "  --file F       the text to score: a regular file, or - for standard input\n"
           "  --context N    window length, 2..n_positions (default n_positions)\n"
           "  --dtype D      weights fp32 (default) or bf16 (rounded: measures the cost)\n"
           "  --threads N    compute threads (default: $TRIL_NUM_THREADS, else all cores)\n"
           "  --max-file-mb N  refuse a text larger than N MB (default %d)\n",
           CLI_MAX_FILE_MB);
}

int cmd_eval(int argc, char **argv)
{
    const char *model_dir = NULL, *file = NULL, *val;
    int64_t context = 0;
    tril_dtype dtype = TRIL_F32;
    size_t max_file = (size_t)CLI_MAX_FILE_MB << 20;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--model") && strcmp(arg, "--file") && strcmp(arg, "--context") &&
            strcmp(arg, "--dtype") && strcmp(arg, "--threads") && strcmp(arg, "--max-file-mb"))
            return cli_unknown(CMD, arg);
        if (!(val = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        if (!strcmp(arg, "--model")) model_dir = val;
        else if (!strcmp(arg, "--threads")) { if (cli_parse_threads(CMD, val)) return CLI_USAGE; }
        else if (!strcmp(arg, "--file")) file = val;
        else if (!strcmp(arg, "--max-file-mb")) { if (cli_parse_max_file(CMD, val, &max_file)) return CLI_USAGE; }
        else if (!strcmp(arg, "--dtype")) { if (cli_parse_weight_dtype(CMD, val, &dtype)) return CLI_USAGE; }
        else if (cli_parse_i64(CMD, arg, val, 2, INT32_MAX, &context)) return CLI_USAGE;
    }
    if (!file) {
        fprintf(stderr, "tril eval: --file is required (see 'tril eval --help')\n");
        return CLI_USAGE;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = cli_read_text(CMD, file, max_file, &text, &len);
    if (rc != CLI_OK) return rc;
    tril_gpt2 *model = NULL;
    tril_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    if ((rc = cli_load_model_as(CMD, model_dir, dtype, &model, &tok)) != CLI_OK) goto done;
    const int64_t P = tril_gpt2_get_config(model)->n_positions;
    if (context == 0) context = P;
    if (context > P) {
        fprintf(stderr, "tril eval: --context %lld is longer than the model's context (%lld)\n",
                (long long)context, (long long)P);
        rc = CLI_USAGE;
        goto done;
    }
    if (tril_tokenizer_encode(tok, text, len, &ids, &n) != TRIL_OK) {
        rc = cli_lib_error(CMD, "cannot tokenize the file");
        goto done;
    }
    double nats;
    int64_t count;
    if (tril_gpt2_eval(model, ids, (int64_t)n, context, &nats, &count) != TRIL_OK) {
        rc = cli_lib_error(CMD, "evaluation failed");
        goto done;
    }
    if (count == 0) {
        fprintf(stderr, "tril eval: '%s' has %zu tokens: nothing to predict\n", file, n);
        rc = CLI_FAIL;
        goto done;
    }
    printf("tokens=%lld loss=%.6f ppl=%.4f\n", (long long)count, nats / count, exp(nats / count));
done:
    free(text);
    free(ids);
    tril_tokenizer_free(tok);
    tril_gpt2_free(model);
    return rc;
}

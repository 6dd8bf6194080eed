/* tril eval: perplexity of a text file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tril/generate.h"

#define CMD "eval"

typedef struct {
    const char *model, *file;
    int64_t context;
    tril_dtype dtype;
    int kv_dtype;
    int threads;
    size_t max_file;
} eval_opts;

#define F(field) CLI_FIELD(eval_opts, field)
static const cli_opt options[] = {
    {"--model", "DIR", CLI_ARG_PATH, 0, F(model),
     .help = "model folder (default: the bundled model)"},
    {"--file", "F", CLI_ARG_PATH, CLI_REQUIRED, F(file),
     .help = "the text to score: a regular file, or - for standard input"},
    {"--context", "N", CLI_ARG_INT, 0, F(context), .imin = 2, .imax = INT32_MAX,
     .help = "window length, 2..n_positions (default n_positions)"},
    {"--dtype", "D", CLI_ARG_CUSTOM, 0, F(dtype), .custom = &cli_weight_dtype_arg,
     .help = "weights fp32 (default) or bf16 (rounded: measures the cost)"},
    {"--kv-dtype", "auto|fp32|bf16", CLI_ARG_CUSTOM, 0, F(kv_dtype), .custom = &cli_kv_dtype_arg,
     .help = CLI_KV_DTYPE_HELP},
    {"--threads", "N", CLI_ARG_CUSTOM, 0, F(threads), .custom = &cli_threads_arg,
     .help = "compute threads (default: $TRIL_NUM_THREADS, else all cores)"},
    {"--max-file-mb", "N", CLI_ARG_CUSTOM, 0, F(max_file), .custom = &cli_max_file_arg,
     .help = "refuse a text larger than N MB (default " CLI_STR(CLI_MAX_FILE_MB) ")"},
};
#undef F

const cli_spec cmd_eval_spec = {
    CMD,
    "usage: tril eval [--model DIR] --file TEXT_FILE [--context N]\n\n"
    "Scores a text file and prints one line:\n"
    "  tokens=<predicted tokens> loss=<mean nats per token> ppl=<exp(loss)>\n"
    "The file's tokens are split into consecutive, non-overlapping windows of N\n"
    "tokens (a last partial window counts if it has at least 2 tokens); each\n"
    "window predicts its tokens 2..end from the ones before it in the window.\n",
    NULL,
    CLI_OPTS(options),
};

int cmd_eval(int argc, char **argv)
{
    eval_opts o = {.dtype = TRIL_F32, .max_file = (size_t)CLI_MAX_FILE_MB << 20};
    int rc = cli_parse(&cmd_eval_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    const char *file = o.file;
    int64_t context = o.context;
    char *text = NULL;
    size_t len = 0;
    rc = cli_read_text(CMD, file, o.max_file, &text, &len);
    if (rc != CLI_OK) return rc;
    tril_gpt2 *model = NULL;
    tril_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    if ((rc = cli_load_model_as(CMD, o.model, o.dtype, o.kv_dtype, &model, &tok)) != CLI_OK) goto done;
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

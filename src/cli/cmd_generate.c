/* tril generate: continue a prompt, streaming tokens as they come. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "tril/generate.h"

#define CMD "generate"

typedef struct {
    const char *model, *prompt, *prompt_file, *prompts_file;
    size_t max_file;
    int64_t tokens, top_k, seed, prefill_chunk, slots;
    double temperature, top_p;
    int ids, threads;
    tril_dtype dtype;
    int kv_dtype;
} generate_opts;

#define F(field) CLI_FIELD(generate_opts, field)
static const cli_opt options[] = {
    {"--model", "DIR", CLI_ARG_PATH, 0, F(model),
     .help = "Hugging Face GPT-2 folder (config.json, model.safetensors,\n"
             "vocab.json + merges.txt); default: the bundled model"},
    {"--prompt", "TEXT", CLI_ARG_STRING, 0, F(prompt),
     .help = "text to continue (default: empty = start of text)"},
    {"--prompt-file", "F", CLI_ARG_PATH, 0, F(prompt_file),
     .help = "read the prompt (any bytes, NUL included) from a regular\n"
             "file, or from standard input if F is -"},
    {"--prompts-file", "F", CLI_ARG_PATH, 0, F(prompts_file),
     .help = "many prompts at once (offline batch): one per line, or a JSON\n"
             "object per line ({\"prompt\": ..., \"max_tokens\", \"temperature\",\n"
             "\"top_k\", \"top_p\", \"seed\"}); prints one JSON line per prompt\n"
             "({\"index\", \"line\", \"text\", \"ids\", \"finish_reason\", ...}),\n"
             "each as a generate of that prompt alone would give"},
    {"--slots", "N", CLI_ARG_INT, 0, F(slots), .imin = 1, .imax = 4096,
     .help = "with --prompts-file: prompts decoded together (default 8)"},
    {"--max-file-mb", "N", CLI_ARG_CUSTOM, 0, F(max_file), .custom = &cli_max_file_arg,
     .help = "refuse a prompt file or input larger than N MB\n"
             "(default " CLI_STR(CLI_MAX_FILE_MB) ")"},
    {"--tokens", "N", CLI_ARG_INT, 0, F(tokens), .imin = 1, .imax = INT32_MAX,
     .help = "tokens to generate, >= 1 (default 200)"},
    /* The sampler works in float: what float cannot hold is refused here. */
    {"--temperature", "T", CLI_ARG_DOUBLE, CLI_FLOAT, F(temperature), .dmin = 0, .dmax = FLT_MAX,
     .help = "0 = greedy; higher is more random, up to 3.4e38\n(default 1.0)"},
    {"--top-k", "K", CLI_ARG_INT, 0, F(top_k), .imin = 0, .imax = INT32_MAX,
     .help = "sample from the K most likely tokens; 0 = off (default 40)"},
    {"--top-p", "P", CLI_ARG_DOUBLE, CLI_MIN_OPEN | CLI_FLOAT, F(top_p), .dmin = 0, .dmax = 1,
     .help = "nucleus sampling mass in (0, 1]; 1 = off (default 1)"},
    {"--seed", "S", CLI_ARG_INT, 0, F(seed), .imin = 0, .imax = INT64_MAX,
     .help = "random seed (default: from the clock)"},
    {"--prefill-chunk", "N", CLI_ARG_INT, 0, F(prefill_chunk), .imin = 1, .imax = INT32_MAX,
     .help = "prompt tokens per step (default 256); tril serve with the\n"
             "same chunk gives the same tokens"},
    {"--ids", NULL, CLI_ARG_FLAG, 0, F(ids),
     .help = "print only the generated token ids, space-separated"},
    {"--dtype", "fp32|bf16|int8", CLI_ARG_CUSTOM, 0, F(dtype), .custom = &cli_weight_dtype_arg,
     .help = "weights: bf16 rounds them and halves what each\n"
             "decoding step reads (default fp32)"},
    {"--kv-dtype", "auto|fp32|bf16", CLI_ARG_CUSTOM, 0, F(kv_dtype), .custom = &cli_kv_dtype_arg,
     .help = CLI_KV_DTYPE_HELP},
    {"--threads", "N", CLI_ARG_CUSTOM, 0, F(threads), .custom = &cli_threads_arg,
     .help = "compute threads (default: $TRIL_NUM_THREADS, else all cores)"},
};
#undef F

const cli_spec cmd_generate_spec = {
    CMD,
    "usage: tril generate [--model DIR] [--prompt TEXT | --prompt-file F] [options]\n\n"
    "Continues the prompt with the model and prints the continuation as it is\n"
    "generated. The prompt is run through the model in chunks (prefill); each\n"
    "new token then attends to the KV cache, so nothing is recomputed. It runs\n"
    "on the engine of tril serve: the same tokens as a request there.\n",
    "Generation stops at <|endoftext|>, after N tokens, or when the context\n"
    "(n_positions) is full; only the last is reported (on stderr).\n",
    CLI_OPTS(options),
};

typedef struct {
    const tril_tokenizer *tok;
    int ids_only;
    int64_t printed;
} stream;

static int on_token(int32_t id, void *user)
{
    stream *s = user;
    if (s->ids_only) {
        printf(s->printed ? " %d" : "%d", id);
    } else {
        const char *bytes;
        size_t len;
        if (tril_tokenizer_token_bytes(s->tok, id, &bytes, &len) == TRIL_OK)
            fwrite(bytes, 1, len, stdout);
    }
    s->printed++;
    /* A failed write (full disk, a reader gone with SIGPIPE ignored) stops
     * the generation at once; main reports it. */
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
    cli_stdout_error(errno);
    return 1;
}

int cmd_generate(int argc, char **argv)
{
    generate_opts o = {.max_file = (size_t)CLI_MAX_FILE_MB << 20, .tokens = 200, .top_k = 40,
                       .seed = -1, .temperature = 1.0, .top_p = 1.0, .dtype = TRIL_F32};
    int rc = cli_parse(&cmd_generate_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    const char *prompt = o.prompt;
    if ((prompt != NULL) + (o.prompt_file != NULL) + (o.prompts_file != NULL) > 1) {
        fprintf(stderr, "tril generate: give one of --prompt, --prompt-file and --prompts-file "
                        "(not both)\n");
        return CLI_USAGE;
    }
    if (o.slots && !o.prompts_file) {
        fprintf(stderr, "tril generate: --slots goes with --prompts-file\n");
        return CLI_USAGE;
    }
    char *prompt_buf = NULL; /* read before loading the model: a bad file fails fast */
    size_t prompt_len = prompt ? strlen(prompt) : 0;
    if (o.prompt_file || o.prompts_file) {
        int read_rc = cli_read_text(CMD, o.prompt_file ? o.prompt_file : o.prompts_file, o.max_file,
                                    &prompt_buf, &prompt_len);
        if (read_rc != CLI_OK) return read_rc;
        prompt = prompt_buf;
    }
    if (!prompt) prompt = "";
    tril_gpt2 *model;
    tril_tokenizer *tok;
    rc = cli_load_model_as(CMD, o.model, o.dtype, o.kv_dtype, &model, &tok);
    if (rc != CLI_OK) {
        free(prompt_buf);
        return rc;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    tril_sampler_config sc = tril_sampler_config_default();
    sc.temperature = (float)o.temperature;
    sc.top_k = o.top_k;
    sc.top_p = (float)o.top_p;
    sc.seed = o.seed >= 0 ? (uint64_t)o.seed : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    if (o.prompts_file) {
        const cli_batch_opts bo = {sc, o.tokens, o.slots ? o.slots : 8, o.prefill_chunk};
        rc = cli_generate_batch(CMD, model, tok, prompt_buf, prompt_len, &bo);
        goto done;
    }
    if (tril_tokenizer_encode(tok, prompt, prompt_len, &ids, &n) != TRIL_OK) {
        rc = cli_lib_error(CMD, "cannot tokenize the prompt");
        goto done;
    }
    if (n == 0) { /* nothing to condition on: start from <|endoftext|> or a newline */
        free(ids);
        ids = malloc(sizeof *ids);
        if (!ids) { rc = CLI_FAIL; goto done; }
        int32_t eot = tril_tokenizer_eot(tok);
        ids[0] = eot >= 0 ? eot : '\n';
        n = 1;
    }
    stream s = {tok, o.ids, 0};
    int64_t produced = 0;
    tril_stop_reason why;
    if (tril_gpt2_generate_chunked(model, ids, (int64_t)n, o.tokens, &sc, tril_tokenizer_eot(tok),
                                   o.prefill_chunk, on_token, &s, &produced, &why) != TRIL_OK) {
        if (s.printed) printf("\n");
        rc = cli_lib_error(CMD, "generation failed");
        goto done;
    }
    if (why == TRIL_STOP_CALLBACK) goto done; /* stdout failed: main says so */
    printf("\n");
    if (why == TRIL_STOP_CONTEXT_FULL)
        fprintf(stderr, "tril generate: stopped after %lld tokens: the context (%lld) is full\n",
                (long long)produced, (long long)tril_gpt2_get_config(model)->n_positions);
done:
    free(ids);
    free(prompt_buf);
    tril_tokenizer_free(tok);
    tril_gpt2_free(model);
    return rc;
}

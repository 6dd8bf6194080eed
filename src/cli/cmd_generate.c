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

void cmd_generate_help(void)
{
    printf("usage: tril generate [--model DIR] [--prompt TEXT | --prompt-file F] [options]\n\n"
           "Continues the prompt with the model and prints the continuation as it is\n"
           "generated. The prompt is run through the model once (prefill); each new\n"
           "token then attends to the KV cache, so nothing is recomputed.\n\n"
           "  --model DIR        Hugging Face GPT-2 folder (config.json, model.safetensors,\n"
           "                     vocab.json + merges.txt); default: the bundled model\n"
           "  --prompt TEXT      text to continue (default: empty = start of text)\n"
           "  --prompt-file F    read the prompt (any bytes, NUL included) from a regular\n"
           "                     file, or from standard input if F is -\n"
           "  --max-file-mb N    refuse a prompt file or input larger than N MB\n"
           "                     (default %d)\n"
           "  --tokens N         tokens to generate, >= 1 (default 200)\n"
           "  --temperature T    0 = greedy; higher is more random, up to 3.4e38\n"
           "                     (default 1.0)\n"
           "  --top-k K          sample from the K most likely tokens; 0 = off (default 40)\n"
           "  --top-p P          nucleus sampling mass in (0, 1]; 1 = off (default 1)\n"
           "  --seed S           random seed (default: from the clock)\n"
           "  --ids              print only the generated token ids, space-separated\n"
           "  --dtype fp32|bf16  weights: bf16 rounds them and halves what each\n"
           "                     decoding step reads (default fp32)\n"
           "  --threads N        compute threads (default: $TRIL_NUM_THREADS, else all cores)\n\n"
           "Generation stops at <|endoftext|>, after N tokens, or when the context\n"
           "(n_positions) is full; only the last is reported (on stderr).\n",
           CLI_MAX_FILE_MB);
}

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
    const char *model_dir = NULL, *prompt = NULL, *prompt_file = NULL, *val;
    size_t max_file = (size_t)CLI_MAX_FILE_MB << 20;
    int64_t tokens = 200, top_k = 40, seed = -1;
    double temperature = 1.0, top_p = 1.0;
    int ids_only = 0;
    tril_dtype dtype = TRIL_F32;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--ids") == 0) {
            ids_only = 1;
            continue;
        }
        if (strcmp(arg, "--model") && strcmp(arg, "--prompt") && strcmp(arg, "--tokens") &&
            strcmp(arg, "--temperature") && strcmp(arg, "--top-k") && strcmp(arg, "--top-p") &&
            strcmp(arg, "--seed") && strcmp(arg, "--dtype") && strcmp(arg, "--threads") &&
            strcmp(arg, "--prompt-file") && strcmp(arg, "--max-file-mb"))
            return cli_unknown(CMD, arg);
        if (!(val = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        if (!strcmp(arg, "--model")) model_dir = val;
        else if (!strcmp(arg, "--threads")) { if (cli_parse_threads(CMD, val)) return CLI_USAGE; }
        else if (!strcmp(arg, "--prompt")) prompt = val;
        else if (!strcmp(arg, "--prompt-file")) prompt_file = val;
        else if (!strcmp(arg, "--max-file-mb")) { if (cli_parse_max_file(CMD, val, &max_file)) return CLI_USAGE; }
        else if (!strcmp(arg, "--dtype")) { if (cli_parse_weight_dtype(CMD, val, &dtype)) return CLI_USAGE; }
        else if (!strcmp(arg, "--tokens")) { if (cli_parse_i64(CMD, arg, val, 1, INT32_MAX, &tokens)) return CLI_USAGE; }
        else if (!strcmp(arg, "--top-k")) { if (cli_parse_i64(CMD, arg, val, 0, INT32_MAX, &top_k)) return CLI_USAGE; }
        else if (!strcmp(arg, "--seed")) { if (cli_parse_i64(CMD, arg, val, 0, INT64_MAX, &seed)) return CLI_USAGE; }
        else if (!strcmp(arg, "--temperature")) {
            if (cli_parse_f64(CMD, arg, val, &temperature)) return CLI_USAGE;
            /* The sampler works in float: refuse here, not at run time, what
             * float cannot hold. */
            if (!(temperature >= 0.0 && temperature <= FLT_MAX)) {
                fprintf(stderr, "tril generate: --temperature must be in [0, %g], got '%s'\n",
                        (double)FLT_MAX, val);
                return CLI_USAGE;
            }
        } else {
            if (cli_parse_f64(CMD, arg, val, &top_p)) return CLI_USAGE;
            if (!(top_p > 0.0 && top_p <= 1.0 && (float)top_p > 0.0f)) {
                fprintf(stderr, "tril generate: --top-p must be in (0, 1], got '%s'\n", val);
                return CLI_USAGE;
            }
        }
    }
    if (prompt && prompt_file) {
        fprintf(stderr, "tril generate: give --prompt or --prompt-file, not both\n");
        return CLI_USAGE;
    }
    char *prompt_buf = NULL; /* read before loading the model: a bad file fails fast */
    size_t prompt_len = prompt ? strlen(prompt) : 0;
    if (prompt_file) {
        int read_rc = cli_read_text(CMD, prompt_file, max_file, &prompt_buf, &prompt_len);
        if (read_rc != CLI_OK) return read_rc;
        prompt = prompt_buf;
    }
    if (!prompt) prompt = "";
    tril_gpt2 *model;
    tril_tokenizer *tok;
    int rc = cli_load_model_as(CMD, model_dir, dtype, &model, &tok);
    if (rc != CLI_OK) {
        free(prompt_buf);
        return rc;
    }
    int32_t *ids = NULL;
    size_t n = 0;
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
    tril_sampler_config sc = tril_sampler_config_default();
    sc.temperature = (float)temperature;
    sc.top_k = top_k;
    sc.top_p = (float)top_p;
    sc.seed = seed >= 0 ? (uint64_t)seed : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    stream s = {tok, ids_only, 0};
    int64_t produced = 0;
    tril_stop_reason why;
    if (tril_gpt2_generate(model, ids, (int64_t)n, tokens, &sc, tril_tokenizer_eot(tok), on_token,
                           &s, &produced, &why) != TRIL_OK) {
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

/* tril tokenize / detokenize: text <-> token ids with a model's tokenizer. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tril/file.h"

typedef struct {
    const char *model, *text, *file;
    size_t max_file;
} tokenize_opts;

static const cli_opt tokenize_options[] = {
    {"--model", "DIR", CLI_ARG_PATH, 0, CLI_FIELD(tokenize_opts, model),
     .help = "folder with vocab.json + merges.txt or tokenizer.json\n"
             "(default: the bundled model)"},
    {"--text", "TEXT", CLI_ARG_STRING, 0, CLI_FIELD(tokenize_opts, text), .help = "the text"},
    {"--file", "F", CLI_ARG_PATH, 0, CLI_FIELD(tokenize_opts, file),
     .help = "read the text (any bytes) from a regular file, or from\n"
             "standard input if F is -"},
    {"--max-file-mb", "N", CLI_ARG_CUSTOM, 0, CLI_FIELD(tokenize_opts, max_file),
     .custom = &cli_max_file_arg,
     .help = "refuse a file or input larger than N MB (default " CLI_STR(CLI_MAX_FILE_MB) ")"},
};

const cli_spec cmd_tokenize_spec = {
    "tokenize",
    "usage: tril tokenize [--model DIR] (--text TEXT | --file F)\n\n"
    "Prints the token ids of the text, space-separated, on one line.\n",
    NULL,
    CLI_OPTS(tokenize_options),
};

typedef struct {
    const char *model;
    size_t max_file;
    cli_i64_list ids;
} detokenize_opts;

static const cli_opt detokenize_options[] = {
    {"ID", NULL, CLI_ARG_INT, CLI_POSITIONAL | CLI_REPEAT, CLI_FIELD(detokenize_opts, ids),
     .imin = INT32_MIN, .imax = INT32_MAX, .help = "token ids (none: read them from standard input)"},
    {"--model", "DIR", CLI_ARG_PATH, 0, CLI_FIELD(detokenize_opts, model),
     .help = "folder with the tokenizer (default: the bundled model)"},
    {"--max-file-mb", "N", CLI_ARG_CUSTOM, 0, CLI_FIELD(detokenize_opts, max_file),
     .custom = &cli_max_file_arg,
     .help = "refuse more than N MB of standard input (default " CLI_STR(CLI_MAX_FILE_MB) ")"},
};

const cli_spec cmd_detokenize_spec = {
    "detokenize",
    "usage: tril detokenize [--model DIR] [ID...]\n\n"
    "Prints exactly the bytes the token ids stand for, with no newline added\n"
    "(so 'tril detokenize $(tril tokenize --file F)' reproduces F).\n"
    "With no ID arguments the ids are read from standard input, separated by\n"
    "spaces or newlines (what tril tokenize prints).\n",
    NULL,
    CLI_OPTS(detokenize_options),
};

/* The tokenizer alone: no need to load (or even have) the weights. */
static int load_tokenizer(const char *cmd, const char *model_arg, tril_tokenizer **tok)
{
    char dir[PATH_MAX], config[PATH_MAX + 16];
    if (cli_model_dir(model_arg, dir, sizeof dir) != TRIL_OK) return cli_lib_error(cmd, "no model");
    if (tril_check_dir(dir, "model folder") != TRIL_OK) return cli_lib_error(cmd, "no model");
    tril_gpt2_config cfg;
    snprintf(config, sizeof config, "%s/config.json", dir);
    int64_t vocab = -1;
    if (access(config, F_OK) == 0) { /* not opened here: a FIFO would block */
        if (tril_gpt2_config_load(config, &cfg) != TRIL_OK) return cli_lib_error(cmd, "bad config");
        vocab = cfg.vocab_size;
    }
    return cli_load_tokenizer(cmd, dir, vocab, tok);
}

int cmd_tokenize(int argc, char **argv)
{
    tokenize_opts o = {.max_file = (size_t)CLI_MAX_FILE_MB << 20};
    int rc = cli_parse(&cmd_tokenize_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    const char *text = o.text, *file = o.file;
    if (!text == !file) {
        fprintf(stderr, "tril tokenize: give exactly one of --text or --file\n");
        return CLI_USAGE;
    }
    char *buf = NULL;
    size_t len = 0;
    if (file) {
        if ((rc = cli_read_text("tokenize", file, o.max_file, &buf, &len)) != CLI_OK) return rc;
    } else {
        len = strlen(text);
    }
    tril_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    if ((rc = load_tokenizer("tokenize", o.model, &tok)) == CLI_OK) {
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

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* The ids in text (what tokenize prints: integers separated by white
 * space). Prints the error and returns CLI_FAIL on a word that is not one. */
static int parse_ids(const char *text, size_t len, int32_t **ids, size_t *n)
{
    size_t words = 0;
    for (size_t i = 0; i < len; i++) words += !is_space(text[i]) && (i == 0 || is_space(text[i - 1]));
    *ids = malloc((words ? words : 1) * sizeof **ids);
    *n = 0;
    if (!*ids) {
        fprintf(stderr, "tril detokenize: out of memory for %zu ids\n", words);
        return CLI_FAIL;
    }
    for (size_t i = 0; i < len;) {
        if (is_space(text[i])) {
            i++;
            continue;
        }
        size_t end = i;
        while (end < len && !is_space(text[end])) end++;
        char word[24];
        char *stop = NULL;
        long long v = 0;
        if (end - i < sizeof word) {
            memcpy(word, text + i, end - i);
            word[end - i] = '\0';
            errno = 0;
            v = strtoll(word, &stop, 10);
        }
        if (!stop || *stop || stop == word || errno || v < INT32_MIN || v > INT32_MAX) {
            fprintf(stderr, "tril detokenize: standard input: word %zu ('%.*s') is not a token id\n",
                    *n + 1, (int)(end - i < 32 ? end - i : 32), text + i);
            return CLI_FAIL;
        }
        (*ids)[(*n)++] = (int32_t)v;
        i = end;
    }
    return CLI_OK;
}

int cmd_detokenize(int argc, char **argv)
{
    detokenize_opts o = {.max_file = (size_t)CLI_MAX_FILE_MB << 20};
    int rc = cli_parse(&cmd_detokenize_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    int32_t *ids = NULL;
    size_t n = o.ids.n;
    if (n > 0) {
        ids = malloc(n * sizeof *ids);
        if (!ids) {
            cli_args_free(&cmd_detokenize_spec, &o);
            fprintf(stderr, "tril detokenize: out of memory for %zu ids\n", n);
            return CLI_FAIL;
        }
        for (size_t i = 0; i < n; i++) ids[i] = (int32_t)o.ids.v[i]; /* in range: parsed so */
    }
    cli_args_free(&cmd_detokenize_spec, &o);
    if (n == 0) { /* no ID arguments: the ids come on standard input */
        char *in = NULL;
        size_t len = 0;
        rc = cli_read_text("detokenize", "-", o.max_file, &in, &len);
        if (rc == CLI_OK) rc = parse_ids(in, len, &ids, &n);
        free(in);
        if (rc != CLI_OK) {
            free(ids);
            return rc;
        }
    }
    tril_tokenizer *tok = NULL;
    rc = load_tokenizer("detokenize", o.model, &tok);
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

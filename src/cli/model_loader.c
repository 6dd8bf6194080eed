/* Loading what a --model folder holds, for the subcommands: the model and
 * the tokenizer that goes with it. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tril/file.h"

int cli_load_tokenizer(const char *cmd, const char *dir, int64_t model_vocab, tril_tokenizer **tok)
{
    char vocab[PATH_MAX], tj[PATH_MAX];
    snprintf(vocab, sizeof vocab, "%s/vocab.json", dir);
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    /* Whether anything is there, without opening it (a FIFO would block):
     * load_dir says what is wrong with what it finds. */
    const int has_files = access(vocab, F_OK) == 0 || access(tj, F_OK) == 0;
    tril_status st;
    if (has_files) {
        st = tril_tokenizer_load_dir(dir, tok);
    } else if (model_vocab == 256) {
        /* A byte-level model (tril train --tokenizer bytes) needs no files. */
        st = tril_tokenizer_create_bytes(tok);
    } else {
        fprintf(stderr, "tril %s: no tokenizer in '%s' (vocab.json + merges.txt or tokenizer.json)\n",
                cmd, dir);
        return CLI_FAIL;
    }
    if (st != TRIL_OK) return cli_lib_error(cmd, "cannot load the tokenizer");
    if (model_vocab > 0 && tril_tokenizer_vocab_size(*tok) > model_vocab) {
        fprintf(stderr, "tril %s: the tokenizer has %lld tokens but the model only %lld\n", cmd,
                (long long)tril_tokenizer_vocab_size(*tok), (long long)model_vocab);
        tril_tokenizer_free(*tok);
        *tok = NULL;
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cli_load_model(const char *cmd, const char *model_arg, tril_gpt2 **model, tril_tokenizer **tok)
{
    return cli_load_model_as(cmd, model_arg, TRIL_F32, CLI_KV_AUTO, model, tok);
}

int cli_parse_weight_dtype(const char *cmd, const char *text, tril_dtype *out)
{
    if (tril_dtype_parse(text, out) != 0 || *out == TRIL_F16) {
        fprintf(stderr, "tril %s: --dtype expects fp32, bf16 or int8, got '%s'\n", cmd, text);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_load_model_as(const char *cmd, const char *model_arg, tril_dtype dtype, int kv,
                      tril_gpt2 **model, tril_tokenizer **tok)
{
    char dir[PATH_MAX];
    *model = NULL;
    if (tok) *tok = NULL;
    if (cli_model_dir(model_arg, dir, sizeof dir) != TRIL_OK)
        return cli_lib_error(cmd, "no model");
    tril_gpt2_load_opts opts = {.weight_dtype = dtype, .amx = 1};
    if (tril_gpt2_load(dir, &opts, model) != TRIL_OK) return cli_lib_error(cmd, "cannot load the model");
    if (tril_gpt2_set_kv_dtype(*model, cli_kv_dtype(kv, dtype)) != TRIL_OK) { /* fp32 or bf16: cannot fail */
        tril_gpt2_free(*model);
        *model = NULL;
        return cli_lib_error(cmd, "cannot set the KV cache's dtype");
    }
    if (tok) {
        int rc = cli_load_tokenizer(cmd, dir, tril_gpt2_get_config(*model)->vocab_size, tok);
        if (rc != CLI_OK) {
            tril_gpt2_free(*model);
            *model = NULL;
            return rc;
        }
    }
    return CLI_OK;
}

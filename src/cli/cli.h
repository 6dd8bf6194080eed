/* Shared pieces of the command-line program: the subcommand table and strict
 * argument parsing. Only the CLI prints; the library returns status codes. */
#ifndef TRIL_CLI_H
#define TRIL_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "tril/gpt2.h"
#include "tril/tokenizer.h"

/* Exit codes: 0 success, 1 runtime failure, 2 bad usage. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    void (*help)(void);
} cli_command;

/* Every subcommand (src/cli/cmd_*.c). */
int cmd_mask(int argc, char **argv);
void cmd_mask_help(void);
int cmd_bench(int argc, char **argv);
void cmd_bench_help(void);
int cmd_generate(int argc, char **argv);
void cmd_generate_help(void);
int cmd_eval(int argc, char **argv);
void cmd_eval_help(void);
int cmd_tokenize(int argc, char **argv);
void cmd_tokenize_help(void);
int cmd_detokenize(int argc, char **argv);
void cmd_detokenize_help(void);
int cmd_info(int argc, char **argv);
void cmd_info_help(void);
int cmd_attention(int argc, char **argv);
void cmd_attention_help(void);
int cmd_train(int argc, char **argv);
void cmd_train_help(void);
int cmd_plot(int argc, char **argv);
void cmd_plot_help(void);
int cmd_leakcheck(int argc, char **argv);
void cmd_leakcheck_help(void);

/* Before any command: puts the OpenMP/OpenBLAS settings this machine needs
 * in place (re-executing the program once if they were missing) and applies
 * TRIL_NUM_THREADS. Returns CLI_OK or the exit code of a bad setting. */
int cli_prepare_process(char **argv);
/* Prints the kernels, threads and runtime settings in use (tril version). */
void cli_print_runtime(void);

/* Strict number parsing: the whole string must be a number in range. On
 * failure they print "tril CMD: OPTION expects ..." to stderr and return -1. */
int cli_parse_i64(const char *cmd, const char *opt, const char *text, int64_t min, int64_t max,
                  int64_t *out);
int cli_parse_f64(const char *cmd, const char *opt, const char *text, double *out);

/* Fetches the value of option argv[*i] (advancing *i), or prints that it is
 * missing and returns NULL. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);

/* Prints "tril CMD: unknown option 'X' (see 'tril CMD --help')" and returns
 * CLI_USAGE. */
int cli_unknown(const char *cmd, const char *arg);

/* Parses and applies --threads N (1..1024); prints the error and returns -1
 * on a bad value. */
int cli_parse_threads(const char *cmd, const char *text);

/* Records the errno of a failed write to stdout, for a command that notices
 * it early (streaming generate) and stops: main reports every stdout failure
 * once, when the command returns (src/cli/main.c). */
void cli_stdout_error(int err);

/* 1 if arg is -h or --help. */
int cli_is_help(const char *arg);

/* Prints "tril CMD: <message>" plus the library's last error; returns CLI_FAIL. */
int cli_lib_error(const char *cmd, const char *what);

/* Loads the model of a --model argument (NULL: the bundled default) and, if
 * tok is not NULL, its tokenizer. Prints the error and returns non-zero on
 * failure. */
int cli_load_model(const char *cmd, const char *model_arg, tril_gpt2 **model, tril_tokenizer **tok);
/* The same with the weights as fp32 or bf16 (--dtype). */
int cli_load_model_as(const char *cmd, const char *model_arg, tril_dtype dtype, tril_gpt2 **model,
                      tril_tokenizer **tok);
/* Parses --dtype: fp32 or bf16 (prints the error and returns CLI_USAGE). */
int cli_parse_weight_dtype(const char *cmd, const char *text, tril_dtype *out);
/* The tokenizer in a model folder: vocab.json + merges.txt or tokenizer.json,
 * or bytes for a 256-token model without tokenizer files. */
int cli_load_tokenizer(const char *cmd, const char *dir, int64_t model_vocab, tril_tokenizer **tok);

/* The folder of a --model argument: the argument itself, or (NULL) the
 * bundled default model, searched in $TRIL_DATA_DIR, the source tree, then
 * the install prefix (src/cli/data_dirs.c). */
tril_status cli_model_dir(const char *arg, char *buf, size_t size);
/* The bundled GPT-2 tokenizer folder (vocab.json + merges.txt) for
 * `train --tokenizer gpt2`, searched in the same places under gpt2/. */
tril_status cli_gpt2_tokenizer_dir(char *buf, size_t size);

/* Input files (src/cli/input.c). Each is read whole, so its size is capped:
 * CLI_MAX_FILE_MB by default, --max-file-mb N on the commands that read one. */
#define CLI_MAX_FILE_MB 1024
/* Parses --max-file-mb N into bytes (prints the error and returns -1). */
int cli_parse_max_file(const char *cmd, const char *text, size_t *bytes);
/* Reads a whole input (any bytes, NUL-terminated): a regular file, or
 * standard input for "-". A directory, FIFO or device is refused at once
 * (never waited on), and so is more than `limit` bytes, with a message. */
int cli_read_text(const char *cmd, const char *path, size_t limit, char **text, size_t *len);
/* Prints the library's message for a failed input read, with the hint about
 * --max-file-mb when the input was too large; returns CLI_FAIL. */
int cli_input_error(const char *cmd, tril_status status);

#endif

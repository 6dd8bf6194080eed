/* Shared pieces of the command-line program: the subcommand table and strict
 * argument parsing. Only the CLI prints; the library returns status codes. */
#ifndef TRIL_CLI_H
#define TRIL_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "tril/generate.h"
#include "tril/gpt2.h"
#include "tril/tokenizer.h"

/* Exit codes: 0 success, 1 runtime failure, 2 bad usage. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* ---- Options: one table per command, one parser (src/cli/args.c) -------
 * A command lists its options in a table of cli_opt. cli_parse reads argv
 * into the command's options struct (each entry names its field by offset)
 * and refuses, with "tril CMD: ..." on stderr and CLI_USAGE, an unknown
 * option, a missing or bad value, a repeated option that may not repeat and
 * a missing required one. --help prints its option list from the same
 * table, so the two cannot drift apart; `tril --dump-options` prints every
 * table for the tests (tests/cli/test_args.sh). */

typedef enum {
    CLI_ARG_FLAG,   /* no value: the int field becomes 1 */
    CLI_ARG_STRING, /* const char *: any text, empty included */
    CLI_ARG_PATH,   /* const char *: a file or folder name, not empty */
    CLI_ARG_INT,    /* int64_t in [imin, imax] */
    CLI_ARG_DOUBLE, /* double in [dmin, dmax] (see CLI_MIN_OPEN...), never NaN;
                       dmax = DBL_MAX means any finite number */
    CLI_ARG_CHOICE, /* int: the index of the value in choices */
    CLI_ARG_CUSTOM, /* parsed by custom->parse */
} cli_arg_type;

enum {
    CLI_REQUIRED = 1 << 0,   /* must be given */
    CLI_REPEAT = 1 << 1,     /* may repeat, every value kept: the field is a
                                cli_i64_list (INT) or cli_str_list (STRING,
                                PATH). Without it a second one is an error. */
    CLI_POSITIONAL = 1 << 2, /* an argument without a name; name is what help
                                and messages call it ("N") */
    CLI_MIN_OPEN = 1 << 3,   /* DOUBLE: dmin itself is out of range */
    CLI_MAX_OPEN = 1 << 4,   /* DOUBLE: dmax itself is out of range */
    CLI_FLOAT = 1 << 5,      /* DOUBLE used as a float: the range must hold
                                after rounding to float too (1e-50 is 0) */
};

/* A value type of its own (threads, a dtype, a kernel name). */
typedef struct {
    const char *kind;   /* what it is, in the table dump */
    size_t size;        /* the size of the field it fills */
    const char *sample; /* a valid value, for the tests */
    /* 0, or -1 after printing "tril CMD: OPT ..." */
    int (*parse)(const char *cmd, const char *opt, const char *text, void *field);
} cli_custom;

typedef struct {
    const char *name;    /* "--tokens", or a positional's name ("N") */
    const char *metavar; /* the value in help ("N", "DIR"); NULL for a flag,
                            or a choice (shown as its values) */
    cli_arg_type type;
    unsigned flags;      /* CLI_REQUIRED | ... */
    size_t offset, size; /* the field in the options struct: CLI_FIELD */
    int64_t imin, imax;  /* INT */
    double dmin, dmax;   /* DOUBLE */
    const char *const *choices; /* CHOICE: NULL-terminated */
    const cli_custom *custom;   /* CUSTOM */
    const char *section; /* help: a heading printed before this option */
    const char *help;    /* help: lines separated by '\n' */
} cli_opt;

typedef struct {
    const char *name;   /* in messages: "generate", "bench attention" */
    const char *usage;  /* help before the options: usage lines, what it does */
    const char *footer; /* help after the options, or NULL */
    const cli_opt *opts;
    size_t n_opts;
} cli_spec;

/* A table holds at most this many options. */
#define CLI_MAX_OPTS 48
#define CLI_FIELD(type, field) .offset = offsetof(type, field), .size = sizeof(((type *)0)->field)
#define CLI_OPTS(table) .opts = (table), .n_opts = sizeof(table) / sizeof((table)[0])
#define CLI_STR_(x) #x
#define CLI_STR(x) CLI_STR_(x)

typedef struct {
    int64_t *v;
    size_t n;
} cli_i64_list;
typedef struct {
    const char **v;
    size_t n;
} cli_str_list;

/* Parses argv[1..argc-1] (argv[0] is the command) into out, whose fields
 * hold the defaults and whose lists are empty. given, if not NULL, receives
 * how often each option of the table was given. Returns CLI_OK, or
 * CLI_USAGE after printing why (out's lists are then freed). */
int cli_parse(const cli_spec *spec, int argc, char **argv, void *out, int *given);
/* The value option o holds in opts (a struct cli_parse filled) as text:
 * numbers in full precision, a choice by name, a custom field's bytes in
 * hex, a list's values space separated; equal values give equal text. */
void cli_option_value(const cli_opt *o, const void *opts, char *buf, size_t size);
/* Frees the cli_*_list fields of out. */
void cli_args_free(const cli_spec *spec, void *out);
/* The whole help: usage, options, footer. */
void cli_print_help(const cli_spec *spec);
/* The option list alone, one entry (and its help lines) per option. */
void cli_print_options(const cli_spec *spec);
/* Prints a table as tab-separated lines for the tests: command, spec,
 * option, type, flags, lower bound or choices, upper bound, a valid value.
 * Checks it too (names, field sizes, ranges, help): prints what is wrong
 * on stderr and returns the number of problems. */
int cli_dump_spec(const char *command, const cli_spec *spec);

/* The value types every command shares. */
extern const cli_custom cli_threads_arg;      /* int: 1..1024, applied at once */
extern const cli_custom cli_max_file_arg;     /* size_t bytes from N MB */
extern const cli_custom cli_weight_dtype_arg; /* tril_dtype: fp32 or bf16 */
/* --kv-dtype auto|fp32|bf16 (an int): auto is bf16 for bf16 and int8
 * weights, fp32 for fp32 ones */
enum { CLI_KV_AUTO = 0, CLI_KV_FP32, CLI_KV_BF16 };
extern const cli_custom cli_kv_dtype_arg;
#define CLI_KV_DTYPE_HELP                                                                  \
    "KV cache: auto (default: bf16 with bf16 or int8 weights,\n"                           \
    "fp32 with fp32 ones), fp32, or bf16 (halves what decoding reads\n"                    \
    "of the cache and its memory)"
/* The KV cache dtype for weights `weights` and a --kv-dtype value. */
tril_dtype cli_kv_dtype(int kv, tril_dtype weights);

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    void (*help)(void);                /* NULL: cli_print_help(specs[0]) */
    const cli_spec *const *specs;      /* its option tables, NULL-terminated */
} cli_command;

/* Every subcommand (src/cli/cmd_*.c) and its option table(s). */
int cmd_mask(int argc, char **argv);
extern const cli_spec cmd_mask_spec;
int cmd_bench(int argc, char **argv);
void cmd_bench_help(void);
extern const cli_spec cmd_bench_forward_spec, cmd_bench_decode_spec, cmd_bench_train_spec,
    cmd_bench_attention_spec;
int cmd_generate(int argc, char **argv);
extern const cli_spec cmd_generate_spec;
int cmd_eval(int argc, char **argv);
extern const cli_spec cmd_eval_spec;
int cmd_tokenize(int argc, char **argv);
extern const cli_spec cmd_tokenize_spec;
int cmd_detokenize(int argc, char **argv);
extern const cli_spec cmd_detokenize_spec;
int cmd_info(int argc, char **argv);
extern const cli_spec cmd_info_spec;
int cmd_attention(int argc, char **argv);
extern const cli_spec cmd_attention_spec;
int cmd_train(int argc, char **argv);
extern const cli_spec cmd_train_spec;
int cmd_plot(int argc, char **argv);
extern const cli_spec cmd_plot_spec;
int cmd_leakcheck(int argc, char **argv);
extern const cli_spec cmd_leakcheck_spec;
int cmd_serve(int argc, char **argv);
extern const cli_spec cmd_serve_spec;

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
int cli_load_model_as(const char *cmd, const char *model_arg, tril_dtype dtype, int kv,
                      tril_gpt2 **model, tril_tokenizer **tok);
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

/* generate --prompts-file (src/cli/generate_batch.c): every prompt of the
 * file's text through one engine; prints one JSON object per prompt. */
typedef struct {
    tril_sampler_config sampling; /* the defaults a JSON line may override */
    int64_t tokens;
    int64_t slots;
    int64_t prefill_chunk; /* 0: the engine's default */
} cli_batch_opts;
int cli_generate_batch(const char *cmd, const tril_gpt2 *model, tril_tokenizer *tok,
                       const char *text, size_t len, const cli_batch_opts *opts);

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

/* tril: the command-line program. `tril help` lists the subcommands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef TRIL_VERSION
#define TRIL_VERSION "0.1.0"
#endif

/* A command's option tables, NULL-terminated. */
#define SPECS(...) ((const cli_spec *const[]){__VA_ARGS__, NULL})

static const cli_command commands[] = {
    {"generate", "continue a prompt with a GPT-2 model (KV cache, sampling)", cmd_generate, NULL, SPECS(&cmd_generate_spec)},
    {"serve", "an OpenAI-compatible HTTP server (continuous batching)", cmd_serve, NULL, SPECS(&cmd_serve_spec)},
    {"eval", "perplexity of a text file", cmd_eval, NULL, SPECS(&cmd_eval_spec)},
    {"tokenize", "text to GPT-2 token ids", cmd_tokenize, NULL, SPECS(&cmd_tokenize_spec)},
    {"detokenize", "token ids to text", cmd_detokenize, NULL, SPECS(&cmd_detokenize_spec)},
    {"info", "a model's config, parameter count and dtype", cmd_info, NULL, SPECS(&cmd_info_spec)},
    {"attention", "draw one head's attention over a prompt (PNG)", cmd_attention, NULL, SPECS(&cmd_attention_spec)},
    {"train", "train a model on a text file (AdamW, checkpoints, resume)", cmd_train, NULL, SPECS(&cmd_train_spec)},
    {"plot", "draw the loss curves of training logs (PNG)", cmd_plot, NULL, SPECS(&cmd_plot_spec)},
    {"leakcheck", "measure whether a model can see the future", cmd_leakcheck, NULL, SPECS(&cmd_leakcheck_spec)},
    {"mask", "print, draw or measure the causal mask (--numerics)", cmd_mask, NULL, SPECS(&cmd_mask_spec)},
    {"bench", "time a kernel against the machine's measured limit", cmd_bench, cmd_bench_help,
     SPECS(&cmd_bench_forward_spec, &cmd_bench_decode_spec, &cmd_bench_train_spec, &cmd_bench_attention_spec)},
};
static const size_t n_commands = sizeof commands / sizeof commands[0];

/* help and version parse their arguments like the others. */
typedef struct {
    const char *command;
} help_opts;
static const cli_opt help_options[] = {
    {"CMD", NULL, CLI_ARG_STRING, CLI_POSITIONAL, CLI_FIELD(help_opts, command),
     .help = "the command to explain (the same as 'tril CMD --help')"},
};
static const cli_spec help_spec = {"help", "usage: tril help [CMD]\n", NULL, CLI_OPTS(help_options)};
static const cli_spec version_spec = {
    "version",
    "usage: tril version\n\n"
    "Prints the version, the kernels and thread count in use and the OpenMP\n"
    "and OpenBLAS runtime settings.\n",
    NULL, NULL, 0};

static void usage(FILE *out)
{
    fprintf(out, "tril %s - causal (decoder-only) transformers in C\n\n", TRIL_VERSION);
    fprintf(out, "usage: tril <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < n_commands; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-12s %s\n", "help", "this list; 'tril help CMD' or 'tril CMD --help' explains CMD");
    fprintf(out, "  %-12s %s\n", "version", "print the version");
}

static const cli_command *find(const char *name)
{
    for (size_t i = 0; i < n_commands; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static void print_help(const cli_command *c)
{
    if (c->help) c->help();
    else cli_print_help(c->specs[0]);
}

static int has_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (cli_is_help(argv[i])) return 1;
    return 0;
}

/* tril help [CMD]; argv[0] is "help" (or --help, -h). */
static int run_help(int argc, char **argv)
{
    /* 'tril help --help' and 'tril help help' ask about help itself: the list. */
    if (has_help(argc, argv)) {
        usage(stdout);
        return CLI_OK;
    }
    help_opts o = {NULL};
    int rc = cli_parse(&help_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    if (!o.command || strcmp(o.command, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(o.command, "version") == 0) {
        cli_print_help(&version_spec);
        return CLI_OK;
    }
    const cli_command *c = find(o.command);
    if (!c) {
        fprintf(stderr, "tril help: unknown command '%s'\n", o.command);
        return CLI_USAGE;
    }
    print_help(c);
    return CLI_OK;
}

/* tril version; argv[0] is "version", process_argv the program's own. */
static int run_version(int argc, char **argv, char **process_argv)
{
    if (has_help(argc, argv)) {
        cli_print_help(&version_spec);
        return CLI_OK;
    }
    int rc = cli_parse(&version_spec, argc, argv, NULL, NULL);
    if (rc != CLI_OK) return rc;
    if ((rc = cli_prepare_process(process_argv)) != CLI_OK) return rc;
    printf("tril %s\n", TRIL_VERSION);
    cli_print_runtime();
    return CLI_OK;
}

/* tril --dump-options [CMD]: every option table (or CMD's), checked, one
 * option a line, for tests/cli/test_args.sh. Not in the help: it is for
 * the tests, not for users. */
static int dump_options(int argc, char **argv)
{
    int problems = 0, found = 0;
    for (size_t i = 0; i < n_commands; i++) {
        if (argc > 2 && strcmp(argv[2], commands[i].name) != 0) continue;
        found = 1;
        for (const cli_spec *const *s = commands[i].specs; *s; s++)
            problems += cli_dump_spec(commands[i].name, *s);
    }
    if (argc <= 2 || strcmp(argv[2], "help") == 0) {
        found = 1;
        problems += cli_dump_spec("help", &help_spec);
    }
    if (argc <= 2 || strcmp(argv[2], "version") == 0) {
        found = 1;
        problems += cli_dump_spec("version", &version_spec);
    }
    if (!found) {
        fprintf(stderr, "tril: unknown command '%s' (see 'tril help')\n", argv[2]);
        return CLI_USAGE;
    }
    return problems ? CLI_FAIL : CLI_OK;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || cli_is_help(name)) return run_help(argc - 1, argv + 1);
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0)
        return run_version(argc - 1, argv + 1, argv);
    if (strcmp(name, "--dump-options") == 0) return dump_options(argc, argv);
    const cli_command *c = find(name);
    if (!c) {
        fprintf(stderr, "tril: unknown command '%s' (see 'tril help')\n", name);
        return CLI_USAGE;
    }
    const int prepared = cli_prepare_process(argv);
    if (prepared != CLI_OK) return prepared;
    if (has_help(argc - 1, argv + 1)) {
        print_help(c);
        return CLI_OK;
    }
    return c->run(argc - 1, argv + 1);
}

static int stdout_errno; /* set by cli_stdout_error */

void cli_stdout_error(int err)
{
    if (!stdout_errno) stdout_errno = err;
}

/* Every command's output ends here, so that a full disk, a broken pipe (when
 * SIGPIPE is ignored) or an I/O error on stdout is an error and never a
 * silent success. Returns the exit code. */
static int close_stdout(int rc)
{
    errno = 0;
    int failed = fflush(stdout) != 0;
    int err = failed ? errno : stdout_errno;
    if (ferror(stdout)) failed = 1;
    errno = 0;
    /* EBADF with nothing left to write is a closed stdout (`>&-`) that was
     * never used: not an error. */
    if (fclose(stdout) != 0 && (failed || errno != EBADF)) {
        if (!failed) err = errno;
        failed = 1;
    }
    if (!failed) return rc;
    if (err)
        fprintf(stderr, "tril: error writing standard output: %s\n", strerror(err));
    else
        fprintf(stderr, "tril: error writing standard output\n");
    return rc != CLI_OK ? rc : CLI_FAIL;
}

int main(int argc, char **argv) { return close_stdout(dispatch(argc, argv)); }

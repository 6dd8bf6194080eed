/* tril: the command-line program. `tril help` lists the subcommands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef TRIL_VERSION
#define TRIL_VERSION "0.1.0"
#endif

static const cli_command commands[] = {
    {"generate", "continue a prompt with a GPT-2 model (KV cache, sampling)", cmd_generate, cmd_generate_help},
    {"eval", "perplexity of a text file", cmd_eval, cmd_eval_help},
    {"tokenize", "text to GPT-2 token ids", cmd_tokenize, cmd_tokenize_help},
    {"detokenize", "token ids to text", cmd_detokenize, cmd_detokenize_help},
    {"info", "a model's config, parameter count and dtype", cmd_info, cmd_info_help},
    {"attention", "draw one head's attention over a prompt (PNG)", cmd_attention, cmd_attention_help},
    {"train", "train a model on a text file (AdamW, checkpoints, resume)", cmd_train, cmd_train_help},
    {"plot", "draw the loss curves of training logs (PNG)", cmd_plot, cmd_plot_help},
    {"leakcheck", "measure whether a model can see the future", cmd_leakcheck, cmd_leakcheck_help},
    {"mask", "print, draw or measure the causal mask (--numerics)", cmd_mask, cmd_mask_help},
    {"bench", "time a kernel against the machine's measured limit", cmd_bench, cmd_bench_help},
};
static const size_t n_commands = sizeof commands / sizeof commands[0];

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

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || cli_is_help(name)) {
        /* 'tril help --help' and 'tril help help' ask about help itself: the list. */
        if (argc > 2 && strcmp(argv[2], "help") != 0 && !cli_is_help(argv[2])) {
            const cli_command *c = find(argv[2]);
            if (!c) {
                fprintf(stderr, "tril help: unknown command '%s'\n", argv[2]);
                return CLI_USAGE;
            }
            c->help();
            return CLI_OK;
        }
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        const int prepared = cli_prepare_process(argv);
        if (prepared != CLI_OK) return prepared;
        printf("tril %s\n", TRIL_VERSION);
        cli_print_runtime();
        return CLI_OK;
    }
    const cli_command *c = find(name);
    if (!c) {
        fprintf(stderr, "tril: unknown command '%s' (see 'tril help')\n", name);
        return CLI_USAGE;
    }
    const int prepared = cli_prepare_process(argv);
    if (prepared != CLI_OK) return prepared;
    for (int i = 2; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            c->help();
            return CLI_OK;
        }
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

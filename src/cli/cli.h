/* Shared pieces of the command-line program: the subcommand table and strict
 * argument parsing. Only the CLI prints; the library returns status codes. */
#ifndef TRIL_CLI_H
#define TRIL_CLI_H

#include <stdint.h>

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

/* 1 if arg is -h or --help. */
int cli_is_help(const char *arg);

/* Prints "tril CMD: <message>" plus the library's last error; returns CLI_FAIL. */
int cli_lib_error(const char *cmd, const char *what);

#endif

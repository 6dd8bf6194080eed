/* Strict option parsing shared by the subcommands. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tril/cpu.h"
#include "tril/error.h"

int cli_parse_i64(const char *cmd, const char *opt, const char *text, int64_t min, int64_t max,
                  int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "tril %s: %s expects an integer in [%lld, %lld], got '%s'\n", cmd, opt,
                (long long)min, (long long)max, text);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int cli_parse_f64(const char *cmd, const char *opt, const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end != '\0' || isnan(v)) {
        fprintf(stderr, "tril %s: %s expects a number, got '%s'\n", cmd, opt, text);
        return -1;
    }
    *out = v;
    return 0;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "tril %s: option %s needs a value (see 'tril %s --help')\n", cmd,
                argv[*i], cmd);
        return NULL;
    }
    *i += 1;
    return argv[*i];
}

int cli_unknown(const char *cmd, const char *arg)
{
    if (arg[0] == '-')
        fprintf(stderr, "tril %s: unknown option '%s' (see 'tril %s --help')\n", cmd, arg, cmd);
    else
        fprintf(stderr, "tril %s: unexpected argument '%s' (see 'tril %s --help')\n", cmd, arg,
                cmd);
    return CLI_USAGE;
}

int cli_parse_threads(const char *cmd, const char *text)
{
    int64_t n;
    if (cli_parse_i64(cmd, "--threads", text, 1, 1024, &n)) return -1;
    tril_set_num_threads((int)n);
    return 0;
}

int cli_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

int cli_lib_error(const char *cmd, const char *what)
{
    fprintf(stderr, "tril %s: %s: %s\n", cmd, what, tril_last_error());
    return CLI_FAIL;
}

/* Reading what the user points a command at: --file, --prompt-file, --data
 * and standard input ("-"), with a cap on the size (--max-file-mb). Only
 * regular files are read: a directory is an error, and a FIFO or a device
 * (/dev/zero) could block forever or never end. Standard input may be
 * anything and is read up to the same cap. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tril/file.h"

int cli_parse_max_file(const char *cmd, const char *text, size_t *bytes)
{
    /* Up to 16 TiB, and what size_t holds (a 32-bit build). */
    const int64_t most = (SIZE_MAX >> 21) < ((size_t)1 << 24) ? (int64_t)(SIZE_MAX >> 21)
                                                              : (int64_t)1 << 24;
    int64_t mb;
    if (cli_parse_i64(cmd, "--max-file-mb", text, 1, most, &mb)) return -1;
    *bytes = (size_t)mb << 20;
    return 0;
}

int cli_input_error(const char *cmd, tril_status status)
{
    if (status == TRIL_ERR_RANGE)
        fprintf(stderr, "tril %s: %s (--max-file-mb N raises the limit)\n", cmd,
                tril_last_error());
    else
        fprintf(stderr, "tril %s: %s\n", cmd, tril_last_error());
    return CLI_FAIL;
}

int cli_read_text(const char *cmd, const char *path, size_t limit, char **text, size_t *len)
{
    const tril_status st = strcmp(path, "-") == 0
                               ? tril_read_fd(STDIN_FILENO, "standard input", limit, 0, text, len)
                               : tril_read_file(path, limit, text, len);
    return st == TRIL_OK ? CLI_OK : cli_input_error(cmd, st);
}

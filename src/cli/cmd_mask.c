/* tril mask: print, draw or measure the causal mask. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tril/attention.h"
#include "tril/image.h"
#include "tril/mask_numerics.h"

#define CMD "mask"

void cmd_mask_help(void)
{
    printf("usage: tril mask N [--keys K] [--png FILE]\n"
           "       tril mask --numerics [--seed S]\n\n"
           "  N              print the N x N causal mask as rows of 0/1 (1 = visible):\n"
           "                 query i (row) may see key j (column) iff j <= i\n"
           "  --keys K       K keys instead of N (a KV cache: query i sits at\n"
           "                 position K - N + i and sees keys j <= K - N + i)\n"
           "  --png FILE     draw the mask as a PNG picture instead of printing it\n"
           "  --numerics     compute the masking numerics table live: for each method\n"
           "                 (textbook fill -inf/-1e10/-1e9/-1e4/dtype_min/0, and tril's\n"
           "                 structural kernel), dtype (fp32/fp16/bf16) and scenario,\n"
           "                 the largest probability given to a key the row must not see\n"
           "                 (future_prob) and the number of rows with a NaN (nan_rows).\n"
           "                 See docs/MASKING.md.\n"
           "  --seed S       seed for the numerics scenarios' random scores (default 1)\n");
}

static int print_numerics(uint64_t seed)
{
    size_t n = tril_mask_numerics_table_size();
    tril_numerics_cell *cells = calloc(n, sizeof *cells);
    if (!cells) {
        fprintf(stderr, "tril mask: out of memory\n");
        return CLI_FAIL;
    }
    if (tril_mask_numerics_table(cells, n, seed) != TRIL_OK) {
        free(cells);
        return cli_lib_error(CMD, "numerics");
    }
    printf("method\tfill\tdtype\tscenario\tfuture_prob\tnan_rows\n");
    for (size_t i = 0; i < n; i++) {
        const tril_numerics_cell *c = &cells[i];
        printf("%s\t%s\t%s\t%s\t", tril_numerics_method_name(c->method),
               c->method == TRIL_METHOD_TRIL ? "structural" : tril_fill_name(c->fill),
               tril_dtype_name(c->dtype), tril_scenario_name(c->scenario));
        if (isnan(c->future_prob)) printf("nan");
        else printf("%.6g", c->future_prob);
        printf("\t%lld\n", (long long)c->nan_rows);
    }
    free(cells);
    return CLI_OK;
}

int cmd_mask(int argc, char **argv)
{
    int64_t n = -1, keys = -1, seed = 1;
    const char *png = NULL;
    int numerics = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val;
        if (strcmp(arg, "--numerics") == 0) {
            numerics = 1;
        } else if (strcmp(arg, "--png") == 0) {
            if (!(png = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (strcmp(arg, "--keys") == 0) {
            if (!(val = cli_value(CMD, argc, argv, &i)) ||
                cli_parse_i64(CMD, "--keys", val, 1, 4096, &keys))
                return CLI_USAGE;
        } else if (strcmp(arg, "--seed") == 0) {
            if (!(val = cli_value(CMD, argc, argv, &i)) ||
                cli_parse_i64(CMD, "--seed", val, 0, INT64_MAX, &seed))
                return CLI_USAGE;
        } else if (arg[0] != '-' && n < 0) {
            if (cli_parse_i64(CMD, "N", arg, 1, 4096, &n)) return CLI_USAGE;
        } else {
            return cli_unknown(CMD, arg);
        }
    }
    if (numerics) {
        if (n >= 0 || png || keys >= 0) {
            fprintf(stderr, "tril mask: --numerics takes no N, --keys or --png\n");
            return CLI_USAGE;
        }
        return print_numerics((uint64_t)seed);
    }
    if (n < 0) {
        fprintf(stderr, "tril mask: give the size N (see 'tril mask --help')\n");
        return CLI_USAGE;
    }
    if (keys < 0) keys = n;
    if (png) {
        if (tril_mask_png(png, n, keys) != TRIL_OK) return cli_lib_error(CMD, "cannot draw the mask");
        printf("wrote %s (%lld queries x %lld keys)\n", png, (long long)n, (long long)keys);
        return CLI_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < keys; j++)
            printf(j ? " %d" : "%d", tril_causal_visible(i, j, n, keys));
        printf("\n");
    }
    return CLI_OK;
}

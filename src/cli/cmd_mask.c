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

typedef struct {
    int64_t n, keys, seed;
    const char *png;
    int numerics;
} mask_opts;

#define F(field) CLI_FIELD(mask_opts, field)
static const cli_opt options[] = {
    {"N", NULL, CLI_ARG_INT, CLI_POSITIONAL, F(n), .imin = 1, .imax = 4096,
     .help = "print the N x N causal mask as rows of 0/1 (1 = visible):\n"
             "query i (row) may see key j (column) iff j <= i"},
    {"--keys", "K", CLI_ARG_INT, 0, F(keys), .imin = 1, .imax = 4096,
     .help = "K keys instead of N (a KV cache: query i sits at\n"
             "position K - N + i and sees keys j <= K - N + i)"},
    {"--png", "FILE", CLI_ARG_PATH, 0, F(png),
     .help = "draw the mask as a PNG picture instead of printing it"},
    {"--numerics", NULL, CLI_ARG_FLAG, 0, F(numerics),
     .help = "compute the masking numerics table live: for each method\n"
             "(textbook fill -inf/-1e10/-1e9/-1e4/dtype_min/0, and tril's\n"
             "structural kernel), dtype (fp32/fp16/bf16) and scenario,\n"
             "the largest probability given to a key the row must not see\n"
             "(future_prob) and the number of rows with a NaN (nan_rows).\n"
             "See docs/MASKING.md."},
    {"--seed", "S", CLI_ARG_INT, 0, F(seed), .imin = 0, .imax = INT64_MAX,
     .help = "seed for the numerics scenarios' random scores (default 1)"},
};
#undef F

const cli_spec cmd_mask_spec = {
    CMD,
    "usage: tril mask N [--keys K] [--png FILE]\n"
    "       tril mask --numerics [--seed S]\n",
    NULL,
    CLI_OPTS(options),
};

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
    mask_opts o = {.n = -1, .keys = -1, .seed = 1};
    int rc = cli_parse(&cmd_mask_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    const int64_t n = o.n, seed = o.seed;
    int64_t keys = o.keys;
    const char *png = o.png;
    const int numerics = o.numerics;
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

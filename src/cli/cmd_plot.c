/* tril plot: loss curves of tril train logs as a PNG (tril_canvas). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tril/file.h"
#include "tril/image.h"

#define CMD "plot"
#define HEADER "step,train_loss,val_loss,lr,tokens_per_s"

typedef struct {
    const char *log, *log2, *png, *label, *label2;
} plot_opts;

#define F(field) CLI_FIELD(plot_opts, field)
static const cli_opt options[] = {
    {"--log", "F", CLI_ARG_PATH, CLI_REQUIRED, F(log), .help = "the run's log.csv"},
    {"--png", "OUT", CLI_ARG_PATH, CLI_REQUIRED, F(png), .help = "the picture to write"},
    {"--log2", "F", CLI_ARG_PATH, 0, F(log2), .help = "a second log to compare with"},
    {"--label", "A", CLI_ARG_STRING, 0, F(label),
     .help = "legend name of the first run (default \"run\")"},
    {"--label2", "B", CLI_ARG_STRING, 0, F(label2),
     .help = "legend name of the second (default \"run 2\")"},
};
#undef F

const cli_spec cmd_plot_spec = {
    CMD,
    "usage: tril plot --log FILE.csv --png OUT.png [--log2 OTHER.csv]\n"
    "                 [--label A] [--label2 B]\n\n"
    "Draws the training and validation loss against the step from a log\n"
    "written by tril train (header " HEADER "). A second log\n"
    "(e.g. the same run with --no-causal-mask) is drawn in other colours.\n"
    "Steps get whole-number ticks; a far outlier (a loss spike) is left off\n"
    "the scale and drawn as a triangle on the frame's edge; long labels are\n"
    "cut with an ellipsis.\n",
    NULL,
    CLI_OPTS(options),
};

typedef struct {
    double *step, *train, *val; /* val NaN where not evaluated */
    size_t n;
} series;

static void series_free(series *s)
{
    free(s->step);
    free(s->train);
    free(s->val);
}

/* A whole field as a number; empty allowed only if `may_be_empty`. */
static int field_number(const char *f, int may_be_empty, double *out)
{
    if (!*f) {
        *out = NAN;
        return may_be_empty ? 0 : -1;
    }
    char *end;
    errno = 0;
    *out = strtod(f, &end);
    return (errno || *end || !isfinite(*out)) ? -1 : 0;
}

static int read_log(const char *path, series *s)
{
    memset(s, 0, sizeof s[0]);
    int fd; /* a regular file only: a FIFO or a device could block or never end */
    if (tril_open_regular(path, &fd, NULL) != TRIL_OK) {
        fprintf(stderr, "tril plot: %s\n", tril_last_error());
        return CLI_FAIL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        fprintf(stderr, "tril plot: cannot open '%s': %s\n", path, strerror(errno));
        close(fd);
        return CLI_FAIL;
    }
    char line[1024];
    size_t cap = 0, lineno = 0;
    int rc = CLI_OK;
    while (rc == CLI_OK && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (lineno == 1) {
            if (strcmp(line, HEADER) != 0) {
                fprintf(stderr, "tril plot: %s: not a tril train log (the first line must be "
                                "'" HEADER "')\n", path);
                rc = CLI_FAIL;
            }
            continue;
        }
        if (!line[0]) continue;
        char *fields[6] = {0};
        int nf = 0;
        for (char *p = line; nf < 6; nf++) {
            fields[nf] = p;
            char *comma = strchr(p, ',');
            if (!comma) {
                nf++;
                break;
            }
            *comma = '\0';
            p = comma + 1;
        }
        double v[5];
        int bad = nf != 5;
        for (int k = 0; k < 5 && !bad; k++) bad = field_number(fields[k], k == 2, &v[k]) != 0;
        if (bad || v[0] != floor(v[0])) {
            fprintf(stderr, "tril plot: %s:%zu: expected 5 numbers (val_loss may be empty): "
                            "step,train_loss,val_loss,lr,tokens_per_s\n", path, lineno);
            rc = CLI_FAIL;
            break;
        }
        if (s->n == cap) {
            cap = cap ? 2 * cap : 256;
            double *a = realloc(s->step, cap * sizeof *a), *b = a ? realloc(s->train, cap * sizeof *b) : NULL,
                   *c = b ? realloc(s->val, cap * sizeof *c) : NULL;
            if (a) s->step = a;
            if (b) s->train = b;
            if (c) s->val = c;
            if (!a || !b || !c) {
                fprintf(stderr, "tril plot: out of memory\n");
                rc = CLI_FAIL;
                break;
            }
        }
        s->step[s->n] = v[0];
        s->train[s->n] = v[1];
        s->val[s->n] = v[2];
        s->n++;
    }
    if (rc == CLI_OK && ferror(f)) {
        fprintf(stderr, "tril plot: cannot read '%s'\n", path);
        rc = CLI_FAIL;
    }
    fclose(f);
    if (rc == CLI_OK && lineno == 0) {
        fprintf(stderr, "tril plot: %s is empty (not a tril train log)\n", path);
        rc = CLI_FAIL;
    } else if (rc == CLI_OK && s->n == 0) {
        fprintf(stderr, "tril plot: %s has no rows\n", path);
        rc = CLI_FAIL;
    }
    if (rc != CLI_OK) series_free(s);
    return rc;
}

int cmd_plot(int argc, char **argv)
{
    plot_opts o = {.label = "run", .label2 = "run 2"};
    int rc = cli_parse(&cmd_plot_spec, argc, argv, &o, NULL);
    if (rc != CLI_OK) return rc;
    const char *logs[2] = {o.log, o.log2}, *labels[2] = {o.label, o.label2}, *png = o.png;
    series s[2];
    memset(s, 0, sizeof s);
    const int runs = logs[1] ? 2 : 1;
    rc = read_log(logs[0], &s[0]);
    if (rc == CLI_OK && runs == 2 && (rc = read_log(logs[1], &s[1])) != CLI_OK) series_free(&s[0]);
    if (rc != CLI_OK) return rc;
    tril_loss_run lr[2];
    for (int r = 0; r < runs; r++)
        lr[r] = (tril_loss_run){s[r].step, s[r].train, s[r].val, s[r].n, labels[r]};
    if (tril_loss_png(png, lr, runs) != TRIL_OK) rc = cli_lib_error(CMD, "cannot draw the loss plot");
    else printf("wrote %s\n", png);
    for (int r = 0; r < runs; r++) series_free(&s[r]);
    return rc;
}

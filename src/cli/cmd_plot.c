/* tril plot: loss curves of tril train logs as a PNG (tril_canvas). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tril/image.h"

#define CMD "plot"
#define HEADER "step,train_loss,val_loss,lr,tokens_per_s"

void cmd_plot_help(void)
{
    printf("usage: tril plot --log FILE.csv --png OUT.png [--log2 OTHER.csv]\n"
           "                 [--label A] [--label2 B]\n\n"
           "Draws the training and validation loss against the step from a log\n"
           "written by tril train (header " HEADER "). A second log\n"
           "(e.g. the same run with --no-causal-mask) is drawn in other colours.\n\n"
           "  --log F      the run's log.csv\n"
           "  --png OUT    the picture to write\n"
           "  --log2 F     a second log to compare with\n"
           "  --label A    legend name of the first run (default \"run\")\n"
           "  --label2 B   legend name of the second (default \"run 2\")\n");
}

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
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "tril plot: cannot open '%s': %s\n", path, strerror(errno));
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

/* 1, 2 or 5 times a power of ten, about range / 6. */
static double nice_step(double range)
{
    double raw = range / 6.0, p = pow(10.0, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

typedef struct {
    tril_canvas c;
    int x0, y0, w, h;  /* plot area */
    double xmin, xmax, ymin, ymax;
} plot;

static int px(const plot *p, double x) { return p->x0 + (int)lround((x - p->xmin) / (p->xmax - p->xmin) * p->w); }
static int py(const plot *p, double y) { return p->y0 + p->h - (int)lround((y - p->ymin) / (p->ymax - p->ymin) * p->h); }

static const tril_rgb BLACK = {0, 0, 0}, GRID = {225, 225, 225}, WHITE = {255, 255, 255};
static const tril_rgb COLORS[2][2] = {{{31, 119, 180}, {255, 127, 14}},  /* train, val */
                                      {{44, 160, 44}, {214, 39, 40}}};

static void axes(plot *p)
{
    const double xs = nice_step(p->xmax - p->xmin), ys = nice_step(p->ymax - p->ymin);
    const int ydigits = ys >= 1 ? 0 : (int)ceil(-log10(ys) - 1e-9);
    char label[32];
    for (double y = ceil(p->ymin / ys) * ys; y <= p->ymax + 1e-9 * ys; y += ys) {
        int yy = py(p, y);
        tril_canvas_line(&p->c, p->x0, yy, p->x0 + p->w, yy, GRID);
        snprintf(label, sizeof label, "%.*f", ydigits, y);
        tril_canvas_text(&p->c, p->x0 - 8 - tril_text_width(label, 2), yy - 7, label, 2, BLACK);
    }
    for (double x = ceil(p->xmin / xs) * xs; x <= p->xmax + 1e-9 * xs; x += xs) {
        int xx = px(p, x);
        tril_canvas_line(&p->c, xx, p->y0, xx, p->y0 + p->h, GRID);
        snprintf(label, sizeof label, "%.0f", x);
        tril_canvas_text(&p->c, xx - tril_text_width(label, 2) / 2, p->y0 + p->h + 10, label, 2, BLACK);
    }
    tril_canvas_line(&p->c, p->x0, p->y0, p->x0, p->y0 + p->h, BLACK);
    tril_canvas_line(&p->c, p->x0, p->y0 + p->h, p->x0 + p->w, p->y0 + p->h, BLACK);
    tril_canvas_text(&p->c, p->x0 + p->w / 2 - tril_text_width("step", 2) / 2, p->y0 + p->h + 32,
                     "step", 2, BLACK);
    tril_canvas_text_vertical(&p->c, 14, p->y0 + p->h / 2 + tril_text_width("loss (nats/token)", 2) / 2,
                              "loss (nats/token)", 2, BLACK);
    tril_canvas_text(&p->c, p->x0, 16, "training and validation loss", 2, BLACK);
}

/* A 2-pixel polyline through the finite points of ys. */
static void curve(plot *p, const series *s, const double *ys, tril_rgb color, int markers)
{
    int have = 0, lx = 0, ly = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(ys[i])) continue;
        int x = px(p, s->step[i]), y = py(p, ys[i]);
        if (have) {
            tril_canvas_line(&p->c, lx, ly, x, y, color);
            tril_canvas_line(&p->c, lx, ly + 1, x, y + 1, color);
        }
        if (markers) tril_canvas_fill_rect(&p->c, x - 3, y - 3, 7, 7, color);
        have = 1;
        lx = x;
        ly = y;
    }
}

static void legend(plot *p, int runs, const char *const *labels)
{
    const int rows = 2 * runs, box_w = 260, x = p->x0 + p->w - box_w - 10, y = p->y0 + 10;
    tril_canvas_fill_rect(&p->c, x, y, box_w, rows * 24 + 12, WHITE);
    for (int r = 0; r < rows; r++) {
        char text[96];
        snprintf(text, sizeof text, "%.40s %s", labels[r / 2], r % 2 ? "val" : "train");
        int yy = y + 10 + r * 24;
        tril_canvas_fill_rect(&p->c, x + 10, yy + 5, 30, 4, COLORS[r / 2][r % 2]);
        tril_canvas_text(&p->c, x + 50, yy, text, 2, BLACK);
    }
}

int cmd_plot(int argc, char **argv)
{
    const char *logs[2] = {NULL, NULL}, *png = NULL, *labels[2] = {"run", "run 2"}, *val;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **dst = !strcmp(arg, "--log") ? &logs[0] : !strcmp(arg, "--log2") ? &logs[1]
                         : !strcmp(arg, "--png") ? &png : !strcmp(arg, "--label") ? &labels[0]
                         : !strcmp(arg, "--label2") ? &labels[1] : NULL;
        if (!dst) return cli_unknown(CMD, arg);
        if (!(val = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        *dst = val;
    }
    if (!logs[0] || !png) {
        fprintf(stderr, "tril plot: --log and --png are required (see 'tril plot --help')\n");
        return CLI_USAGE;
    }
    series s[2];
    memset(s, 0, sizeof s);
    const int runs = logs[1] ? 2 : 1;
    int rc = read_log(logs[0], &s[0]);
    if (rc == CLI_OK && runs == 2 && (rc = read_log(logs[1], &s[1])) != CLI_OK) series_free(&s[0]);
    if (rc != CLI_OK) return rc;
    plot p = {.x0 = 110, .y0 = 50, .w = 820, .h = 460};
    p.xmin = INFINITY;
    p.xmax = p.ymax = -INFINITY;
    p.ymin = INFINITY;
    for (int r = 0; r < runs; r++)
        for (size_t i = 0; i < s[r].n; i++) {
            p.xmin = fmin(p.xmin, s[r].step[i]);
            p.xmax = fmax(p.xmax, s[r].step[i]);
            const double ys[2] = {s[r].train[i], s[r].val[i]};
            for (int k = 0; k < 2; k++)
                if (isfinite(ys[k])) {
                    p.ymin = fmin(p.ymin, ys[k]);
                    p.ymax = fmax(p.ymax, ys[k]);
                }
        }
    if (p.xmax <= p.xmin) p.xmax = p.xmin + 1;
    if (p.ymax <= p.ymin) p.ymax = p.ymin + 1;
    const double pad = 0.05 * (p.ymax - p.ymin);
    p.ymin = fmax(0.0, p.ymin - pad);
    p.ymax += pad;
    if (tril_canvas_create(&p.c, 960, 580, WHITE) != TRIL_OK) {
        rc = cli_lib_error(CMD, "cannot draw");
    } else {
        axes(&p);
        for (int r = 0; r < runs; r++) {
            curve(&p, &s[r], s[r].train, COLORS[r][0], 0);
            curve(&p, &s[r], s[r].val, COLORS[r][1], 1);
        }
        legend(&p, runs, labels);
        if (tril_canvas_save_png(&p.c, png) != TRIL_OK) rc = cli_lib_error(CMD, "cannot write the PNG");
        else printf("wrote %s\n", png);
        tril_canvas_free(&p.c);
    }
    for (int r = 0; r < runs; r++) series_free(&s[r]);
    return rc;
}

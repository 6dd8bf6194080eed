/* viz/loss_png.c - loss curves (training and validation, one or two runs)
 * against the step, as a PNG.
 *
 *   title, and a note when points are off the scale
 *   y ticks | frame: grid lines, curves (val with markers) clipped to it,
 *           |        off-scale points as triangles on its top/bottom edge
 *           x ticks (whole steps), "step"
 *   legend: one row per run, "<label>  -- train  -o- val"
 *
 * The y range is that of the values after dropping far outliers (a spike
 * far above, or a value far below, everything else), so that one bad value
 * does not flatten every curve; what it drops is drawn as a marker. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tril/image.h"
#include "viz/text_sym.h"

#define WIDTH 960
#define FRAME_X 110
#define FRAME_Y 64
#define FRAME_W 820
#define FRAME_H 460
#define TEXT 2
#define ROW_H 24     /* px per legend row */
#define MARGIN 16
#define MAX_TICKS 64 /* a bound on tick loops, whatever the numbers */
#define OUTLIER_GAP 10.0 /* a value is an outlier beyond this many "scales" from the rest */
/* Legend labels: as many characters as fit between the frame's left edge
 * and the train/val entries (~50). */
#define ENTRIES_W 212 /* px of "-- train  -o- val" with their gaps */
#define LABEL_GLYPHS ((WIDTH - MARGIN - FRAME_X - 24 - ENTRIES_W) / (6 * TEXT))

static const tril_rgb BLACK = {0, 0, 0}, GRID = {225, 225, 225}, WHITE = {255, 255, 255};
static const tril_rgb BORDER = {190, 190, 190}, NOTE = {90, 90, 90};
static const tril_rgb COLORS[2][2] = {{{31, 119, 180}, {255, 127, 14}}, /* train, val */
                                      {{44, 160, 44}, {214, 39, 40}}};

typedef struct {
    tril_loss_layout pub;
    double lo_kept, hi_kept; /* extremes of the values inside the frame */
    double lo_all, hi_all;   /* extremes of every value */
    int32_t label_w;         /* px of the widest legend label */
} geometry;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* 1, 2 or 5 times a power of ten, about range / 6. */
static double nice_step(double range)
{
    double raw = range / 6.0, p = pow(10.0, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static int has_points(const double *ys, size_t n)
{
    for (size_t i = 0; ys && i < n; i++)
        if (isfinite(ys[i])) return 1;
    return 0;
}

static tril_status check_runs(const tril_loss_run *runs, int n_runs)
{
    if (!runs || n_runs < 1 || n_runs > 2)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "loss plot: 1 or 2 runs, got %d%s", n_runs,
                         runs ? "" : " (NULL)");
    int any = 0;
    for (int r = 0; r < n_runs; r++) {
        const tril_loss_run *s = &runs[r];
        if (s->n < 1 || !s->step)
            return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "loss plot: run %d has no steps", r + 1);
        for (size_t i = 0; i < s->n; i++)
            if (!isfinite(s->step[i]))
                return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "loss plot: run %d: step %zu is not finite",
                                 r + 1, i);
        any |= has_points(s->train, s->n) || has_points(s->val, s->n);
    }
    if (!any) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "loss plot: no finite loss values");
    return TRIL_OK;
}

/* Values kept in the frame, from sorted v[0..n-1]: drop the top values when
 * the gap above the rest is more than OUTLIER_GAP times the rest's scale (its
 * spread, its median's size, and at least 1 nat), at most max(1, n/10) of
 * them; the same at the bottom. Each side measures the spread without the
 * other side's candidates, so a spike up and one down do not hide each other.
 * A smooth descent from 10 to 2 has no such gap, a 1e6 spike among values
 * near 5 does. */
static void kept_range(const double *v, size_t n, double *lo, double *hi)
{
    size_t first = 0, last = n - 1; /* kept: v[first..last] */
    const size_t max_cut = n / 10 > 1 ? n / 10 : 1;
    for (size_t i = n - 1; i >= 1 && n - i <= max_cut; i--) {
        const double rest_lo = v[max_cut < i - 1 ? max_cut : i - 1];
        const double scale = fmax(fmax(v[i - 1] - rest_lo, fabs(v[(i - 1) / 2])), 1.0);
        if (v[i] - v[i - 1] > OUTLIER_GAP * scale) last = i - 1; /* the widest cut wins */
    }
    for (size_t i = 0; i + 1 < n && i + 1 <= max_cut; i++) {
        const double rest_hi = v[n - 1 - max_cut > i + 1 ? n - 1 - max_cut : i + 1];
        const double scale = fmax(fmax(rest_hi - v[i + 1], fabs(v[(i + n) / 2])), 1.0);
        if (v[i + 1] - v[i] > OUTLIER_GAP * scale) first = i + 1;
    }
    if (first > last) first = 0; /* two values far apart: keep the lower */
    *lo = v[first];
    *hi = v[last];
}

static tril_status compute_geometry(const tril_loss_run *runs, int n_runs, geometry *g)
{
    memset(g, 0, sizeof *g);
    tril_loss_layout *L = &g->pub;
    size_t total = 0;
    L->xmin = INFINITY;
    L->xmax = -INFINITY;
    for (int r = 0; r < n_runs; r++) {
        for (size_t i = 0; i < runs[r].n; i++) {
            L->xmin = fmin(L->xmin, runs[r].step[i]);
            L->xmax = fmax(L->xmax, runs[r].step[i]);
            total += (runs[r].train && isfinite(runs[r].train[i])) +
                     (runs[r].val && isfinite(runs[r].val[i]));
        }
    }
    double *v = malloc(total * sizeof *v);
    if (!v) return TRIL_FAIL(TRIL_ERR_NOMEM, "loss plot: cannot sort %zu values", total);
    size_t n = 0;
    for (int r = 0; r < n_runs; r++)
        for (size_t i = 0; i < runs[r].n; i++) {
            if (runs[r].train && isfinite(runs[r].train[i])) v[n++] = runs[r].train[i];
            if (runs[r].val && isfinite(runs[r].val[i])) v[n++] = runs[r].val[i];
        }
    qsort(v, n, sizeof *v, cmp_double);
    g->lo_all = v[0];
    g->hi_all = v[n - 1];
    kept_range(v, n, &g->lo_kept, &g->hi_kept);
    free(v);
    /* Spans past DBL_MAX would make every pixel position NaN. */
    if (!isfinite(g->hi_all - g->lo_all) || !isfinite(L->xmax - L->xmin))
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "loss plot: the %s span more than a double holds",
                         isfinite(L->xmax - L->xmin) ? "losses" : "steps");

    /* x: a single step sits in the middle; otherwise 2% on each side keeps
     * the first and last markers inside the frame. */
    if (L->xmax <= L->xmin) {
        L->xmin -= 1.0;
        L->xmax += 1.0;
    } else {
        const double pad = 0.02 * (L->xmax - L->xmin);
        L->xmin -= pad;
        L->xmax += pad;
    }
    /* Steps are whole numbers: never a tick between two of them. */
    L->x_tick = fmax(1.0, nice_step(L->xmax - L->xmin));
    double lo = g->lo_kept, hi = g->hi_kept;
    if (hi <= lo) { /* one value (or all equal): centred */
        lo -= 0.5;
        hi += 0.5;
    }
    const double pad = 0.05 * (hi - lo);
    L->ymin = lo >= 0.0 ? fmax(0.0, lo - pad) : lo - pad;
    L->ymax = hi + pad;
    L->y_tick = nice_step(L->ymax - L->ymin);
    for (int r = 0; r < n_runs; r++)
        for (size_t i = 0; i < runs[r].n; i++) {
            const double ys[2] = {runs[r].train ? runs[r].train[i] : NAN,
                                  runs[r].val ? runs[r].val[i] : NAN};
            for (int k = 0; k < 2; k++)
                L->n_clipped += isfinite(ys[k]) && (ys[k] > L->ymax || ys[k] < L->ymin);
        }

    L->frame_x = FRAME_X;
    L->frame_y = FRAME_Y;
    L->frame_w = FRAME_W;
    L->frame_h = FRAME_H;
    L->legend_y = FRAME_Y + FRAME_H + 66;
    L->legend_row_h = ROW_H;
    L->width = WIDTH;
    L->height = L->legend_y + n_runs * ROW_H + MARGIN;
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 2; k++) L->colors[r][k] = COLORS[r][k];
    L->grid = GRID;
    L->background = WHITE;
    char buf[LABEL_GLYPHS + 8];
    for (int r = 0; r < n_runs; r++) {
        viz_label(buf, sizeof buf, runs[r].label, LABEL_GLYPHS, 0);
        int32_t w = tril_text_width(buf, TEXT);
        g->label_w = w > g->label_w ? w : g->label_w;
    }
    return TRIL_OK;
}

tril_status tril_loss_png_layout(const tril_loss_run *runs, int n_runs, tril_loss_layout *layout)
{
    if (!layout) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "loss plot: layout is NULL");
    tril_status st = check_runs(runs, n_runs);
    if (st != TRIL_OK) return st;
    geometry g;
    st = compute_geometry(runs, n_runs, &g);
    if (st == TRIL_OK) *layout = g.pub;
    return st;
}

/* Data to pixels, as doubles; kept within +-1e7 so that a 1e300 outlier
 * still clips to a sane line. */
static double fx(const tril_loss_layout *L, double x)
{
    double p = L->frame_x + (x - L->xmin) / (L->xmax - L->xmin) * L->frame_w;
    return fmax(-1e7, fmin(1e7, p));
}

static double fy(const tril_loss_layout *L, double y)
{
    double p = L->frame_y + L->frame_h - (y - L->ymin) / (L->ymax - L->ymin) * L->frame_h;
    return fmax(-1e7, fmin(1e7, p));
}

/* The frame's inside, less its border lines: nothing of a curve goes
 * beyond it. */
typedef struct {
    int32_t x0, y0, x1, y1; /* inclusive */
} box;

static box inside(const tril_loss_layout *L)
{
    box b = {L->frame_x + 1, L->frame_y + 1, L->frame_x + L->frame_w - 1,
             L->frame_y + L->frame_h - 1};
    return b;
}

/* Liang-Barsky: the part of the segment inside b, 0 if none. */
static int clip(double *x0, double *y0, double *x1, double *y1, box b)
{
    const double dx = *x1 - *x0, dy = *y1 - *y0;
    const double p[4] = {-dx, dx, -dy, dy};
    const double q[4] = {*x0 - b.x0, b.x1 - *x0, *y0 - b.y0, b.y1 - *y0};
    double t0 = 0.0, t1 = 1.0;
    for (int k = 0; k < 4; k++) {
        if (p[k] == 0.0) {
            if (q[k] < 0.0) return 0;
            continue;
        }
        const double t = q[k] / p[k];
        if (p[k] < 0.0) t0 = fmax(t0, t);
        else t1 = fmin(t1, t);
        if (t0 > t1) return 0;
    }
    const double ox = *x0, oy = *y0;
    *x0 = ox + t0 * dx;
    *y0 = oy + t0 * dy;
    *x1 = ox + t1 * dx;
    *y1 = oy + t1 * dy;
    return 1;
}

/* A 2-pixel line, clipped to the frame (the second pixel row to the frame
 * less its last row, so that it never lands on the bottom axis). */
static void frame_line(tril_canvas *c, box b, double x0, double y0, double x1, double y1,
                       tril_rgb color)
{
    for (int k = 0; k < 2; k++) {
        box bk = b;
        bk.y1 -= k;
        double ax = x0, ay = y0, bx = x1, by = y1;
        if (!clip(&ax, &ay, &bx, &by, bk)) continue;
        tril_canvas_line(c, (int32_t)lround(ax), (int32_t)lround(ay) + k, (int32_t)lround(bx),
                         (int32_t)lround(by) + k, color);
    }
}

/* A filled rectangle cut to the frame. */
static void frame_rect(tril_canvas *c, box b, int32_t x, int32_t y, int32_t w, int32_t h,
                       tril_rgb color)
{
    int32_t x1 = x + w - 1, y1 = y + h - 1;
    if (x < b.x0) x = b.x0;
    if (y < b.y0) y = b.y0;
    if (x1 > b.x1) x1 = b.x1;
    if (y1 > b.y1) y1 = b.y1;
    if (x1 >= x && y1 >= y) tril_canvas_fill_rect(c, x, y, x1 - x + 1, y1 - y + 1, color);
}

/* An off-scale value: a triangle on the frame's top edge pointing up (above
 * the scale) or on its bottom edge pointing down (below). */
static void off_scale_marker(tril_canvas *c, box b, int32_t x, int up, tril_rgb color)
{
    for (int32_t r = 0; r < 9; r++) {
        const int32_t half = (r * 5 + 4) / 8; /* 0 at the tip, 5 at the base */
        const int32_t y = up ? b.y0 + r : b.y1 - r;
        frame_rect(c, b, x - half, y, 2 * half + 1, 1, color);
    }
}

static void axes(tril_canvas *c, const tril_loss_layout *L)
{
    const int32_t x0 = L->frame_x, y0 = L->frame_y, w = L->frame_w, h = L->frame_h;
    const int ydigits = L->y_tick >= 1 ? 0 : (int)ceil(-log10(L->y_tick) - 1e-9);
    char label[40];
    const double yk0 = ceil(L->ymin / L->y_tick - 1e-9);
    /* Indices, not a running sum: y += step stalls once y is 1e17. */
    for (int k = 0; k < MAX_TICKS; k++) {
        const double y = (yk0 + k) * L->y_tick;
        if (y > L->ymax + 1e-9 * L->y_tick) break;
        const int32_t yy = (int32_t)lround(fy(L, y));
        tril_canvas_line(c, x0, yy, x0 + w, yy, GRID);
        snprintf(label, sizeof label, "%.*f", ydigits, y);
        tril_canvas_text(c, x0 - 8 - tril_text_width(label, TEXT), yy - 7, label, TEXT, BLACK);
    }
    const double xk0 = ceil(L->xmin / L->x_tick - 1e-9);
    for (int k = 0; k < MAX_TICKS; k++) {
        const double x = (xk0 + k) * L->x_tick;
        if (x > L->xmax + 1e-9 * L->x_tick) break;
        const int32_t xx = (int32_t)lround(fx(L, x));
        tril_canvas_line(c, xx, y0, xx, y0 + h, GRID);
        snprintf(label, sizeof label, "%.0f", x);
        tril_canvas_text(c, xx - tril_text_width(label, TEXT) / 2, y0 + h + 10, label, TEXT, BLACK);
    }
    tril_canvas_line(c, x0, y0, x0 + w, y0, BORDER);
    tril_canvas_line(c, x0 + w, y0, x0 + w, y0 + h, BORDER);
    tril_canvas_line(c, x0, y0, x0, y0 + h, BLACK);
    tril_canvas_line(c, x0, y0 + h, x0 + w, y0 + h, BLACK);
    tril_canvas_text(c, x0 + w / 2 - tril_text_width("step", TEXT) / 2, y0 + h + 32, "step",
                     TEXT, BLACK);
    static const char YTITLE[] = "loss (nats/token)";
    tril_canvas_text_vertical(c, MARGIN, y0 + h / 2 + tril_text_width(YTITLE, TEXT) / 2, YTITLE,
                              TEXT, BLACK);
    tril_canvas_text(c, x0, MARGIN, "training and validation loss", TEXT, BLACK);
}

/* One series: a 2-pixel polyline through its finite points, markers on
 * every point (val) or only on points with no finite neighbour (train: a
 * one-row log still shows its point), triangles for off-scale points. */
static void curve(tril_canvas *c, const tril_loss_layout *L, const tril_loss_run *s,
                  const double *ys, tril_rgb color, int markers)
{
    if (!ys) return;
    const box b = inside(L);
    size_t prev = SIZE_MAX;
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(ys[i])) continue;
        const double x = fx(L, s->step[i]), y = fy(L, ys[i]);
        if (prev != SIZE_MAX) frame_line(c, b, fx(L, s->step[prev]), fy(L, ys[prev]), x, y, color);
        const int off = ys[i] > L->ymax ? 1 : ys[i] < L->ymin ? -1 : 0;
        const int lonely = prev == SIZE_MAX && !has_points(ys + i + 1, s->n - i - 1);
        const int32_t xi = (int32_t)lround(x), yi = (int32_t)lround(y);
        if (off) off_scale_marker(c, b, xi, off > 0, color);
        else if (markers || lonely) frame_rect(c, b, xi - 3, yi - 3, 7, 7, color);
        prev = i;
    }
}

static void legend(tril_canvas *c, const geometry *g, const tril_loss_run *runs, int n_runs)
{
    const tril_loss_layout *L = &g->pub;
    char buf[LABEL_GLYPHS + 8];
    for (int r = 0; r < n_runs; r++) {
        const int32_t y = L->legend_y + r * ROW_H;
        int32_t x = L->frame_x;
        viz_label(buf, sizeof buf, runs[r].label, LABEL_GLYPHS, 0);
        viz_text(c, x, y, buf, TEXT, 0, BLACK);
        x += g->label_w + 24;
        static const char *const NAMES[2] = {"train", "val"};
        const double *ys[2] = {runs[r].train, runs[r].val};
        for (int k = 0; k < 2; k++) {
            if (!has_points(ys[k], runs[r].n)) continue;
            tril_canvas_fill_rect(c, x, y + 5, 30, 4, COLORS[r][k]);
            if (k == 1) tril_canvas_fill_rect(c, x + 12, y + 3, 7, 7, COLORS[r][k]);
            x += 36;
            x += tril_canvas_text(c, x, y, NAMES[k], TEXT, BLACK) + 24;
        }
    }
}

static void clipped_note(tril_canvas *c, const geometry *g)
{
    const tril_loss_layout *L = &g->pub;
    if (L->n_clipped == 0) return;
    char note[160];
    int n = snprintf(note, sizeof note, "%lld value%s off the scale (triangles on the edge)",
                     (long long)L->n_clipped, L->n_clipped == 1 ? "" : "s");
    if (n > 0 && g->hi_all > L->ymax && (size_t)n < sizeof note)
        n += snprintf(note + n, sizeof note - (size_t)n, ", max %.4g", g->hi_all);
    if (n > 0 && g->lo_all < L->ymin && (size_t)n < sizeof note)
        snprintf(note + n, sizeof note - (size_t)n, ", min %.4g", g->lo_all);
    tril_canvas_text(c, L->frame_x, MARGIN + 22, note, TEXT, NOTE);
}

tril_status tril_loss_png(const char *path, const tril_loss_run *runs, int n_runs)
{
    if (!path) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "loss plot: path is NULL");
    tril_status st = check_runs(runs, n_runs);
    if (st != TRIL_OK) return st;
    geometry g;
    if ((st = compute_geometry(runs, n_runs, &g)) != TRIL_OK) return st;
    const tril_loss_layout *L = &g.pub;
    tril_canvas c;
    if ((st = tril_canvas_create(L->width, L->height, WHITE, &c)) != TRIL_OK) return st;
    axes(&c, L);
    for (int r = 0; r < n_runs; r++) {
        curve(&c, L, &runs[r], runs[r].train, COLORS[r][0], 0);
        curve(&c, L, &runs[r], runs[r].val, COLORS[r][1], 1);
    }
    legend(&c, &g, runs, n_runs);
    clipped_note(&c, &g);
    st = tril_canvas_save_png(&c, path);
    tril_canvas_free(&c);
    return st;
}

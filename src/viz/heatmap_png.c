/* viz/heatmap_png.c - attention probabilities as a picture: queries down,
 * keys across, token strings on both axes, the masked future in grey, and a
 * colour scale on the right.
 *
 *   title
 *   "key position j ->"
 *   column labels (upright when each fits its column, else whole strings
 *                  turned to read bottom to top)
 *   "query   | row    | grid of rows x cols cells | colour scale 0 .. max
 *   position | labels |                           | "masked (future)" swatch
 *   i"
 *
 * Labels are thinned to every k-th row / column (k = 1, 2, 5, 10, ...) when
 * cells are smaller than a line of text; thinned labels start with their
 * position and point at their cell with a tick mark. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tril/image.h"
#include "viz/text_sym.h"

#define MAX_SIDE 512
#define MARGIN 16
#define TEXT 2            /* font scale of everything */
#define GAP 6             /* px between labels (or tick marks) and the grid */
#define TICK 5            /* px of a tick mark pointing at a thinned label's cell */
#define GRID_TARGET 768   /* px the longer grid side aims for */
#define MAX_CELL 32       /* px; small prompts stay a sensible size */
#define LABEL_GLYPHS 12   /* longest token text drawn, ellipsis included */
#define BAR_W 20          /* px, width of the colour scale */
#define BAR_MIN_H 200     /* px; the scale stays readable beside a tiny grid */
#define LABEL_BUF 48

static const tril_rgb WHITE = {255, 255, 255}, INK = {20, 20, 20};
static const tril_rgb MASKED = {222, 222, 222}, GRID = {235, 235, 235};
static const tril_rgb LOW = {255, 255, 255}, HIGH = {8, 48, 107}; /* ends of the scale */

static const char AXIS_X[] = "key position j ->";
static const char AXIS_Y[] = "query position i";
static const char BAR_TITLE[] = "probability";
static const char SWATCH_TEXT[] = "masked (future)";

/* Fractions of vmax with a tick on the scale; most sit low because the
 * colour follows sqrt(p) (small probabilities stay visible). */
static const double BAR_TICKS[] = {0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0};

typedef struct {
    tril_heatmap_layout pub;
    int32_t glyph_h;
    int32_t title_y, axis_y;
    int32_t vtitle_bottom;   /* "query position i", bottom-left at (MARGIN, this) */
    int32_t row_label_right; /* row labels end just left of this x */
    int32_t tick;            /* tick mark length, 0 when every cell is labelled */
    int32_t bar_title_y, swatch_y;
} geometry;

static int32_t max32(int32_t a, int32_t b) { return a > b ? a : b; }

/* The colour at fraction f of the scale: LOW (0) to HIGH (1), linear. */
static tril_rgb ramp(double f)
{
    if (!(f > 0.0)) f = 0.0;
    if (f > 1.0) f = 1.0;
    tril_rgb c = {(uint8_t)lround(LOW.r + f * (HIGH.r - LOW.r)),
                  (uint8_t)lround(LOW.g + f * (HIGH.g - LOW.g)),
                  (uint8_t)lround(LOW.b + f * (HIGH.b - LOW.b))};
    return c;
}

/* A value's colour: sqrt(v / vmax) along the ramp. */
static tril_rgb shade(float v, float vmax)
{
    double t = (double)v / (double)vmax;
    return ramp(t > 0.0 ? sqrt(t) : 0.0);
}

/* Smallest of 1, 2, 5, 10, 20, ... with step * cell >= need. */
static int64_t label_step(int32_t cell, int32_t need)
{
    for (int64_t decade = 1;; decade *= 10) {
        static const int mult[3] = {1, 2, 5};
        for (int m = 0; m < 3; m++)
            if (decade * mult[m] * cell >= need) return decade * mult[m];
    }
}

/* The label of row/column i: the escaped token text, after its position when
 * labels are thinned (so that a reader need not count cells). */
static void make_label(char buf[LABEL_BUF], const char *const *labels, int64_t i, int64_t step)
{
    int n = 0;
    if (step > 1) n = snprintf(buf, LABEL_BUF, "%lld ", (long long)i);
    if (n < 0) n = 0;
    viz_label(buf + n, (size_t)(LABEL_BUF - n), labels ? labels[i] : "", LABEL_GLYPHS,
              VIZ_LABEL_SHOW_SPACE);
}

static tril_status check_args(const float *values, int64_t rows, int64_t cols,
                              const void *layout)
{
    if (!values || !layout)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "heatmap: values and path/layout must not be NULL");
    if (rows < 1 || cols < 1 || rows > MAX_SIDE || cols > MAX_SIDE)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "heatmap: %lld x %lld is outside 1..%d",
                         (long long)rows, (long long)cols, MAX_SIDE);
    return TRIL_OK;
}

static void compute_geometry(const float *values, int64_t rows, int64_t cols,
                             const char *const *row_labels, const char *const *col_labels,
                             const char *title, int causal, geometry *g)
{
    memset(g, 0, sizeof *g);
    tril_heatmap_layout *L = &g->pub;
    const int32_t th = tril_text_height(TEXT);
    g->glyph_h = th;
    const int64_t side = rows > cols ? rows : cols;
    int64_t cell = GRID_TARGET / side;
    L->cell = (int32_t)(cell < 1 ? 1 : cell > MAX_CELL ? MAX_CELL : cell);
    L->grid_w = L->cell * (int32_t)cols;
    L->grid_h = L->cell * (int32_t)rows;
    /* Labels a text line plus 6 px apart (1 px when every cell has one: a
     * column of single letters): every k-th one when cells are thinner than
     * that (at 249 tokens, 3-px cells: every 10th). */
    L->label_step = L->cell >= th + 1 ? 1 : label_step(L->cell, th + 6);
    const int64_t k = L->label_step;
    g->tick = k > 1 ? TICK : 0;

    char buf[LABEL_BUF];
    int32_t row_w = 0, col_w = 0;
    for (int64_t i = 0; i < rows; i += k) {
        make_label(buf, row_labels, i, k);
        row_w = max32(row_w, tril_text_width(buf, TEXT));
    }
    for (int64_t j = 0; j < cols; j += k) {
        make_label(buf, col_labels, j, k);
        col_w = max32(col_w, tril_text_width(buf, TEXT));
    }
    /* Upright when every column label fits its column pitch, else whole
     * strings turned counter-clockwise (never letters stacked one by one). */
    const int64_t pitch = k * L->cell;
    L->col_labels_rotated = col_w > pitch - 2;
    const int32_t col_h = col_w == 0 ? 0 : L->col_labels_rotated ? col_w : th;

    g->title_y = MARGIN;
    g->axis_y = g->title_y + th + 12;
    L->col_label_y0 = g->axis_y + th + 8;
    L->col_label_y1 = L->col_label_y0 + col_h;
    L->grid_y = L->col_label_y1 + GAP + g->tick;
    L->row_label_x0 = MARGIN + th + 14;
    L->row_label_x1 = L->row_label_x0 + row_w;
    g->row_label_right = L->row_label_x1;
    L->grid_x = L->row_label_x1 + GAP + g->tick;

    /* "query position i" centred on the grid, or hanging from its top. */
    const int32_t vlen = tril_text_width(AXIS_Y, TEXT);
    g->vtitle_bottom = vlen <= L->grid_h ? L->grid_y + (L->grid_h + vlen) / 2 - 1
                                         : L->grid_y + vlen - 1;

    /* The scale: vmax is the largest value drawn (1 for causal attention,
     * whose first row has one key). */
    float vmax = 0.0f;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            float v = values[i * cols + j];
            if (!(causal && j > i) && isfinite(v) && v > vmax) vmax = v;
        }
    L->vmax = vmax > 0.0f ? vmax : 1.0f;
    L->bar_x = L->grid_x + L->grid_w + 28;
    /* Its title on the grid's top line, the bar below it down to the grid's
     * bottom: nothing above the grid (labels, axis title) is in the way. */
    g->bar_title_y = L->grid_y;
    L->bar_y = L->grid_y + th + 12;
    L->bar_w = BAR_W;
    L->bar_h = max32(L->grid_h - th - 12, BAR_MIN_H);
    g->swatch_y = L->bar_y + L->bar_h + 14;
    L->low = LOW;
    L->high = HIGH;
    L->masked = MASKED;

    int32_t tick_w = 0;
    for (size_t t = 0; t < sizeof BAR_TICKS / sizeof BAR_TICKS[0]; t++) {
        snprintf(buf, sizeof buf, "%.2g", BAR_TICKS[t] * L->vmax);
        tick_w = max32(tick_w, tril_text_width(buf, TEXT));
    }
    int32_t right = max32(L->bar_w + 4 + 6 + tick_w, tril_text_width(BAR_TITLE, TEXT));
    if (causal) right = max32(right, L->bar_w + 6 + tril_text_width(SWATCH_TEXT, TEXT));
    int32_t width = L->bar_x + right + MARGIN;
    width = max32(width, MARGIN + tril_text_width(title ? title : "", TEXT) + MARGIN);
    width = max32(width, L->grid_x + tril_text_width(AXIS_X, TEXT) + MARGIN);
    int32_t bottom = max32(L->grid_y + L->grid_h, L->bar_y + L->bar_h);
    if (causal) bottom = max32(bottom, g->swatch_y + th);
    bottom = max32(bottom, g->vtitle_bottom + 1);
    L->width = width;
    L->height = bottom + MARGIN;
}

tril_status tril_heatmap_png_layout(const float *values, int64_t rows, int64_t cols,
                                    const char *const *row_labels,
                                    const char *const *col_labels, const char *title,
                                    int causal, tril_heatmap_layout *layout)
{
    tril_status st = check_args(values, rows, cols, layout);
    if (st != TRIL_OK) return st;
    geometry g;
    compute_geometry(values, rows, cols, row_labels, col_labels, title, causal, &g);
    *layout = g.pub;
    return TRIL_OK;
}

static void draw_labels(tril_canvas *c, const geometry *g, int64_t rows, int64_t cols,
                        const char *const *row_labels, const char *const *col_labels)
{
    const tril_heatmap_layout *L = &g->pub;
    const int64_t k = L->label_step;
    const int32_t th = g->glyph_h, half = L->cell / 2;
    char buf[LABEL_BUF];
    for (int64_t i = 0; i < rows; i += k) {
        const int32_t cy = L->grid_y + (int32_t)i * L->cell + half;
        make_label(buf, row_labels, i, k);
        viz_text(c, g->row_label_right - tril_text_width(buf, TEXT), cy - th / 2, buf, TEXT, 0,
                 INK);
        if (g->tick) tril_canvas_line(c, L->grid_x - g->tick, cy, L->grid_x - 2, cy, INK);
    }
    for (int64_t j = 0; j < cols; j += k) {
        const int32_t cx = L->grid_x + (int32_t)j * L->cell + half;
        make_label(buf, col_labels, j, k);
        if (L->col_labels_rotated) /* starts at the grid, reads upwards */
            viz_text(c, cx - th / 2, L->col_label_y1 - 1, buf, TEXT, 1, INK);
        else
            viz_text(c, cx - tril_text_width(buf, TEXT) / 2, L->col_label_y0, buf, TEXT, 0, INK);
        if (g->tick) tril_canvas_line(c, cx, L->grid_y - g->tick, cx, L->grid_y - 2, INK);
    }
}

/* The colour scale: each pixel row shows its fraction of the ramp (value =
 * fraction^2 * vmax), ticks at BAR_TICKS that do not crowd the one below. */
static void draw_scale(tril_canvas *c, const geometry *g, int causal)
{
    const tril_heatmap_layout *L = &g->pub;
    const int32_t th = g->glyph_h;
    tril_canvas_text(c, L->bar_x, g->bar_title_y, BAR_TITLE, TEXT, INK);
    for (int32_t r = 0; r < L->bar_h; r++) {
        double f = L->bar_h > 1 ? (double)r / (double)(L->bar_h - 1) : 1.0;
        tril_canvas_fill_rect(c, L->bar_x, L->bar_y + L->bar_h - 1 - r, L->bar_w, 1, ramp(f));
    }
    /* A thin outline, so the white end is visible against the page. */
    const tril_rgb edge = {160, 160, 160};
    const int32_t x0 = L->bar_x - 1, y0 = L->bar_y - 1, x1 = L->bar_x + L->bar_w,
                  y1 = L->bar_y + L->bar_h;
    tril_canvas_line(c, x0, y0, x1, y0, edge);
    tril_canvas_line(c, x0, y1, x1, y1, edge);
    tril_canvas_line(c, x0, y0, x0, y1, edge);
    tril_canvas_line(c, x1, y0, x1, y1, edge);
    int32_t last_y = INT32_MAX;
    char buf[32];
    for (size_t t = 0; t < sizeof BAR_TICKS / sizeof BAR_TICKS[0]; t++) {
        const int32_t y = L->bar_y + L->bar_h - 1 -
                          (int32_t)lround(sqrt(BAR_TICKS[t]) * (double)(L->bar_h - 1));
        if (last_y - y < th + 2 && t + 1 < sizeof BAR_TICKS / sizeof BAR_TICKS[0]) continue;
        last_y = y;
        tril_canvas_line(c, x1 + 1, y, x1 + 4, y, INK);
        snprintf(buf, sizeof buf, "%.2g", BAR_TICKS[t] * L->vmax);
        tril_canvas_text(c, x1 + 10, y - th / 2, buf, TEXT, INK);
    }
    if (causal) {
        tril_canvas_fill_rect(c, L->bar_x, g->swatch_y, L->bar_w, th, MASKED);
        tril_canvas_text(c, L->bar_x + L->bar_w + 6, g->swatch_y, SWATCH_TEXT, TEXT, INK);
    }
}

tril_status tril_heatmap_png(const char *path, const float *values, int64_t rows, int64_t cols,
                             const char *const *row_labels, const char *const *col_labels,
                             const char *title, int causal)
{
    tril_status st = check_args(values, rows, cols, path);
    if (st != TRIL_OK) return st;
    geometry g;
    compute_geometry(values, rows, cols, row_labels, col_labels, title, causal, &g);
    const tril_heatmap_layout *L = &g.pub;
    tril_canvas canvas;
    st = tril_canvas_create(L->width, L->height, WHITE, &canvas);
    if (st != TRIL_OK) return st;
    tril_canvas_text(&canvas, MARGIN, g.title_y, title ? title : "", TEXT, INK);
    tril_canvas_text(&canvas, L->grid_x, g.axis_y, AXIS_X, TEXT, INK);
    tril_canvas_text_vertical(&canvas, MARGIN, g.vtitle_bottom, AXIS_Y, TEXT, INK);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            tril_rgb c = causal && j > i ? MASKED : shade(values[i * cols + j], L->vmax);
            tril_canvas_fill_rect(&canvas, L->grid_x + (int32_t)j * L->cell,
                                  L->grid_y + (int32_t)i * L->cell, L->cell, L->cell, c);
        }
    if (L->cell >= 8) { /* thin grid lines between cells */
        const int32_t x0 = L->grid_x, y0 = L->grid_y, gw = L->grid_w, gh = L->grid_h;
        for (int64_t i = 0; i <= rows; i++)
            tril_canvas_line(&canvas, x0, y0 + (int32_t)i * L->cell, x0 + gw,
                             y0 + (int32_t)i * L->cell, GRID);
        for (int64_t j = 0; j <= cols; j++)
            tril_canvas_line(&canvas, x0 + (int32_t)j * L->cell, y0, x0 + (int32_t)j * L->cell,
                             y0 + gh, GRID);
    }
    draw_labels(&canvas, &g, rows, cols, row_labels, col_labels);
    draw_scale(&canvas, &g, causal);
    st = tril_canvas_save_png(&canvas, path);
    tril_canvas_free(&canvas);
    return st;
}

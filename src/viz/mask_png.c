/* viz/mask_png.c - a picture of the causal mask.
 *
 * Queries run down (row i), keys across (column j); cell (i, j) is visible
 * iff j <= (kv_len - q_len) + i, the same rule the kernels use
 * (tril_causal_visible). The picture, top to bottom:
 *
 *   title                      "causal mask (tril): 8 queries x 8 keys"
 *   top axis label             "key position j ->"
 *   column tick numbers
 *   | row ticks | grid of q_len x kv_len cells, "1"/"0" in each when big enough
 *   legend                     "1 = visible ...", "0 = masked (future)"
 *
 * with "query position i" written bottom-to-top down the left side. */
#include "tril/attention.h"
#include "tril/image.h"

#include <stdio.h>

#define MAX_N 4096       /* largest q_len / kv_len accepted */
#define MARGIN 16        /* px around everything */
#define TEXT_SCALE 2     /* title, axis labels, legend: 10x14 px glyphs */
#define GRID_TARGET 768  /* px the longer grid side aims for */
#define MAX_CELL 48      /* px; keeps tiny masks (N <= 16) from ballooning */
#define SAMPLED_GRID 1024 /* px of the longer side once cells drop below 1 px */
#define LABEL_MAX_N 64   /* above this, no per-cell "1"/"0" and no grid lines */
#define MIN_GRID_SIDE 4  /* px; a 1 x 4096 mask still shows a visible strip */

static const tril_rgb WHITE = {255, 255, 255};
static const tril_rgb INK = {20, 20, 20};           /* text */
static const tril_rgb BORDER = {60, 60, 60};        /* frame, tick marks */
static const tril_rgb VISIBLE = {52, 101, 164};     /* a blue */
static const tril_rgb MASKED = {222, 222, 222};     /* light grey */
static const tril_rgb MASKED_INK = {120, 120, 120}; /* the "0" on grey */

static const char AXIS_X[] = "key position j ->";
static const char AXIS_Y[] = "query position i";
static const char LEGEND_MASKED[] = "0 = masked (future)";

/* Everything tril_mask_png needs beyond the public layout. */
typedef struct {
    tril_mask_layout pub;
    int32_t tick_scale;         /* font scale of the tick numbers */
    int64_t col_step, row_step; /* label every step-th column / row */
    int32_t col_need, row_need; /* px two column / row numbers need apart */
    int32_t title_y, axis_y, tick_y;
    int32_t vlabel_x, vlabel_bottom; /* "query position i", bottom-left */
    int32_t row_tick_right;          /* row numbers end just left of this x */
    int32_t legend_x, legend_y;
    char title[96];
    char legend_visible[64];
} geometry;

static int32_t max32(int32_t a, int32_t b) { return a > b ? a : b; }

/* Smallest of 1, 2, 5, 10, 20, 50, ... so that labels `step` cells apart are
 * at least `need` px apart. */
static int64_t tick_step(double pitch, int32_t need)
{
    for (int64_t decade = 1;; decade *= 10) {
        static const int mult[3] = {1, 2, 5};
        for (int m = 0; m < 3; m++)
            if ((double)(decade * mult[m]) * pitch >= need) return decade * mult[m];
        /* Past every index: only 0 gets a number (a mask squeezed to 4 px). */
        if (decade * 5 >= MAX_N) return decade * 10;
    }
}

static void compute_geometry(int64_t q_len, int64_t kv_len, geometry *g)
{
    tril_mask_layout *L = &g->pub;
    int64_t max_n = q_len > kv_len ? q_len : kv_len;
    const int32_t th = tril_text_height(TEXT_SCALE);

    /* Cell size: square cells of a whole number of px when they fit; beyond
     * SAMPLED_GRID cells each pixel shows the cell under it. */
    if (max_n <= SAMPLED_GRID) {
        int64_t cell = GRID_TARGET / max_n;
        if (cell < 1) cell = 1;
        if (cell > MAX_CELL) cell = MAX_CELL;
        L->cell = (int32_t)cell;
        L->grid_w = (int32_t)(kv_len * cell);
        L->grid_h = (int32_t)(q_len * cell);
    } else {
        L->cell = 0;
        L->grid_w = (int32_t)(kv_len * SAMPLED_GRID / max_n);
        L->grid_h = (int32_t)(q_len * SAMPLED_GRID / max_n);
    }
    if (L->grid_w < MIN_GRID_SIDE || L->grid_h < MIN_GRID_SIDE) {
        L->grid_w = max32(L->grid_w, MIN_GRID_SIDE);
        L->grid_h = max32(L->grid_h, MIN_GRID_SIDE);
        L->cell = 0; /* no longer square */
    }
    /* N <= 64 always gives cells of >= 12 px: room for a 5x7 digit. */
    int labelled = max_n <= LABEL_MAX_N && L->cell > 0;
    L->grid_lines = labelled;
    L->label_scale = labelled ? max32(1, (L->cell + 4) / 16) : 0;
    L->visible = VISIBLE;
    L->masked = MASKED;

    /* Tick numbers: as wide as the largest index, spaced so they never touch. */
    g->tick_scale = L->cell >= 24 ? 2 : 1;
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)(kv_len - 1));
    int32_t col_tick_w = tril_text_width(buf, g->tick_scale);
    snprintf(buf, sizeof buf, "%lld", (long long)(q_len - 1));
    int32_t row_tick_w = tril_text_width(buf, g->tick_scale);
    int32_t tick_h = tril_text_height(g->tick_scale);
    g->col_need = col_tick_w + 6;
    g->row_need = tick_h + 4;
    g->col_step = tick_step((double)L->grid_w / (double)kv_len, g->col_need);
    g->row_step = tick_step((double)L->grid_h / (double)q_len, g->row_need);

    /* Columns, left to right: margin, vertical label, row numbers, tick
     * marks, frame, grid. */
    g->vlabel_x = MARGIN;
    g->row_tick_right = MARGIN + th + 10 + row_tick_w;
    L->grid_x = g->row_tick_right + 10;
    /* Rows, top to bottom: margin, title, axis label, column numbers, grid. */
    g->title_y = MARGIN;
    g->axis_y = g->title_y + th + 12;
    g->tick_y = g->axis_y + th + 8;
    L->grid_y = g->tick_y + tick_h + 10;

    /* "query position i" is centred on the grid, or hangs below its top when
     * the grid is shorter than the label. */
    int32_t vlabel_len = tril_text_width(AXIS_Y, TEXT_SCALE);
    g->vlabel_bottom = vlabel_len <= L->grid_h ? L->grid_y + (L->grid_h + vlabel_len) / 2 - 1
                                               : L->grid_y + vlabel_len - 1;
    int32_t left_bottom = max32(L->grid_y + L->grid_h + 1, g->vlabel_bottom + 1);

    snprintf(g->title, sizeof g->title, "causal mask (tril): %lld %s x %lld %s",
             (long long)q_len, q_len == 1 ? "query" : "queries", (long long)kv_len,
             kv_len == 1 ? "key" : "keys");
    int64_t past = kv_len - q_len;
    if (past == 0)
        snprintf(g->legend_visible, sizeof g->legend_visible, "1 = visible (j <= i)");
    else
        snprintf(g->legend_visible, sizeof g->legend_visible, "1 = visible (j <= i %c %lld)",
                 past > 0 ? '+' : '-', (long long)(past > 0 ? past : -past));

    g->legend_x = L->grid_x;
    g->legend_y = left_bottom + 20;
    L->height = g->legend_y + 24 + th + MARGIN; /* two legend rows */

    int32_t legend_w = max32(tril_text_width(g->legend_visible, TEXT_SCALE),
                             tril_text_width(LEGEND_MASKED, TEXT_SCALE));
    int32_t w = L->grid_x + L->grid_w + 24; /* room for half a tick number */
    w = max32(w, 2 * MARGIN + tril_text_width(g->title, TEXT_SCALE));
    w = max32(w, L->grid_x + tril_text_width(AXIS_X, TEXT_SCALE) + MARGIN);
    w = max32(w, g->legend_x + 22 + legend_w + MARGIN);
    L->width = w;
}

static tril_status check_sizes(int64_t q_len, int64_t kv_len)
{
    if (q_len < 1 || q_len > MAX_N || kv_len < 1 || kv_len > MAX_N)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "mask picture of %lld x %lld: q_len and kv_len must be in 1..%d",
                         (long long)q_len, (long long)kv_len, MAX_N);
    return TRIL_OK;
}

tril_status tril_mask_png_layout(int64_t q_len, int64_t kv_len, tril_mask_layout *layout)
{
    if (!layout) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "layout is NULL");
    tril_status st = check_sizes(q_len, kv_len);
    if (st != TRIL_OK) return st;
    geometry g;
    compute_geometry(q_len, kv_len, &g);
    *layout = g.pub;
    return TRIL_OK;
}

/* First pixel (x or y, relative to the grid) of cell `idx` of `n` over `span`
 * px; the inverse of px * n / span. */
static int32_t cell_start(int64_t idx, int64_t n, int32_t span)
{
    return (int32_t)((idx * span + n - 1) / n);
}

/* Centre pixel of cell idx, relative to the grid. */
static int32_t cell_centre(int64_t idx, int64_t n, int32_t span)
{
    return (int32_t)(((2 * idx + 1) * span) / (2 * n));
}

static void draw_cells(tril_canvas *c, const geometry *g, int64_t q_len, int64_t kv_len)
{
    const tril_mask_layout *L = &g->pub;
    /* Per pixel: the cell under it decides the colour; with whole-pixel
     * cells this is exactly the cell x cell squares. */
    for (int32_t py = 0; py < L->grid_h; py++) {
        int64_t i = (int64_t)py * q_len / L->grid_h;
        uint8_t *row = c->pixels + ((size_t)(L->grid_y + py) * (size_t)c->width + L->grid_x) * 3;
        for (int32_t px = 0; px < L->grid_w; px++) {
            int64_t j = (int64_t)px * kv_len / L->grid_w;
            tril_rgb col = tril_causal_visible(i, j, q_len, kv_len) ? L->visible : L->masked;
            row[3 * px + 0] = col.r;
            row[3 * px + 1] = col.g;
            row[3 * px + 2] = col.b;
        }
    }
    if (L->grid_lines) {
        for (int64_t j = 1; j < kv_len; j++)
            tril_canvas_fill_rect(c, L->grid_x + cell_start(j, kv_len, L->grid_w), L->grid_y, 1,
                                  L->grid_h, WHITE);
        for (int64_t i = 1; i < q_len; i++)
            tril_canvas_fill_rect(c, L->grid_x, L->grid_y + cell_start(i, q_len, L->grid_h),
                                  L->grid_w, 1, WHITE);
    }
    if (L->label_scale > 0) {
        int32_t tw = tril_text_width("0", L->label_scale), th = tril_text_height(L->label_scale);
        for (int64_t i = 0; i < q_len; i++) {
            for (int64_t j = 0; j < kv_len; j++) {
                int vis = tril_causal_visible(i, j, q_len, kv_len);
                int32_t x = L->grid_x + cell_centre(j, kv_len, L->grid_w) - tw / 2;
                int32_t y = L->grid_y + cell_centre(i, q_len, L->grid_h) - th / 2;
                tril_canvas_text(c, x, y, vis ? "1" : "0", L->label_scale,
                                 vis ? WHITE : MASKED_INK);
            }
        }
    }
}

/* One tick: a short mark at the centre of cell v and its number, above the
 * grid for columns (axis 0), right-aligned left of it for rows (axis 1). */
static void draw_tick(tril_canvas *c, const geometry *g, int axis, int64_t v, int64_t n,
                      int32_t span)
{
    const tril_mask_layout *L = &g->pub;
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    int32_t tw = tril_text_width(buf, g->tick_scale);
    int32_t centre = cell_centre(v, n, span);
    if (axis == 0) {
        int32_t x = L->grid_x + centre;
        tril_canvas_fill_rect(c, x, L->grid_y - 5, 1, 4, BORDER);
        tril_canvas_text(c, x - tw / 2, g->tick_y, buf, g->tick_scale, INK);
    } else {
        int32_t y = L->grid_y + centre;
        tril_canvas_fill_rect(c, L->grid_x - 5, y, 4, 1, BORDER);
        tril_canvas_text(c, g->row_tick_right - tw, y - tril_text_height(g->tick_scale) / 2,
                         buf, g->tick_scale, INK);
    }
}

/* Every step-th index is numbered; the last index is numbered too when it is
 * far enough from the previous number not to touch it. */
static void draw_ticks(tril_canvas *c, const geometry *g, int64_t q_len, int64_t kv_len)
{
    const tril_mask_layout *L = &g->pub;
    for (int axis = 0; axis < 2; axis++) {
        int64_t n = axis == 0 ? kv_len : q_len;
        int64_t step = axis == 0 ? g->col_step : g->row_step;
        int32_t span = axis == 0 ? L->grid_w : L->grid_h;
        for (int64_t idx = 0; idx < n; idx += step) draw_tick(c, g, axis, idx, n, span);
        int64_t last = n - 1, rem = last % step;
        int32_t need = axis == 0 ? g->col_need : g->row_need;
        if (rem != 0 && (double)rem * span / (double)n >= need)
            draw_tick(c, g, axis, last, n, span);
    }
}

tril_status tril_mask_png(const char *path, int64_t q_len, int64_t kv_len)
{
    if (!path) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "PNG path is NULL");
    tril_status st = check_sizes(q_len, kv_len);
    if (st != TRIL_OK) return st;
    geometry g;
    compute_geometry(q_len, kv_len, &g);
    const tril_mask_layout *L = &g.pub;

    tril_canvas c;
    st = tril_canvas_create(L->width, L->height, WHITE, &c);
    if (st != TRIL_OK) return st;

    tril_canvas_text(&c, MARGIN, g.title_y, g.title, TEXT_SCALE, INK);
    tril_canvas_text(&c, L->grid_x, g.axis_y, AXIS_X, TEXT_SCALE, INK);
    tril_canvas_text_vertical(&c, g.vlabel_x, g.vlabel_bottom, AXIS_Y, TEXT_SCALE, INK);
    /* A 1-px frame just outside the grid; the cells then paint its inside. */
    tril_canvas_fill_rect(&c, L->grid_x - 1, L->grid_y - 1, L->grid_w + 2, L->grid_h + 2, BORDER);
    draw_cells(&c, &g, q_len, kv_len);
    draw_ticks(&c, &g, q_len, kv_len);

    /* Legend: a framed swatch of each colour and what it means. */
    const int32_t sw = tril_text_height(TEXT_SCALE);
    for (int k = 0; k < 2; k++) {
        int32_t y = g.legend_y + k * 24;
        tril_canvas_fill_rect(&c, g.legend_x, y, sw, sw, BORDER);
        tril_canvas_fill_rect(&c, g.legend_x + 1, y + 1, sw - 2, sw - 2,
                              k == 0 ? L->visible : L->masked);
        tril_canvas_text(&c, g.legend_x + 22, y, k == 0 ? g.legend_visible : LEGEND_MASKED,
                         TEXT_SCALE, INK);
    }

    st = tril_canvas_save_png(&c, path);
    tril_canvas_free(&c);
    return st;
}

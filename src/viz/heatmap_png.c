/* viz/heatmap_png.c - attention probabilities as a picture: queries down,
 * keys across, token strings on both axes, the masked future in grey. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tril/image.h"

#define MAX_SIDE 512
#define MARGIN 16
#define TEXT 2 /* scale of title and labels */

static const tril_rgb WHITE = {255, 255, 255}, INK = {20, 20, 20};
static const tril_rgb MASKED = {222, 222, 222}, GRID = {235, 235, 235};

/* White (0) to dark blue (1). */
static tril_rgb shade(float v)
{
    if (!(v > 0.0f)) v = 0.0f;
    if (v > 1.0f) v = 1.0f;
    v = sqrtf(v); /* small probabilities stay visible */
    tril_rgb c = {(uint8_t)(255 - v * (255 - 8)), (uint8_t)(255 - v * (255 - 48)),
                  (uint8_t)(255 - v * (255 - 107))};
    return c;
}

static int32_t longest(const char *const *labels, int64_t n, int32_t max_chars)
{
    int32_t w = 0;
    for (int64_t i = 0; labels && i < n; i++) {
        int32_t len = (int32_t)strlen(labels[i]);
        w = len > w ? len : w;
    }
    return (w > max_chars ? max_chars : w);
}

/* A label cut to max_chars characters. */
static void clip(char *dst, size_t size, const char *src, int32_t max_chars)
{
    snprintf(dst, size, "%.*s", (int)max_chars, src ? src : "");
}

tril_status tril_heatmap_png(const char *path, const float *values, int64_t rows, int64_t cols,
                             const char *const *row_labels, const char *const *col_labels,
                             const char *title, int causal)
{
    if (!path || !values)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "heatmap: path and values must not be NULL");
    if (rows < 1 || cols < 1 || rows > MAX_SIDE || cols > MAX_SIDE)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "heatmap: %lld x %lld is outside 1..%d",
                         (long long)rows, (long long)cols, MAX_SIDE);
    const int32_t max_chars = 16;
    const int32_t side = rows > cols ? (int32_t)rows : (int32_t)cols;
    const int32_t cell = side <= 24 ? 32 : side <= 96 ? 768 / side : (side <= 384 ? 2 : 1);
    const int32_t glyph_h = tril_text_height(TEXT);
    const int32_t row_w = tril_text_width("M", TEXT) * longest(row_labels, rows, max_chars);
    const int32_t col_h = tril_text_width("M", TEXT) * longest(col_labels, cols, max_chars);
    const int32_t label_ok = cell >= glyph_h; /* labels only when they fit a cell */
    const int32_t x0 = MARGIN + (label_ok ? row_w + 8 : 0);
    const int32_t y0 = MARGIN + glyph_h + 20 + (label_ok ? col_h + 8 : 0);
    const int32_t gw = cell * (int32_t)cols, gh = cell * (int32_t)rows;
    int32_t width = x0 + gw + MARGIN, title_w = tril_text_width(title ? title : "", TEXT);
    if (MARGIN * 2 + title_w > width) width = MARGIN * 2 + title_w;
    tril_canvas canvas;
    tril_status st = tril_canvas_create(&canvas, width, y0 + gh + MARGIN, WHITE);
    if (st != TRIL_OK) return st;
    tril_canvas_text(&canvas, MARGIN, MARGIN, title ? title : "", TEXT, INK);
    char buf[32];
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < cols; j++) {
            tril_rgb c = causal && j > i ? MASKED : shade(values[i * cols + j]);
            tril_canvas_fill_rect(&canvas, x0 + (int32_t)j * cell, y0 + (int32_t)i * cell, cell,
                                  cell, c);
        }
        if (label_ok && row_labels) {
            clip(buf, sizeof buf, row_labels[i], max_chars);
            tril_canvas_text(&canvas, x0 - 8 - tril_text_width(buf, TEXT),
                             y0 + (int32_t)i * cell + (cell - glyph_h) / 2, buf, TEXT, INK);
        }
    }
    for (int64_t j = 0; label_ok && col_labels && j < cols; j++) {
        clip(buf, sizeof buf, col_labels[j], max_chars);
        tril_canvas_text_vertical(&canvas, x0 + (int32_t)j * cell + (cell - glyph_h) / 2, y0 - 8,
                                  buf, TEXT, INK);
    }
    if (cell >= 8) { /* thin grid lines between cells */
        for (int64_t i = 0; i <= rows; i++)
            tril_canvas_line(&canvas, x0, y0 + (int32_t)i * cell, x0 + gw, y0 + (int32_t)i * cell, GRID);
        for (int64_t j = 0; j <= cols; j++)
            tril_canvas_line(&canvas, x0 + (int32_t)j * cell, y0, x0 + (int32_t)j * cell, y0 + gh, GRID);
    }
    st = tril_canvas_save_png(&canvas, path);
    tril_canvas_free(&canvas);
    return st;
}

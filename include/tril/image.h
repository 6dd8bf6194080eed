/* tril/image.h - a small RGB canvas with text, saved as PNG (libpng).
 *
 * Used to draw the causal mask, attention maps and loss curves. Coordinates
 * are pixels, (0,0) is the top-left corner. */
#ifndef TRIL_IMAGE_H
#define TRIL_IMAGE_H

#include <stdint.h>

#include "tril/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint8_t r, g, b;
} tril_rgb;

typedef struct {
    int32_t width;
    int32_t height;
    uint8_t *pixels; /* [height, width, 3] */
} tril_canvas;

/* Allocates a width x height canvas filled with `background`. */
tril_status tril_canvas_create(tril_canvas *canvas, int32_t width, int32_t height,
                               tril_rgb background);
void tril_canvas_free(tril_canvas *canvas);

/* Fill a rectangle (clipped to the canvas). */
void tril_canvas_fill_rect(tril_canvas *canvas, int32_t x, int32_t y, int32_t w, int32_t h,
                           tril_rgb color);
/* A 1-pixel line (clipped). */
void tril_canvas_line(tril_canvas *canvas, int32_t x0, int32_t y0, int32_t x1, int32_t y1,
                      tril_rgb color);
/* Draw ASCII text with the built-in 5x7 font scaled by `scale` (>= 1); the
 * top-left of the first glyph is at (x, y). Characters outside printable ASCII
 * draw as '?'. Returns the width in pixels of what was drawn. */
int32_t tril_canvas_text(tril_canvas *canvas, int32_t x, int32_t y, const char *text,
                         int32_t scale, tril_rgb color);
/* Same, rotated 90 degrees counter-clockwise (reads bottom to top), for
 * vertical axis labels; (x, y) is the bottom-left of the first glyph. */
int32_t tril_canvas_text_vertical(tril_canvas *canvas, int32_t x, int32_t y, const char *text,
                                  int32_t scale, tril_rgb color);
/* Width and height in pixels that `text` would take at `scale`. */
int32_t tril_text_width(const char *text, int32_t scale);
int32_t tril_text_height(int32_t scale);

/* Write the canvas as an 8-bit RGB PNG. Errors: TRIL_ERR_IO with the path. */
tril_status tril_canvas_save_png(const tril_canvas *canvas, const char *path);

/* Draw the causal mask of q_len queries over kv_len keys (queries down, keys
 * across; row i sees keys j <= kv_len - q_len + i): visible cells in one
 * colour marked "1", masked cells in another marked "0", axis labels, a title
 * and a legend. Saves to `path` as PNG. */
tril_status tril_mask_png(const char *path, int64_t q_len, int64_t kv_len);

/* Where tril_mask_png puts things, so callers (and tests) can find a cell.
 * Cell (i, j) covers the pixels x in [grid_x + j*grid_w/kv_len,
 * grid_x + (j+1)*grid_w/kv_len) and y in [grid_y + i*grid_h/q_len,
 * grid_y + (i+1)*grid_h/q_len) (integer division); with cell > 0 that is
 * simply a cell x cell square at (grid_x + j*cell, grid_y + i*cell). */
typedef struct {
    int32_t width, height;  /* the whole image, pixels */
    int32_t grid_x, grid_y; /* top-left pixel of cell (0, 0) */
    int32_t grid_w, grid_h; /* pixels covered by the kv_len x q_len cells */
    int32_t cell;           /* side of a square cell in pixels; 0 when cells
                               are not whole pixels (large N: each pixel shows
                               the cell under it) */
    int32_t label_scale;    /* font scale of the "1"/"0" in each cell; 0 when
                               cells are too small and carry no label */
    int32_t grid_lines;     /* 1 if a 1-px line separates neighbouring cells
                               (the left column of cells j >= 1 and the top row
                               of cells i >= 1) */
    tril_rgb visible;       /* fill of visible cells */
    tril_rgb masked;        /* fill of masked (future) cells */
} tril_mask_layout;

/* The layout tril_mask_png uses for q_len x kv_len (both 1..4096, else
 * TRIL_ERR_INVALID_ARG). */
tril_status tril_mask_png_layout(int64_t q_len, int64_t kv_len, tril_mask_layout *layout);

/* A heatmap of values in [0, 1] ([rows, cols], row-major): white to dark
 * blue, rows down and columns across, labelled with the given strings
 * (printable ASCII; others draw as '?'). With `causal` set, cells with
 * j > i are drawn as masked (grey): the attention a row may not pay. Sizes
 * 1..512. */
tril_status tril_heatmap_png(const char *path, const float *values, int64_t rows, int64_t cols,
                             const char *const *row_labels, const char *const *col_labels,
                             const char *title, int causal);

#ifdef __cplusplus
}
#endif
#endif /* TRIL_IMAGE_H */

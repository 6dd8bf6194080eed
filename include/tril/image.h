/* tril/image.h - a small RGB canvas with text, saved as PNG (libpng).
 *
 * Used to draw the causal mask, attention maps and loss curves. Coordinates
 * are pixels, (0,0) is the top-left corner. */
#ifndef TRIL_IMAGE_H
#define TRIL_IMAGE_H

#include <stddef.h>
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

/* Allocates a width x height canvas filled with `background` into *out
 * (zeroed on failure). */
tril_status tril_canvas_create(int32_t width, int32_t height, tril_rgb background,
                               tril_canvas *out);
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

/* A heatmap of values >= 0 ([rows, cols], row-major; sizes 1..512): rows
 * down, columns across, coloured white (0) to dark blue (the largest value
 * drawn, vmax) along sqrt(value / vmax), so that small probabilities stay
 * visible; a colour scale with values 0 .. vmax on the right. With `causal`
 * set, cells with j > i are grey: the attention a row may not pay.
 *
 * Labels are raw bytes (a token's text; NULL arrays or entries: no text),
 * drawn escaped: a space as a middle dot, '\n' as a return arrow, '\t' as a
 * right arrow, '\\' as two backslashes, any other byte outside printable
 * ASCII (controls, UTF-8) as \xNN; cut to 12 characters with an ellipsis.
 * When cells are thinner than a line of text only every label_step-th row
 * and column is labelled (step 1, 2, 5, 10, ...), its label starting with
 * its position ("40 " + text) and a tick mark pointing at its cell. Column
 * labels are upright when each fits its column, else each whole label is
 * turned to read bottom to top. Axis titles name the query and key axes. */
tril_status tril_heatmap_png(const char *path, const float *values, int64_t rows, int64_t cols,
                             const char *const *row_labels, const char *const *col_labels,
                             const char *title, int causal);

/* Where tril_heatmap_png puts things. Cell (i, j) is the cell x cell square
 * at (grid_x + j*cell, grid_y + i*cell). The colour scale's pixel row
 * bar_y + bar_h - 1 - r (r = 0 at the bottom) across bar_x .. bar_x + bar_w
 * - 1 shows value (r / (bar_h - 1))^2 * vmax: `low` at the bottom, `high` at
 * the top. */
typedef struct {
    int32_t width, height;
    int32_t grid_x, grid_y, grid_w, grid_h;
    int32_t cell;                     /* px per cell side */
    int64_t label_step;               /* rows/columns 0, step, 2*step, ... are labelled */
    int32_t col_labels_rotated;       /* 1: whole labels read bottom to top */
    int32_t row_label_x0, row_label_x1; /* row labels lie within these x (right-aligned) */
    int32_t col_label_y0, col_label_y1; /* column labels lie within these y */
    int32_t bar_x, bar_y, bar_w, bar_h; /* the colour scale */
    float vmax;                       /* value of the scale's top (1 if nothing > 0) */
    tril_rgb low, high, masked;       /* scale ends; masked cells */
} tril_heatmap_layout;

/* The layout tril_heatmap_png uses for the same arguments (less the path). */
tril_status tril_heatmap_png_layout(const float *values, int64_t rows, int64_t cols,
                                    const char *const *row_labels,
                                    const char *const *col_labels, const char *title,
                                    int causal, tril_heatmap_layout *layout);

/* One run's losses for tril_loss_png: n rows of step (finite), training loss
 * and validation loss (NaN where absent; either array may be NULL). */
typedef struct {
    const double *step, *train, *val;
    size_t n;
    const char *label; /* legend name, raw bytes (escaped as for heatmaps but
                          spaces stay spaces), cut with an ellipsis to
                          the picture's width (49 characters) */
} tril_loss_run;

/* Loss curves of 1 or 2 runs against the step: training as lines, validation
 * as lines with markers, a point with no neighbour as a marker. Steps get
 * whole-number ticks. The y range leaves out far outliers (a value more
 * than 10 times the rest's scale beyond all the others, at most a tenth of
 * the values); curves are clipped to the frame and values off the scale are
 * triangles on its top or bottom edge, counted in a note under the title.
 * Errors: TRIL_ERR_INVALID_ARG (no runs, n = 0, a non-finite step, no
 * finite loss at all, steps or losses spanning more than DBL_MAX),
 * TRIL_ERR_IO. */
tril_status tril_loss_png(const char *path, const tril_loss_run *runs, int n_runs);

/* Where tril_loss_png puts things. A value (x, y) inside the frame is at
 * pixel (frame_x + lround((x - xmin) / (xmax - xmin) * frame_w),
 * frame_y + frame_h - lround((y - ymin) / (ymax - ymin) * frame_h)); the
 * frame's border lines are x = frame_x, frame_x + frame_w and y = frame_y,
 * frame_y + frame_h, and curves stay strictly inside them. */
typedef struct {
    int32_t width, height;
    int32_t frame_x, frame_y, frame_w, frame_h;
    double xmin, xmax, ymin, ymax; /* values at the frame's edges */
    double x_tick, y_tick;         /* spacing of the grid lines (x_tick >= 1) */
    int32_t legend_y, legend_row_h; /* legend row r: y in [legend_y + r*row_h, +row_h) */
    int64_t n_clipped;             /* values off the scale */
    tril_rgb colors[2][2];         /* [run][0 = train, 1 = val] */
    tril_rgb grid, background;
} tril_loss_layout;

tril_status tril_loss_png_layout(const tril_loss_run *runs, int n_runs, tril_loss_layout *layout);

#ifdef __cplusplus
}
#endif
#endif /* TRIL_IMAGE_H */

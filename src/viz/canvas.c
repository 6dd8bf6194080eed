/* viz/canvas.c - an RGB canvas: rectangles, lines and 5x7 bitmap text.
 *
 * pixels is [height, width, 3] bytes, row-major, (0,0) top-left. Drawing
 * calls clip to the canvas and silently ignore a NULL or empty canvas: they
 * are used for decoration, and a caller drawing partly off-canvas (a long
 * label, a line from far away) is normal, not an error. */
#include "tril/image.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "viz/font5x7.h"
#include "viz/text_sym.h"

#define MAX_SIDE 32768 /* pixels; keeps width*height*3 far from any overflow */
#define MAX_SCALE 256  /* font scale; larger is surely a bug, and it bounds 7*scale */

tril_status tril_canvas_create(int32_t width, int32_t height, tril_rgb background,
                               tril_canvas *canvas)
{
    if (!canvas) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "canvas is NULL");
    canvas->width = 0;
    canvas->height = 0;
    canvas->pixels = NULL;
    if (width <= 0 || height <= 0 || width > MAX_SIDE || height > MAX_SIDE)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "canvas size %ld x %ld: each side must be in 1..%d",
                         (long)width, (long)height, MAX_SIDE);
    /* 32768^2 * 3 = 3 GiB fits 64-bit size_t but not a 32-bit one. */
    uint64_t n_pixels = (uint64_t)width * (uint64_t)height;
    if (n_pixels > SIZE_MAX / 3)
        return TRIL_FAIL(TRIL_ERR_NOMEM, "canvas %ld x %ld is too large for this platform",
                         (long)width, (long)height);
    size_t n_bytes = (size_t)n_pixels * 3;
    uint8_t *pixels = malloc(n_bytes);
    if (!pixels)
        return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot allocate a %ld x %ld canvas (%zu bytes)",
                         (long)width, (long)height, n_bytes);
    for (size_t p = 0; p < (size_t)n_pixels; p++) {
        pixels[3 * p + 0] = background.r;
        pixels[3 * p + 1] = background.g;
        pixels[3 * p + 2] = background.b;
    }
    canvas->width = width;
    canvas->height = height;
    canvas->pixels = pixels;
    return TRIL_OK;
}

void tril_canvas_free(tril_canvas *canvas)
{
    if (!canvas) return;
    free(canvas->pixels);
    canvas->pixels = NULL;
    canvas->width = 0;
    canvas->height = 0;
}

static int canvas_ok(const tril_canvas *canvas)
{
    return canvas && canvas->pixels && canvas->width > 0 && canvas->height > 0;
}

/* Caller guarantees 0 <= x < width and 0 <= y < height. */
static void put_pixel(tril_canvas *canvas, int64_t x, int64_t y, tril_rgb color)
{
    uint8_t *p = canvas->pixels + ((size_t)y * (size_t)canvas->width + (size_t)x) * 3;
    p[0] = color.r;
    p[1] = color.g;
    p[2] = color.b;
}

void tril_canvas_fill_rect(tril_canvas *canvas, int32_t x, int32_t y, int32_t w, int32_t h,
                           tril_rgb color)
{
    if (!canvas_ok(canvas) || w <= 0 || h <= 0) return;
    /* int64: x + w can overflow int32 for a rectangle far to the right. */
    int64_t x0 = x, y0 = y, x1 = (int64_t)x + w, y1 = (int64_t)y + h;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > canvas->width) x1 = canvas->width;
    if (y1 > canvas->height) y1 = canvas->height;
    for (int64_t yy = y0; yy < y1; yy++)
        for (int64_t xx = x0; xx < x1; xx++) put_pixel(canvas, xx, yy, color);
}

/* Liang-Barsky: clip the segment to [lo_x, hi_x] x [lo_y, hi_y]. Returns 0 if
 * nothing is left. Only used for lines with far-away endpoints, so that
 * Bresenham never walks billions of off-canvas steps. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1, double lo_x,
                        double lo_y, double hi_x, double hi_y)
{
    double dx = *x1 - *x0, dy = *y1 - *y0;
    double p[4] = {-dx, dx, -dy, dy};
    double q[4] = {*x0 - lo_x, hi_x - *x0, *y0 - lo_y, hi_y - *y0};
    double t0 = 0.0, t1 = 1.0;
    for (int k = 0; k < 4; k++) {
        if (p[k] == 0.0) {
            if (q[k] < 0.0) return 0; /* parallel to this edge and outside */
            continue;
        }
        double t = q[k] / p[k];
        if (p[k] < 0.0) {
            if (t > t1) return 0;
            if (t > t0) t0 = t;
        } else {
            if (t < t0) return 0;
            if (t < t1) t1 = t;
        }
    }
    double ox = *x0, oy = *y0;
    *x0 = ox + t0 * dx;
    *y0 = oy + t0 * dy;
    *x1 = ox + t1 * dx;
    *y1 = oy + t1 * dy;
    return 1;
}

void tril_canvas_line(tril_canvas *canvas, int32_t x0, int32_t y0, int32_t x1, int32_t y1,
                      tril_rgb color)
{
    if (!canvas_ok(canvas)) return;
    int64_t ax = x0, ay = y0, bx = x1, by = y1;
    /* Endpoints within this slack of the canvas are walked exactly (at most
     * ~100k steps); farther ones are clipped first. */
    const int64_t slack = 65536;
    int far = ax < -slack || ay < -slack || bx < -slack || by < -slack ||
              ax > canvas->width + slack || bx > canvas->width + slack ||
              ay > canvas->height + slack || by > canvas->height + slack;
    if (far) {
        double fx0 = ax, fy0 = ay, fx1 = bx, fy1 = by;
        if (!clip_segment(&fx0, &fy0, &fx1, &fy1, -1.0, -1.0, canvas->width,
                          canvas->height))
            return;
        ax = (int64_t)lround(fx0);
        ay = (int64_t)lround(fy0);
        bx = (int64_t)lround(fx1);
        by = (int64_t)lround(fy1);
    }
    /* Bresenham, all octants: err tracks dx*y - dy*x relative to the ideal
     * line; int64 so that the doubled deltas never overflow. */
    int64_t dx = bx > ax ? bx - ax : ax - bx;
    int64_t dy = by > ay ? ay - by : by - ay; /* -|dy| */
    int64_t sx = ax < bx ? 1 : -1, sy = ay < by ? 1 : -1;
    int64_t err = dx + dy;
    for (;;) {
        if (ax >= 0 && ay >= 0 && ax < canvas->width && ay < canvas->height)
            put_pixel(canvas, ax, ay, color);
        if (ax == bx && ay == by) break;
        int64_t e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            ax += sx;
        }
        if (e2 <= dx) {
            err += dx;
            ay += sy;
        }
    }
}

static int32_t clamp_scale(int32_t scale)
{
    if (scale < 1) return 1;
    if (scale > MAX_SCALE) return MAX_SCALE;
    return scale;
}

int32_t tril_text_width(const char *text, int32_t scale)
{
    if (!text || !text[0]) return 0;
    scale = clamp_scale(scale);
    /* n glyphs of 5 columns with n-1 one-column gaps; saturate rather than
     * overflow for absurdly long strings. */
    int64_t cols = (int64_t)strlen(text) * TRIL_FONT_ADVANCE - 1;
    int64_t px = cols * scale;
    return px > INT32_MAX ? INT32_MAX : (int32_t)px;
}

int32_t tril_text_height(int32_t scale) { return TRIL_FONT_H * clamp_scale(scale); }

/* One glyph with its unrotated column c / row r drawn as a scale x scale
 * block. Horizontal: block at (gx + c*s, gy + r*s). Vertical (rotated 90
 * degrees counter-clockwise): columns go up and rows go right, so the block
 * is at (gx + r*s, gy - (c+1)*s + 1) with (gx, gy) the glyph's bottom-left. */
static void draw_glyph(tril_canvas *canvas, int64_t gx, int64_t gy, unsigned char ch,
                       int32_t s, int vertical, int symbols, tril_rgb color)
{
    const uint8_t *cols = symbols ? tril_font5x7_symbol(ch) : tril_font5x7_glyph(ch);
    for (int c = 0; c < TRIL_FONT_W; c++) {
        for (int r = 0; r < TRIL_FONT_H; r++) {
            if (!(cols[c] >> r & 1)) continue;
            int64_t bx = vertical ? gx + (int64_t)r * s : gx + (int64_t)c * s;
            int64_t by = vertical ? gy - (int64_t)(c + 1) * s + 1 : gy + (int64_t)r * s;
            /* The caller only draws glyphs that touch the canvas, so these
             * fit int32; fill_rect clips the rest. */
            tril_canvas_fill_rect(canvas, (int32_t)bx, (int32_t)by, s, s, color);
        }
    }
}

/* Shared by both directions: the pen moves right (horizontal) or up
 * (vertical) by 6*scale per character. */
static int32_t draw_text(tril_canvas *canvas, int32_t x, int32_t y, const char *text,
                         int32_t scale, int vertical, int symbols, tril_rgb color)
{
    if (!text) return 0;
    int32_t s = clamp_scale(scale);
    int32_t width = tril_text_width(text, s);
    if (!canvas_ok(canvas)) return width;
    int64_t glyph_w = (int64_t)TRIL_FONT_W * s, glyph_h = (int64_t)TRIL_FONT_H * s;
    int64_t pen = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++, pen += TRIL_FONT_ADVANCE * s) {
        if (!vertical) {
            int64_t gx = (int64_t)x + pen;
            if (gx >= canvas->width) break; /* the rest is off to the right */
            if (gx + glyph_w <= 0 || y + glyph_h <= 0 || y >= canvas->height) continue;
            draw_glyph(canvas, gx, y, *p, s, 0, symbols, color);
        } else {
            int64_t gy = (int64_t)y - pen; /* bottom row of this glyph */
            if (gy < 0) break;               /* the rest is above the top */
            if (gy - glyph_w + 1 >= canvas->height || x + glyph_h <= 0 || x >= canvas->width)
                continue;
            draw_glyph(canvas, x, gy, *p, s, 1, symbols, color);
        }
    }
    return width;
}

int32_t tril_canvas_text(tril_canvas *canvas, int32_t x, int32_t y, const char *text,
                         int32_t scale, tril_rgb color)
{
    return draw_text(canvas, x, y, text, scale, 0, 0, color);
}

int32_t tril_canvas_text_vertical(tril_canvas *canvas, int32_t x, int32_t y, const char *text,
                                  int32_t scale, tril_rgb color)
{
    return draw_text(canvas, x, y, text, scale, 1, 0, color);
}

int32_t viz_text(tril_canvas *canvas, int32_t x, int32_t y, const char *text, int32_t scale,
                 int vertical, tril_rgb color)
{
    return draw_text(canvas, x, y, text, scale, vertical != 0, 1, color);
}

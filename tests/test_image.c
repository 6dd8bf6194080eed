/* test_image: the canvas, its 5x7 text, PNG output, the causal-mask
 * picture, the attention heatmap and the loss plot, checked by reading the PNGs back with libpng's simplified API. */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tril/attention.h"
#include "tril/image.h"
#include "viz/text_sym.h" /* viz_label: the escaping of label bytes */

static const tril_rgb BLACK = {0, 0, 0};
static const tril_rgb WHITE = {255, 255, 255};
static const tril_rgb RED = {200, 0, 0};
static const tril_rgb GREEN = {0, 180, 0};

/* A cmocka test function; the state argument is not used here. */
#define TEST(name) static void name(void **state __attribute__((unused)))

static void temp_path(char path[64])
{
    strcpy(path, "/tmp/tril_test_image_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
}

/* Reads a PNG back as RGB with libpng's simplified API; the pixels are
 * malloc'd like a canvas's, [height, width, 3]. */
static tril_canvas read_png(const char *path)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&image, path));
    image.format = PNG_FORMAT_RGB;
    tril_canvas out = {(int32_t)image.width, (int32_t)image.height,
                       malloc(PNG_IMAGE_SIZE(image))};
    assert_non_null(out.pixels);
    assert_true(png_image_finish_read(&image, NULL, out.pixels, 0, NULL));
    return out;
}

static int same(tril_rgb a, tril_rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

static tril_rgb canvas_at(const tril_canvas *c, int x, int y)
{
    const uint8_t *p = c->pixels + ((size_t)y * (size_t)c->width + (size_t)x) * 3;
    tril_rgb rgb = {p[0], p[1], p[2]};
    return rgb;
}

/* Pixel (x, y) of c is exactly `color`. */
static int is(const tril_canvas *c, int x, int y, tril_rgb color)
{
    return same(canvas_at(c, x, y), color);
}

static int count_color(const tril_canvas *c, tril_rgb color)
{
    int n = 0;
    for (int y = 0; y < c->height; y++)
        for (int x = 0; x < c->width; x++) n += is(c, x, y, color);
    return n;
}

TEST(test_canvas_rejects_bad_sizes)
{
    tril_canvas c;
    const int32_t bad[][2] = {{0, 10}, {10, 0}, {-1, 10}, {10, -5}, {32769, 1}, {1, 32769},
                              {INT32_MAX, INT32_MAX}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        c.pixels = (uint8_t *)&c; /* must be reset on failure */
        assert_int_equal(tril_canvas_create(bad[k][0], bad[k][1], WHITE, &c),
                         TRIL_ERR_INVALID_ARG);
        assert_true(c.pixels == NULL && c.width == 0 && c.height == 0);
    }
    assert_int_equal(tril_canvas_create(4, 4, WHITE, NULL), TRIL_ERR_INVALID_ARG);
    tril_canvas_free(NULL); /* harmless */
}

TEST(test_png_roundtrip)
{
    tril_canvas c;
    const tril_rgb bg = {10, 20, 30};
    assert_int_equal(tril_canvas_create(20, 10, bg, &c), TRIL_OK);
    tril_canvas_fill_rect(&c, 2, 3, 4, 5, RED); /* x 2..5, y 3..7 */
    tril_canvas_line(&c, 0, 9, 19, 9, GREEN);   /* the bottom row */
    char path[64];
    temp_path(path);
    assert_int_equal(tril_canvas_save_png(&c, path), TRIL_OK);
    tril_canvas img = read_png(path);
    assert_true(img.width == 20 && img.height == 10);
    assert_true(is(&img, 2, 3, RED) && is(&img, 5, 7, RED));
    assert_true(is(&img, 6, 3, bg) && is(&img, 1, 3, bg) && is(&img, 2, 8, bg));
    assert_true(is(&img, 0, 9, GREEN) && is(&img, 19, 9, GREEN) && is(&img, 0, 0, bg));
    assert_memory_equal(img.pixels, c.pixels, (size_t)20 * 10 * 3); /* every byte */
    free(img.pixels);
    unlink(path);
    tril_canvas_free(&c);
    assert_null(c.pixels);
}

TEST(test_rects_and_lines)
{
    tril_canvas c;
    assert_int_equal(tril_canvas_create(20, 10, BLACK, &c), TRIL_OK);
    tril_canvas_fill_rect(&c, -5, -5, 10, 10, RED); /* covers x 0..4, y 0..4 */
    assert_int_equal(count_color(&c, RED), 25);
    assert_true(is(&c, 4, 4, RED) && is(&c, 5, 0, BLACK));
    /* x + w overflows int32: must neither crash nor wrap around */
    tril_canvas_fill_rect(&c, INT32_MAX - 1, 0, INT32_MAX, 5, GREEN);
    tril_canvas_fill_rect(&c, 15, 8, INT32_MAX, INT32_MAX, GREEN); /* x 15..19, y 8..9 */
    tril_canvas_fill_rect(&c, INT32_MIN, INT32_MIN, 3, 3, GREEN);
    tril_canvas_fill_rect(&c, 0, 0, 0, 5, GREEN);  /* empty */
    tril_canvas_fill_rect(&c, 0, 0, -3, 5, GREEN); /* empty */
    assert_int_equal(count_color(&c, GREEN), 10);
    tril_canvas_fill_rect(NULL, 0, 0, 5, 5, GREEN);
    tril_canvas_free(&c);

    assert_int_equal(tril_canvas_create(20, 10, BLACK, &c), TRIL_OK);
    /* A shallow line steps once per column: 10 pixels, both ends included. */
    tril_canvas_line(&c, 0, 0, 9, 3, RED);
    assert_int_equal(count_color(&c, RED), 10);
    assert_true(is(&c, 0, 0, RED) && is(&c, 9, 3, RED));
    /* ... and each is the one nearest the ideal line y = x/3 (never a tie). */
    for (int x = 0; x < 10; x++) {
        int in_column = 0;
        for (int y = 0; y < 10; y++) in_column += is(&c, x, y, RED);
        assert_int_equal(in_column, 1);
        assert_true(is(&c, x, (x + 1) / 3, RED));
    }
    /* A steep one: one pixel per row, x nearest y/3. */
    tril_canvas_line(&c, 12, 0, 15, 9, WHITE);
    assert_int_equal(count_color(&c, WHITE), 10);
    for (int y = 0; y < 10; y++) assert_true(is(&c, 12 + (y + 1) / 3, y, WHITE));
    /* Drawn backwards it still starts and ends on the endpoints. */
    tril_canvas_line(&c, 9, 3, 0, 0, GREEN);
    assert_true(is(&c, 0, 0, GREEN) && is(&c, 9, 3, GREEN));
    tril_canvas_free(&c);

    /* Far endpoints are clipped, not walked for 4 billion steps. */
    assert_int_equal(tril_canvas_create(20, 10, BLACK, &c), TRIL_OK);
    tril_canvas_line(&c, INT32_MIN, 5, INT32_MAX, 5, RED);
    assert_true(count_color(&c, RED) == 20 && is(&c, 0, 5, RED) && is(&c, 19, 5, RED));
    tril_canvas_line(&c, INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX, GREEN);
    for (int k = 0; k < 10; k++) assert_true(is(&c, k, k, GREEN));
    tril_canvas_line(&c, -100, -100, -1, -50, WHITE); /* entirely off canvas */
    assert_int_equal(count_color(&c, WHITE), 0);
    tril_canvas_free(&c);
}

/* 'A' in the 5x7 font, row by row. */
static const char *const GLYPH_A[7] = {" ### ", "#   #", "#   #", "#   #",
                                       "#####", "#   #", "#   #"};

/* Every pixel of 'A' at scales 1 and 2, both directions. Horizontal: font
 * pixel (col, r) is the s x s block at (x + col*s, y + r*s). Vertical (turned
 * counter-clockwise, (x, y) the bottom-left): columns go up, rows go right. */
TEST(test_text_glyph_pixels)
{
    for (int vertical = 0; vertical < 2; vertical++) {
        for (int32_t s = 1; s <= 2; s++) {
            tril_canvas c;
            assert_int_equal(tril_canvas_create(20, 20, BLACK, &c), TRIL_OK);
            const int x = 2, y = vertical ? 18 : 3;
            int32_t w = vertical ? tril_canvas_text_vertical(&c, x, y, "A", s, WHITE)
                                 : tril_canvas_text(&c, x, y, "A", s, WHITE);
            assert_int_equal(w, 5 * s);
            for (int r = 0; r < 7; r++)
                for (int col = 0; col < 5; col++)
                    for (int d = 0; d < s * s; d++) {
                        int px = vertical ? x + r * s + d % s : x + col * s + d % s;
                        int py = vertical ? y - col * s - d / s : y + r * s + d / s;
                        assert_int_equal(is(&c, px, py, WHITE), GLYPH_A[r][col] == '#');
                    }
            assert_int_equal(count_color(&c, WHITE), 18 * s * s); /* nothing else */
            /* Text running off the canvas, or far away, is clipped. */
            tril_canvas_text_vertical(&c, 0, 3, "a long label", 2, RED);
            tril_canvas_text_vertical(&c, INT32_MIN, INT32_MAX, "xyz", 3, RED);
            tril_canvas_text(&c, -7, -3, "clipped", 3, RED);
            tril_canvas_text(&c, INT32_MAX, INT32_MIN, "far", 2, RED);
            tril_canvas_free(&c);
        }
    }
}

TEST(test_text_non_ascii_is_question_mark)
{
    tril_canvas a, b;
    assert_int_equal(tril_canvas_create(40, 10, BLACK, &a), TRIL_OK);
    assert_int_equal(tril_canvas_create(40, 10, BLACK, &b), TRIL_OK);
    /* UTF-8 e-acute (2 bytes), a control byte and DEL: one '?' per byte. */
    int32_t wa = tril_canvas_text(&a, 1, 1, "\xC3\xA9\x01\x7F", 1, WHITE);
    int32_t wb = tril_canvas_text(&b, 1, 1, "????", 1, WHITE);
    assert_true(wa == wb && wa == tril_text_width("????", 1));
    assert_true(count_color(&b, WHITE) > 0);
    assert_memory_equal(a.pixels, b.pixels, (size_t)40 * 10 * 3);
    assert_int_equal(tril_canvas_text(&a, 0, 0, NULL, 1, RED), 0);
    tril_canvas_free(&a);
    tril_canvas_free(&b);
}

TEST(test_text_metrics)
{
    /* n glyphs of 5 columns with n - 1 one-column gaps, times the scale. */
    assert_true(tril_text_width("", 1) == 0 && tril_text_width(NULL, 1) == 0);
    assert_true(tril_text_width("A", 1) == 5 && tril_text_width("AB", 1) == 11);
    assert_int_equal(tril_text_width("AB", 3), 33);
    assert_true(tril_text_height(1) == 7 && tril_text_height(2) == 14);
}

TEST(test_save_png_errors)
{
    tril_canvas c;
    assert_int_equal(tril_canvas_create(8, 8, WHITE, &c), TRIL_OK);
    const char *bad = "/nonexistent-dir/x.png";
    tril_clear_error();
    assert_int_equal(tril_canvas_save_png(&c, bad), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), bad));
    assert_int_equal(tril_canvas_save_png(&c, NULL), TRIL_ERR_INVALID_ARG);
    tril_canvas empty = {0, 0, NULL};
    assert_int_equal(tril_canvas_save_png(&empty, "/tmp/never.png"), TRIL_ERR_INVALID_ARG);
    /* A full device: the write (or the final flush) fails and is reported. */
    if (access("/dev/full", W_OK) == 0) {
        assert_int_equal(tril_canvas_save_png(&c, "/dev/full"), TRIL_ERR_IO);
        assert_non_null(strstr(tril_last_error(), "/dev/full"));
        /* Incompressible noise overflows stdio's buffer, so here libpng's own
         * fwrite fails mid-image and its error handler must longjmp back. */
        tril_canvas noise;
        assert_int_equal(tril_canvas_create(256, 256, WHITE, &noise), TRIL_OK);
        for (size_t k = 0; k < (size_t)256 * 256 * 3; k++) noise.pixels[k] = (uint8_t)rand();
        assert_int_equal(tril_canvas_save_png(&noise, "/dev/full"), TRIL_ERR_IO);
        assert_non_null(strstr(tril_last_error(), "/dev/full"));
        tril_canvas_free(&noise);
    }
    tril_canvas_free(&c);
}

/* Pixels a label draws at `scale`, counted on a blank canvas. */
static int label_ink(const char *label, int32_t scale)
{
    tril_canvas c;
    assert_int_equal(tril_canvas_create(64, 64, BLACK, &c), TRIL_OK);
    tril_canvas_text(&c, 0, 0, label, scale, WHITE);
    int n = count_color(&c, WHITE);
    tril_canvas_free(&c);
    return n;
}

/* Draws q_len x kv_len through a temporary file and reads it back. */
static tril_canvas draw_mask(int64_t q_len, int64_t kv_len, tril_mask_layout *L)
{
    assert_int_equal(tril_mask_png_layout(q_len, kv_len, L), TRIL_OK);
    assert_false(same(L->visible, L->masked));
    assert_true(L->width <= 2000 && L->height <= 2000);
    char path[64];
    temp_path(path);
    assert_int_equal(tril_mask_png(path, q_len, kv_len), TRIL_OK);
    tril_canvas img = read_png(path);
    unlink(path);
    assert_int_equal(img.width, L->width);
    assert_int_equal(img.height, L->height);
    return img;
}

/* Small masks: checks every cell. Its inside (less the grid line on its
 * left/top edge) is the visible colour exactly when j <= (kv_len - q_len) + i,
 * never the other fill colour, and carries exactly the ink of a "1" or "0". */
static void check_labelled_mask(int64_t q_len, int64_t kv_len)
{
    tril_mask_layout L;
    tril_canvas img = draw_mask(q_len, kv_len, &L);
    assert_true(L.cell > 2 && L.label_scale >= 1 && L.grid_lines);
    assert_true(L.grid_w == kv_len * L.cell && L.grid_h == q_len * L.cell);
    assert_true(L.width >= 200 && L.height >= 200);
    const int ink_one = label_ink("1", L.label_scale), ink_zero = label_ink("0", L.label_scale);
    assert_int_not_equal(ink_one, ink_zero);

    for (int64_t i = 0; i < q_len; i++) {
        for (int64_t j = 0; j < kv_len; j++) {
            int visible = j <= (kv_len - q_len) + i;
            assert_int_equal(visible, tril_causal_visible(i, j, q_len, kv_len));
            tril_rgb want = visible ? L.visible : L.masked;
            tril_rgb other = visible ? L.masked : L.visible;
            int x0 = L.grid_x + (int)j * L.cell, y0 = L.grid_y + (int)i * L.cell;
            int n_want = 0, n_other = 0, n_ink = 0;
            for (int y = y0 + 1; y < y0 + L.cell; y++) {
                for (int x = x0 + 1; x < x0 + L.cell; x++) {
                    tril_rgb p = canvas_at(&img, x, y);
                    int *counter = same(p, want) ? &n_want : same(p, other) ? &n_other : &n_ink;
                    ++*counter;
                }
            }
            if (n_other != 0 || n_ink != (visible ? ink_one : ink_zero))
                fail_msg("cell (%lld,%lld) of %lldx%lld: other=%d ink=%d", (long long)i,
                         (long long)j, (long long)q_len, (long long)kv_len, n_other, n_ink);
            assert_true(n_want > (L.cell - 1) * (L.cell - 1) / 2);
            assert_true(is(&img, x0 + 1, y0 + 1, want));
            assert_true(is(&img, x0 + L.cell - 1, y0 + L.cell - 1, want));
        }
    }
    /* Title, axis labels and numbers: dark ink above and left of the grid. */
    int dark_above = 0, dark_left = 0;
    for (int y = 0; y < L.grid_y + L.grid_h; y++)
        for (int x = 0; x < img.width; x++) {
            int dark = canvas_at(&img, x, y).r < 128;
            dark_above += dark && y < L.grid_y - 6;
            dark_left += dark && y >= L.grid_y && x < L.grid_x - 6;
        }
    assert_true(dark_above > 200 && dark_left > 50);
    free(img.pixels);
}

TEST(test_mask_png_small)
{
    check_labelled_mask(8, 8);
    check_labelled_mask(1, 1);
    check_labelled_mask(4, 10); /* KV cache: row i sees j <= 6 + i */
    check_labelled_mask(10, 4); /* Tq > Tk: the top 6 rows see nothing */
}

/* Large masks: no labels, small or sub-pixel cells; every grid pixel must
 * show the cell the layout maps it to. */
static void check_large_mask(int64_t q_len, int64_t kv_len, int32_t cell)
{
    tril_mask_layout L;
    tril_canvas img = draw_mask(q_len, kv_len, &L);
    assert_true(L.cell == cell && L.label_scale == 0 && L.grid_lines == 0);
    for (int py = 0; py < L.grid_h; py++) {
        int64_t i = (int64_t)py * q_len / L.grid_h;
        for (int px = 0; px < L.grid_w; px++) {
            int64_t j = (int64_t)px * kv_len / L.grid_w;
            tril_rgb want = tril_causal_visible(i, j, q_len, kv_len) ? L.visible : L.masked;
            if (!is(&img, L.grid_x + px, L.grid_y + py, want))
                fail_msg("%lldx%lld: pixel (%d,%d) wrong", (long long)q_len,
                         (long long)kv_len, px, py);
        }
    }
    free(img.pixels);
}

TEST(test_mask_png_large)
{
    check_large_mask(300, 300, 2);   /* 2-px cells */
    check_large_mask(2000, 2000, 0); /* sub-pixel cells */
    check_large_mask(1, 4096, 0);    /* a thin strip */
}

TEST(test_mask_png_bad_args)
{
    tril_mask_layout L;
    const int64_t bad[][2] = {{0, 8}, {8, 0}, {-1, 8}, {4097, 8}, {8, 4097}, {0, 0}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(tril_mask_png("/tmp/never.png", bad[k][0], bad[k][1]),
                         TRIL_ERR_INVALID_ARG);
        assert_int_equal(tril_mask_png_layout(bad[k][0], bad[k][1], &L), TRIL_ERR_INVALID_ARG);
    }
    assert_int_equal(tril_mask_png(NULL, 8, 8), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_mask_png_layout(8, 8, NULL), TRIL_ERR_INVALID_ARG);
    const char *bad_path = "/nonexistent-dir/mask.png";
    assert_int_equal(tril_mask_png(bad_path, 8, 8), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), bad_path));
}

/* ---- heatmap ---------------------------------------------------------- */

/* n x n causal attention: row i puts weight ~ 2^-(i-j) on keys j <= i, so
 * (0, 0) is 1 (the largest) and every row sums to 1. */
static float *causal_probs(int64_t n)
{
    float *p = calloc((size_t)(n * n), sizeof *p);
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) {
        double sum = 0.0;
        for (int64_t j = 0; j <= i; j++) sum += pow(0.5, (double)(i - j));
        for (int64_t j = 0; j <= i; j++) p[i * n + j] = (float)(pow(0.5, (double)(i - j)) / sum);
    }
    return p;
}

static tril_canvas draw_heatmap(const float *values, int64_t n, const char *const *labels,
                                int causal, tril_heatmap_layout *L)
{
    assert_int_equal(tril_heatmap_png_layout(values, n, n, labels, labels, "t", causal, L),
                     TRIL_OK);
    char path[64];
    temp_path(path);
    assert_int_equal(tril_heatmap_png(path, values, n, n, labels, labels, "t", causal), TRIL_OK);
    tril_canvas img = read_png(path);
    unlink(path);
    assert_int_equal(img.width, L->width);
    assert_int_equal(img.height, L->height);
    return img;
}

/* Text ink: the heatmap draws labels in near-black, which no cell colour
 * (the darkest is (8, 48, 107)) and no grid line comes near. */
static int is_ink(const tril_canvas *c, int x, int y)
{
    tril_rgb p = canvas_at(c, x, y);
    return p.r < 100 && p.g < 100 && p.b < 100;
}

static int ink_in(const tril_canvas *c, int x0, int y0, int x1, int y1) /* [x0,x1) x [y0,y1) */
{
    int n = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < c->height; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < c->width; x++) n += is_ink(c, x, y);
    return n;
}

/* The colour scale is a gradient from `low` (bottom) to `high` (top), and a
 * cell's colour is the scale's colour at the cell's value. */
TEST(test_heatmap_colour_scale)
{
    const int64_t n = 8;
    float *p = causal_probs(n);
    tril_heatmap_layout L;
    tril_canvas img = draw_heatmap(p, n, NULL, 1, &L);
    assert_true(L.vmax == 1.0f && L.bar_h >= 100 && L.bar_w >= 8);
    assert_true(L.bar_x >= L.grid_x + L.grid_w && L.bar_x + L.bar_w <= L.width);
    const int mid = L.bar_x + L.bar_w / 2;
    int distinct = 1;
    for (int r = 0; r < L.bar_h; r++) {
        const int y = L.bar_y + L.bar_h - 1 - r;
        tril_rgb c = canvas_at(&img, mid, y);
        for (int x = L.bar_x; x < L.bar_x + L.bar_w; x++) assert_true(is(&img, x, y, c));
        if (r == 0) assert_true(same(c, L.low));
        if (r == L.bar_h - 1) assert_true(same(c, L.high));
        if (r > 0) { /* darker going up, never lighter */
            tril_rgb below = canvas_at(&img, mid, y + 1);
            assert_true(c.r <= below.r && c.g <= below.g && c.b <= below.b);
            distinct += !same(c, below);
        }
    }
    assert_true(distinct > 100); /* a gradient, not a few flat bands */
    /* Tick labels beside the scale: "1" at its top, "0" at its bottom. */
    const int right = L.bar_x + L.bar_w + 2;
    assert_true(ink_in(&img, right, L.bar_y - 8, L.width, L.bar_y + 8) > 0);
    assert_true(ink_in(&img, right, L.bar_y + L.bar_h - 8, L.width, L.bar_y + L.bar_h + 8) > 0);
    /* Cells: colour = the scale's colour at sqrt(value / vmax), +-2 per channel. */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++) {
            double f = sqrt(p[i * n + j] / L.vmax);
            int r = (int)lround(f * (L.bar_h - 1));
            tril_rgb want = canvas_at(&img, mid, L.bar_y + L.bar_h - 1 - r);
            tril_rgb got = canvas_at(&img, L.grid_x + (int)j * L.cell + L.cell / 2,
                                     L.grid_y + (int)i * L.cell + L.cell / 2);
            assert_true(abs(got.r - want.r) <= 2 && abs(got.g - want.g) <= 2 &&
                        abs(got.b - want.b) <= 2);
        }
    assert_true(is(&img, L.grid_x + L.cell / 2, L.grid_y + L.cell / 2, L.high)); /* (0,0) = 1 */
    assert_true(is(&img, L.grid_x + L.cell + L.cell / 2, L.grid_y + L.cell / 2, L.masked));
    free(img.pixels);
    /* Values scaled down: the scale follows the largest one. */
    for (int64_t k = 0; k < n * n; k++) p[k] *= 0.25f;
    img = draw_heatmap(p, n, NULL, 1, &L);
    assert_true(fabsf(L.vmax - 0.25f) < 1e-6f);
    assert_true(is(&img, L.grid_x + L.cell / 2, L.grid_y + L.cell / 2, L.high));
    free(img.pixels);
    free(p);
}

/* 249 one-byte tokens (the bundled byte-level model): 3-px cells, so only
 * every k-th label, but those are drawn, one text line or more apart. */
TEST(test_heatmap_labels_thinned)
{
    const int64_t n = 249;
    float *p = causal_probs(n);
    static char text[249][2];
    const char *labels[249];
    for (int64_t i = 0; i < n; i++) {
        text[i][0] = "the cat sat"[i % 11];
        labels[i] = text[i];
    }
    tril_heatmap_layout L;
    tril_canvas img = draw_heatmap(p, n, labels, 1, &L);
    const int th = tril_text_height(2);
    const int64_t k = L.label_step, pitch = k * L.cell;
    assert_true(k > 1 && k <= 10 && pitch >= th + 1);
    int rows_inked = 0, cols_inked = 0;
    for (int64_t i = 0; i < n; i += k) {
        const int c = (int)(L.grid_y + i * L.cell + L.cell / 2); /* row i's centre */
        rows_inked += ink_in(&img, L.row_label_x0, c - th / 2, L.row_label_x1, c + th / 2 + 1) > 0;
        /* nothing between this label and the next: they stay apart */
        if (i + k < n)
            assert_int_equal(ink_in(&img, L.row_label_x0, c + th / 2 + 1, L.row_label_x1,
                                    c + (int)pitch - th / 2), 0);
        const int x = (int)(L.grid_x + i * L.cell + L.cell / 2); /* column i's centre */
        cols_inked += ink_in(&img, x - th / 2, L.col_label_y0, x + th / 2 + 1, L.col_label_y1) > 0;
    }
    assert_int_equal(rows_inked, (int)((n + k - 1) / k));
    assert_int_equal(cols_inked, (int)((n + k - 1) / k));
    free(img.pixels);
    free(p);
}

/* Ink of `text` through the label escaping, drawn on a blank canvas. */
static int symbol_ink(const char *escaped)
{
    tril_canvas c;
    assert_int_equal(tril_canvas_create(64, 16, BLACK, &c), TRIL_OK);
    viz_text(&c, 0, 0, escaped, 2, 0, WHITE);
    int n = count_color(&c, WHITE);
    tril_canvas_free(&c);
    return n;
}

/* Spaces, newlines and non-ASCII bytes are visible and distinct. */
TEST(test_label_escapes)
{
    char buf[64];
    assert_int_equal(viz_label(buf, sizeof buf, " a\n\t\\\xC3\xA9", 40, VIZ_LABEL_SHOW_SPACE), 14);
    assert_string_equal(buf, "\x01" "a\x02\x03\\\\\\xC3\\xA9");
    viz_label(buf, sizeof buf, "a b", 40, 0);
    assert_string_equal(buf, "a b");
    /* Cut at a whole escape, ellipsis included in the limit. */
    assert_int_equal(viz_label(buf, sizeof buf, "abcdefgh\xC3\xA9", 12, 0), 9);
    assert_string_equal(buf, "abcdefgh\x04");
    assert_int_equal(viz_label(buf, sizeof buf, "abcdefgh\xC3", 12, 0), 12);
    assert_int_equal(viz_label(buf, 4, "abcdefgh", 40, 0), 3); /* the buffer's room */
    assert_string_equal(buf, "ab\x04");
    assert_int_equal(viz_label(buf, sizeof buf, NULL, 40, 0), 0);
    /* Each symbol has ink, and none looks like '.', '_', '?' or another. */
    const char *const glyphs[] = {"\x01", "\x02", "\x03", "\x04", ".", "_", "?", "-"};
    tril_canvas a, b;
    for (size_t s = 0; s < 4; s++) {
        assert_true(symbol_ink(glyphs[s]) > 0);
        for (size_t t = 0; t < sizeof glyphs / sizeof glyphs[0]; t++) {
            if (t == s) continue;
            assert_int_equal(tril_canvas_create(16, 16, BLACK, &a), TRIL_OK);
            assert_int_equal(tril_canvas_create(16, 16, BLACK, &b), TRIL_OK);
            viz_text(&a, 0, 0, glyphs[s], 2, 0, WHITE);
            viz_text(&b, 0, 0, glyphs[t], 2, 0, WHITE);
            assert_memory_not_equal(a.pixels, b.pixels, (size_t)16 * 16 * 3);
            tril_canvas_free(&a);
            tril_canvas_free(&b);
        }
    }
    /* In a heatmap: the space row's label is the middle dot, the newline's
     * the return arrow (before, a space label drew nothing). */
    const char *const labels[3] = {"a", " ", "\n"};
    float *p = causal_probs(3);
    tril_heatmap_layout L;
    tril_canvas img = draw_heatmap(p, 3, labels, 1, &L);
    for (int i = 1; i < 3; i++) {
        const int y0 = L.grid_y + i * L.cell;
        assert_int_equal(ink_in(&img, L.row_label_x0, y0, L.row_label_x1, y0 + L.cell),
                         symbol_ink(i == 1 ? "\x01" : "\x02"));
    }
    free(img.pixels);
    free(p);
}

TEST(test_heatmap_bad_args)
{
    float v[4] = {1, 0, 0.5f, 0.5f};
    tril_heatmap_layout L;
    assert_int_equal(tril_heatmap_png(NULL, v, 2, 2, NULL, NULL, "t", 1), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_heatmap_png("/tmp/never.png", NULL, 2, 2, NULL, NULL, "t", 1),
                     TRIL_ERR_INVALID_ARG);
    const int64_t bad[] = {0, -1, 513};
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(tril_heatmap_png("/tmp/never.png", v, bad[k], 2, NULL, NULL, "t", 1),
                         TRIL_ERR_INVALID_ARG);
        assert_int_equal(tril_heatmap_png_layout(v, 2, bad[k], NULL, NULL, "t", 1, &L),
                         TRIL_ERR_INVALID_ARG);
    }
    assert_int_equal(tril_heatmap_png_layout(v, 2, 2, NULL, NULL, "t", 1, NULL),
                     TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_heatmap_png("/nonexistent-dir/h.png", v, 2, 2, NULL, NULL, "t", 1),
                     TRIL_ERR_IO);
}

/* ---- loss plot -------------------------------------------------------- */

static tril_canvas draw_loss(const tril_loss_run *runs, int n_runs, tril_loss_layout *L)
{
    assert_int_equal(tril_loss_png_layout(runs, n_runs, L), TRIL_OK);
    char path[64];
    temp_path(path);
    assert_int_equal(tril_loss_png(path, runs, n_runs), TRIL_OK);
    tril_canvas img = read_png(path);
    unlink(path);
    assert_true(img.width == L->width && img.height == L->height);
    return img;
}

/* The documented data-to-pixel mapping. */
static int loss_px(const tril_loss_layout *L, double x)
{
    return L->frame_x + (int)lround((x - L->xmin) / (L->xmax - L->xmin) * L->frame_w);
}

static int loss_py(const tril_loss_layout *L, double y)
{
    return L->frame_y + L->frame_h - (int)lround((y - L->ymin) / (L->ymax - L->ymin) * L->frame_h);
}

static int count_in(const tril_canvas *c, tril_rgb color, int x0, int y0, int x1, int y1)
{
    int n = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < c->height; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < c->width; x++) n += is(c, x, y, color);
    return n;
}

/* A one-row log: its training point is drawn (a marker), not nothing. */
TEST(test_loss_one_row)
{
    const double step[1] = {7}, train[1] = {5.5}, val[1] = {NAN};
    const tril_loss_run run = {step, train, val, 1, "run"};
    tril_loss_layout L;
    tril_canvas img = draw_loss(&run, 1, &L);
    const int x = loss_px(&L, 7), y = loss_py(&L, 5.5);
    assert_true(x > L.frame_x && x < L.frame_x + L.frame_w); /* inside, not on an edge */
    assert_true(y > L.frame_y && y < L.frame_y + L.frame_h);
    assert_true(is(&img, x, y, L.colors[0][0]));
    /* a marker, not a stray pixel: most of the 7x7 square around it */
    assert_true(count_in(&img, L.colors[0][0], x - 3, y - 3, x + 4, y + 4) >= 40);
    free(img.pixels);
}

/* Three steps: grid lines and tick labels at whole steps only. */
TEST(test_loss_short_run_integer_ticks)
{
    const double step[3] = {1, 2, 3}, train[3] = {5.5, 5.3, 5.1}, val[3] = {NAN, 5.4, NAN};
    const tril_loss_run run = {step, train, val, 3, "run"};
    tril_loss_layout L;
    tril_canvas img = draw_loss(&run, 1, &L);
    assert_true(L.x_tick >= 1.0 && L.x_tick == floor(L.x_tick));
    const int y_labels = L.frame_y + L.frame_h + 4; /* tick numbers: below the frame */
    for (int s = 1; s <= 3; s++) {
        const int x = loss_px(&L, s);
        assert_true(count_in(&img, L.grid, x, L.frame_y, x + 1, L.frame_y + L.frame_h) >
                    L.frame_h / 2);
        assert_true(ink_in(&img, x - 6, y_labels, x + 7, y_labels + 24) > 0);
    }
    /* Between steps 1 and 2 (and 2 and 3): no vertical grid line, no number. */
    for (int s = 1; s <= 2; s++)
        for (int x = loss_px(&L, s) + 8; x < loss_px(&L, s + 1) - 8; x++) {
            assert_true(count_in(&img, L.grid, x, L.frame_y, x + 1, L.frame_y + L.frame_h) <
                        L.frame_h / 4);
            assert_int_equal(ink_in(&img, x, y_labels, x + 1, y_labels + 24), 0);
        }
    free(img.pixels);
}

/* A loss spike of 1e6 and a value of -1e6 among losses between 2 and 5:
 * the range is that of the others, the two are triangles on the top and
 * bottom edges, and nothing of the curves leaves the frame. */
TEST(test_loss_outliers_clipped)
{
    double step[40], train[40], val[40];
    for (int i = 0; i < 40; i++) {
        step[i] = i + 1;
        train[i] = 2.0 + 3.0 * exp(-i / 8.0);
        val[i] = i % 5 == 4 ? train[i] + 0.1 : NAN;
    }
    train[19] = 1e6;
    val[29] = -1e6;
    const tril_loss_run run = {step, train, val, 40, "spiky"};
    tril_loss_layout L;
    tril_canvas img = draw_loss(&run, 1, &L);
    assert_int_equal(L.n_clipped, 2);
    assert_true(L.ymax < 6.0 && L.ymax >= 5.0 && L.ymin >= 0.0 && L.ymin <= 2.0);
    const tril_rgb tc = L.colors[0][0], vc = L.colors[0][1];
    /* The spike: a triangle, tip at the top edge, inside the frame. */
    const int x20 = loss_px(&L, 20), x30 = loss_px(&L, 30);
    assert_true(is(&img, x20, L.frame_y + 1, tc));
    assert_true(count_in(&img, tc, x20 - 6, L.frame_y + 1, x20 + 7, L.frame_y + 10) >= 30);
    assert_true(is(&img, x30, L.frame_y + L.frame_h - 1, vc));
    assert_true(count_in(&img, vc, x30 - 6, L.frame_y + L.frame_h - 9, x30 + 7,
                         L.frame_y + L.frame_h) >= 30);
    /* The ordinary points are where they belong. */
    assert_true(is(&img, loss_px(&L, 1), loss_py(&L, train[0]), tc));
    assert_true(is(&img, loss_px(&L, 5), loss_py(&L, val[4]), vc));
    /* Outside the frame (less the legend below it): no curve colour at all. */
    for (int y = 0; y < L.legend_y; y++)
        for (int x = 0; x < img.width; x++) {
            const int in = x > L.frame_x && x < L.frame_x + L.frame_w && y > L.frame_y &&
                           y < L.frame_y + L.frame_h;
            if (!in && (is(&img, x, y, tc) || is(&img, x, y, vc)))
                fail_msg("curve pixel outside the frame at (%d, %d)", x, y);
        }
    free(img.pixels);
}

/* Long legend labels are cut to fit: nothing runs off the picture's right
 * side, and each row keeps its train and val keys. */
TEST(test_loss_long_labels)
{
    const double step[3] = {1, 2, 3}, a[3] = {5, 4, 3}, b[3] = {5.5, 4.5, 3.5}, v[3] = {NAN, 4.2, 3.1};
    char long_label[300];
    memset(long_label, 'W', sizeof long_label - 1);
    long_label[sizeof long_label - 1] = '\0';
    const tril_loss_run runs[2] = {{step, a, v, 3, long_label},
                                   {step, b, v, 3, "baseline with a long name and more words"}};
    tril_loss_layout L;
    tril_canvas img = draw_loss(runs, 2, &L);
    for (int r = 0; r < 2; r++) {
        const int y0 = L.legend_y + r * L.legend_row_h, y1 = y0 + L.legend_row_h;
        assert_true(y1 <= img.height);
        assert_int_equal(ink_in(&img, img.width - 12, y0, img.width, y1), 0);
        assert_true(ink_in(&img, L.frame_x, y0, L.frame_x + 200, y1) > 0); /* the label */
        assert_true(count_in(&img, L.colors[r][0], L.frame_x, y0, img.width - 12, y1) > 50);
        assert_true(count_in(&img, L.colors[r][1], L.frame_x, y0, img.width - 12, y1) > 50);
    }
    free(img.pixels);
}

TEST(test_loss_bad_args)
{
    const double step[2] = {1, 2}, loss[2] = {3, 2}, none[2] = {NAN, NAN}, bad_step[2] = {1, NAN};
    const double huge[2] = {-1e308, 1e308};
    const tril_loss_run ok_run = {step, loss, NULL, 2, "a"};
    const tril_loss_run bad[] = {{step, loss, none, 0, "n = 0"},
                                 {NULL, loss, none, 2, "no steps"},
                                 {bad_step, loss, none, 2, "NaN step"},
                                 {step, none, none, 2, "no losses"},
                                 {step, NULL, NULL, 2, "no arrays"},
                                 {step, huge, none, 2, "losses span > DBL_MAX"},
                                 {huge, loss, none, 2, "steps span > DBL_MAX"}};
    tril_loss_layout L;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(tril_loss_png("/tmp/never.png", &bad[k], 1), TRIL_ERR_INVALID_ARG);
        assert_int_equal(tril_loss_png_layout(&bad[k], 1, &L), TRIL_ERR_INVALID_ARG);
    }
    const tril_loss_run three[3] = {ok_run, ok_run, ok_run};
    assert_int_equal(tril_loss_png("/tmp/never.png", three, 3), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_loss_png("/tmp/never.png", three, 0), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_loss_png("/tmp/never.png", NULL, 1), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_loss_png(NULL, &ok_run, 1), TRIL_ERR_INVALID_ARG);
    assert_int_equal(tril_loss_png_layout(&ok_run, 1, NULL), TRIL_ERR_INVALID_ARG);
    const char *bad_path = "/nonexistent-dir/loss.png";
    assert_int_equal(tril_loss_png(bad_path, &ok_run, 1), TRIL_ERR_IO);
    assert_non_null(strstr(tril_last_error(), bad_path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canvas_rejects_bad_sizes),
        cmocka_unit_test(test_png_roundtrip),
        cmocka_unit_test(test_rects_and_lines),
        cmocka_unit_test(test_text_glyph_pixels),
        cmocka_unit_test(test_text_non_ascii_is_question_mark),
        cmocka_unit_test(test_text_metrics),
        cmocka_unit_test(test_save_png_errors),
        cmocka_unit_test(test_mask_png_small),
        cmocka_unit_test(test_mask_png_large),
        cmocka_unit_test(test_mask_png_bad_args),
        cmocka_unit_test(test_heatmap_colour_scale),
        cmocka_unit_test(test_heatmap_labels_thinned),
        cmocka_unit_test(test_label_escapes),
        cmocka_unit_test(test_heatmap_bad_args),
        cmocka_unit_test(test_loss_one_row),
        cmocka_unit_test(test_loss_short_run_integer_ticks),
        cmocka_unit_test(test_loss_outliers_clipped),
        cmocka_unit_test(test_loss_long_labels),
        cmocka_unit_test(test_loss_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

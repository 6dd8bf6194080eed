/* test_image: the canvas, its 5x7 text, PNG output and the causal-mask
 * picture, checked by reading the PNGs back with libpng's simplified API. */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tril/attention.h"
#include "tril/image.h"

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
        assert_int_equal(tril_canvas_create(&c, bad[k][0], bad[k][1], WHITE),
                         TRIL_ERR_INVALID_ARG);
        assert_true(c.pixels == NULL && c.width == 0 && c.height == 0);
    }
    assert_int_equal(tril_canvas_create(NULL, 4, 4, WHITE), TRIL_ERR_INVALID_ARG);
    tril_canvas_free(NULL); /* harmless */
}

TEST(test_png_roundtrip)
{
    tril_canvas c;
    const tril_rgb bg = {10, 20, 30};
    assert_int_equal(tril_canvas_create(&c, 20, 10, bg), TRIL_OK);
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
    assert_int_equal(tril_canvas_create(&c, 20, 10, BLACK), TRIL_OK);
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

    assert_int_equal(tril_canvas_create(&c, 20, 10, BLACK), TRIL_OK);
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
    assert_int_equal(tril_canvas_create(&c, 20, 10, BLACK), TRIL_OK);
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
            assert_int_equal(tril_canvas_create(&c, 20, 20, BLACK), TRIL_OK);
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
    assert_int_equal(tril_canvas_create(&a, 40, 10, BLACK), TRIL_OK);
    assert_int_equal(tril_canvas_create(&b, 40, 10, BLACK), TRIL_OK);
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
    assert_int_equal(tril_canvas_create(&c, 8, 8, WHITE), TRIL_OK);
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
        assert_int_equal(tril_canvas_create(&noise, 256, 256, WHITE), TRIL_OK);
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
    assert_int_equal(tril_canvas_create(&c, 64, 64, BLACK), TRIL_OK);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

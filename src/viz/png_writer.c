/* viz/png_writer.c - tril_canvas_save_png with libpng.
 *
 * libpng reports errors by calling an error function that must not return;
 * ours records the message and longjmps back here, so the library neither
 * prints (libpng's default handler writes to stderr) nor aborts. */
#include "tril/image.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char message[256]; /* libpng's message from the failing call */
    int saved_errno;   /* errno at that moment: a failed fwrite sets it */
} png_failure;

static void on_png_error(png_structp png, png_const_charp message)
{
    png_failure *failure = png_get_error_ptr(png);
    if (failure) {
        failure->saved_errno = errno;
        snprintf(failure->message, sizeof failure->message, "%s",
                 message ? message : "libpng error");
    }
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp message)
{
    /* Warnings do not stop the write; library code stays silent. */
    (void)png;
    (void)message;
}

/* After a failed write, delete what we left behind so nobody mistakes a
 * truncated file for a picture; only regular files, never e.g. /dev/full. */
static void remove_partial(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) remove(path);
}

/* Everything that touches libpng state lives here, apart from the FILE*, so
 * that no local variable is modified between setjmp and longjmp (which would
 * need `volatile`). Returns 0 on success. */
static int write_png(FILE *fp, const tril_canvas *canvas, png_failure *failure)
{
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, failure, on_png_error, on_png_warning);
    if (!png) {
        snprintf(failure->message, sizeof failure->message, "cannot create libpng writer");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(failure->message, sizeof failure->message, "cannot create libpng info");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)canvas->width, (png_uint_32)canvas->height, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    /* One row at a time straight from the canvas: no row-pointer array. */
    size_t stride = (size_t)canvas->width * 3;
    for (int32_t y = 0; y < canvas->height; y++)
        png_write_row(png, canvas->pixels + (size_t)y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

tril_status tril_canvas_save_png(const tril_canvas *canvas, const char *path)
{
    if (!path) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "PNG path is NULL");
    if (!canvas || !canvas->pixels || canvas->width <= 0 || canvas->height <= 0)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "cannot write '%s': empty canvas", path);

    FILE *fp = fopen(path, "wb");
    if (!fp) return TRIL_FAIL(TRIL_ERR_IO, "cannot write '%s': %s", path, strerror(errno));

    png_failure failure = {{0}, 0};
    errno = 0; /* so a stale errno is not blamed for a libpng-internal error */
    int failed = write_png(fp, canvas, &failure);
    /* fclose flushes the stdio buffer: a full disk often shows up only here. */
    errno = 0;
    int close_failed = fclose(fp) != 0;
    int close_errno = errno;

    if (failed) {
        remove_partial(path);
        const char *why = failure.saved_errno ? strerror(failure.saved_errno) : failure.message;
        return TRIL_FAIL(TRIL_ERR_IO, "cannot write '%s': %s", path, why);
    }
    if (close_failed) {
        remove_partial(path);
        return TRIL_FAIL(TRIL_ERR_IO, "cannot write '%s': %s", path,
                         close_errno ? strerror(close_errno) : "close failed");
    }
    return TRIL_OK;
}

/* tril/error.h - status codes and the per-thread "last error" message.
 *
 * Library functions never print or exit: they return a tril_status and leave a
 * human-readable message retrievable by tril_last_error() on the same thread.
 * With TRIL_DEBUG=1 in the environment the message ends with the library's
 * source location, " (file.c:LINE)". */
#ifndef TRIL_ERROR_H
#define TRIL_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TRIL_OK = 0,
    TRIL_ERR_INVALID_ARG, /* NULL pointer, bad enum, nonsensical value */
    TRIL_ERR_SHAPE,       /* shapes disagree, zero or overflowing sizes */
    TRIL_ERR_NOMEM,       /* an allocation failed */
    TRIL_ERR_IO,          /* open/read/write failed */
    TRIL_ERR_FORMAT,      /* malformed file contents */
    TRIL_ERR_RANGE,       /* an index or value outside what is allowed */
    TRIL_ERR_UNSUPPORTED, /* valid request that this build cannot serve */
    TRIL_ERR_BUSY         /* a bounded queue or pool is full: try again later */
} tril_status;

/* Name of a status code, e.g. "invalid argument". Never NULL. */
const char *tril_status_name(tril_status status);

/* Message describing the last error set on this thread ("" if none). */
const char *tril_last_error(void);

/* Forget the last error on this thread. */
void tril_clear_error(void);

/* Record an error (printf-style message) and return `status`, so library code
 * can write `return TRIL_FAIL(TRIL_ERR_SHAPE, "D must be > 0, got %lld", d);` */
tril_status tril_set_error(tril_status status, const char *file, int line,
                           const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#define TRIL_FAIL(status, ...) tril_set_error((status), __FILE__, __LINE__, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif /* TRIL_ERROR_H */

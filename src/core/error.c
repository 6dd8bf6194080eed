/* Per-thread last-error message. */
#include "tril/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *tril_status_name(tril_status status)
{
    switch (status) {
    case TRIL_OK: return "ok";
    case TRIL_ERR_INVALID_ARG: return "invalid argument";
    case TRIL_ERR_SHAPE: return "bad shape";
    case TRIL_ERR_NOMEM: return "out of memory";
    case TRIL_ERR_IO: return "I/O error";
    case TRIL_ERR_FORMAT: return "bad format";
    case TRIL_ERR_RANGE: return "out of range";
    case TRIL_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown error";
}

const char *tril_last_error(void) { return last_error; }

void tril_clear_error(void) { last_error[0] = '\0'; }

tril_status tril_set_error(tril_status status, const char *file, int line, const char *fmt, ...)
{
    /* Keep only the base name of the source file: messages stay short. */
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char message[896];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    snprintf(last_error, sizeof last_error, "%s (%s:%d)", message, base, line);
    return status;
}

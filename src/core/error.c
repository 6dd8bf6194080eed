/* Per-thread last-error message. */
#include "tril/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
    case TRIL_ERR_BUSY: return "busy";
    }
    return "unknown error";
}

const char *tril_last_error(void) { return last_error; }

void tril_clear_error(void) { last_error[0] = '\0'; }

/* TRIL_DEBUG set to anything but "" or "0": messages end with the library's
 * file:line. Read at each error (errors are rare), so a program or test may
 * change it as it runs. */
static int debug_locations(void)
{
    const char *d = getenv("TRIL_DEBUG");
    return d && d[0] && strcmp(d, "0") != 0;
}

tril_status tril_set_error(tril_status status, const char *file, int line, const char *fmt, ...)
{
    char message[896];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (debug_locations()) {
        /* Keep only the base name of the source file: messages stay short. */
        const char *base = strrchr(file, '/');
        base = base ? base + 1 : file;
        snprintf(last_error, sizeof last_error, "%s (%s:%d)", message, base, line);
    } else {
        /* Users read the message; the source location is for debugging. */
        snprintf(last_error, sizeof last_error, "%s", message);
    }
    return status;
}

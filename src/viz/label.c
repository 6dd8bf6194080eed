/* viz/label.c - arbitrary bytes as drawable label text (see viz/text_sym.h). */
#include "viz/text_sym.h"

#include <stdio.h>
#include <string.h>

/* The escape of one byte into unit (up to 4 chars + NUL); returns its length. */
static size_t escape_byte(unsigned char c, int flags, char unit[5])
{
    if (c == ' ' && (flags & VIZ_LABEL_SHOW_SPACE)) unit[0] = VIZ_SYM_SPACE;
    else if (c == ' ') unit[0] = ' ';
    else if (c == '\n') unit[0] = VIZ_SYM_NEWLINE;
    else if (c == '\t') unit[0] = VIZ_SYM_TAB;
    else if (c == '\\') {
        memcpy(unit, "\\\\", 3);
        return 2;
    } else if (c > 0x20 && c < 0x7F) unit[0] = (char)c;
    else {
        static const char hex[] = "0123456789ABCDEF";
        unit[0] = '\\';
        unit[1] = 'x';
        unit[2] = hex[c >> 4];
        unit[3] = hex[c & 15];
        unit[4] = '\0';
        return 4;
    }
    unit[1] = '\0';
    return 1;
}

size_t viz_label(char *dst, size_t size, const char *src, size_t max_glyphs, int flags)
{
    if (!dst || size == 0) return 0;
    if (max_glyphs > size - 1) max_glyphs = size - 1;
    dst[0] = '\0';
    if (max_glyphs == 0 || !src) return 0;
    /* Whole length first: a label that fits is never cut. */
    size_t total = 0;
    char unit[5];
    for (const unsigned char *p = (const unsigned char *)src; *p && total <= max_glyphs; p++)
        total += escape_byte(*p, flags, unit);
    const size_t room = total <= max_glyphs ? max_glyphs : max_glyphs - 1; /* -1: ellipsis */
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
        size_t len = escape_byte(*p, flags, unit);
        if (n + len > room) break;
        memcpy(dst + n, unit, len);
        n += len;
    }
    if (total > max_glyphs) dst[n++] = VIZ_SYM_ELLIPSIS;
    dst[n] = '\0';
    return n;
}

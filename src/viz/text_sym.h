/* viz/text_sym.h - label text for pictures (private to src/viz).
 *
 * The public text calls draw printable ASCII and '?' for anything else.
 * Picture labels show arbitrary bytes (a token's text, a run's name), so they
 * are first escaped by viz_label into printable ASCII plus four symbol codes
 * that only viz_text draws as symbols:
 *
 *   space      -> middle dot      (with VIZ_LABEL_SHOW_SPACE, else a space)
 *   '\n'       -> return arrow
 *   '\t'       -> right arrow
 *   '\\'       -> two backslashes (so that "\xNN" below is unambiguous)
 *   any other byte outside 0x21..0x7E (controls, DEL, UTF-8 bytes) -> \xNN,
 *              upper-case hex: UTF-8 'e-acute' is \xC3\xA9
 *
 * A label longer than its room is cut at a whole escape and ends in an
 * ellipsis symbol. */
#ifndef TRIL_VIZ_TEXT_SYM_H
#define TRIL_VIZ_TEXT_SYM_H

#include <stddef.h>
#include <stdint.h>

#include "tril/image.h"

#define VIZ_SYM_SPACE '\x01'
#define VIZ_SYM_NEWLINE '\x02'
#define VIZ_SYM_TAB '\x03'
#define VIZ_SYM_ELLIPSIS '\x04'

#define VIZ_LABEL_SHOW_SPACE 1 /* flag of viz_label: spaces as middle dots */

/* Like tril_canvas_text (vertical = 0) or tril_canvas_text_vertical
 * (vertical = 1), but the VIZ_SYM_* codes draw as their symbols. */
int32_t viz_text(tril_canvas *canvas, int32_t x, int32_t y, const char *text, int32_t scale,
                 int vertical, tril_rgb color);

/* Escapes the NUL-terminated bytes `src` (NULL = "") into `dst` as above,
 * at most max_glyphs characters (>= 1) and at most size - 1 (size >= 1), cut
 * with an ellipsis when longer. Returns the number of characters written. */
size_t viz_label(char *dst, size_t size, const char *src, size_t max_glyphs, int flags);

#endif /* TRIL_VIZ_TEXT_SYM_H */

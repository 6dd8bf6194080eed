/* viz/font5x7.h - the built-in 5x7 bitmap font (private to src/viz).
 *
 * Each glyph is 5 columns of 7 rows, stored column by column: byte c is
 * column c (left to right), bit r is row r (bit 0 = top row). Glyphs are
 * drawn with 1 empty column between them, so a character advances 6 px. */
#ifndef TRIL_VIZ_FONT5X7_H
#define TRIL_VIZ_FONT5X7_H

#include <stdint.h>

#define TRIL_FONT_W 5       /* glyph columns */
#define TRIL_FONT_H 7       /* glyph rows */
#define TRIL_FONT_ADVANCE 6 /* columns from one glyph to the next */

/* The 5 column bytes of byte `c`; anything outside printable ASCII (32..126)
 * gets '?' so that UTF-8 or control bytes stay visible and never index out
 * of the table. Never NULL. */
const uint8_t *tril_font5x7_glyph(unsigned char c);

/* As tril_font5x7_glyph, but bytes 1..4 are the label symbols of
 * viz/text_sym.h (middle dot, return arrow, right arrow, ellipsis) instead
 * of '?'. Only picture labels use it: public text stays plain ASCII. */
const uint8_t *tril_font5x7_symbol(unsigned char c);

#endif /* TRIL_VIZ_FONT5X7_H */

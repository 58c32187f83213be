"""A TrueType font with one blank, full-width glyph, for invisible OCR text layers.

Every character of the text layer is drawn with this glyph (and drawn invisibly, render mode 3),
so the PDF carries an embedded, valid font of under a kilobyte whatever the script; the text
itself comes back through the ToUnicode map.  The same technique as Tesseract's GlyphLessFont.
"""

from __future__ import annotations

import io
from functools import lru_cache

UNITS_PER_EM = 1000


@lru_cache(maxsize=1)
def glyphless_font() -> bytes:
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    fb = FontBuilder(UNITS_PER_EM, isTTF=True)
    fb.setupGlyphOrder([".notdef", "blank"])
    fb.setupCharacterMap({0x20: "blank"})
    empty = TTGlyphPen(None).glyph()
    fb.setupGlyf({".notdef": empty, "blank": empty})
    fb.setupHorizontalMetrics({".notdef": (UNITS_PER_EM, 0), "blank": (UNITS_PER_EM, 0)})
    fb.setupHorizontalHeader(ascent=880, descent=-120)
    fb.setupNameTable({"familyName": "GlyphLessFont", "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=880, sTypoDescender=-120, usWinAscent=880, usWinDescent=120)
    fb.setupPost()
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()

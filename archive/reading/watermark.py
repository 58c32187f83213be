"""Visible watermarks on what leaves the archive: who downloaded it, from which office, and when.

A downloaded copy carries the user's name, office and the download time (Beijing time) drawn
into it: on a page image as diagonal semi-transparent text plus a footer band (Pillow), on a PDF as
an overlay on every page (pypdf, the standard Helvetica font, so no font has to be embedded).  The
text is Latin letters and digits only (user names and office codes are ASCII), so no CJK font is
needed.  The archive's own objects are never changed: the watermark is on the served copy.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, FloatObject, NameObject

from archive.audit.query import LOCAL as BEIJING  # Asia/Shanghai, the offices' time

ANGLE = 30.0  # degrees counter-clockwise of the diagonal text
OPACITY = 0.22  # of the diagonal text
INK = (150, 20, 20)  # dark red: visible on white paper and on black print alike

# Clockwise turn that makes a stored scan upright (``pages.rotation``) → Pillow transposition.
_UPRIGHT = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Stamp:
    """Who downloads, from which office, when (an aware moment; shown in Beijing time)."""

    user: str
    office: str
    at: datetime

    @classmethod
    def now(cls, user: str, office: str) -> Stamp:
        return cls(user, office, datetime.now(UTC))

    def moment(self) -> str:
        at = self.at if self.at.tzinfo else self.at.replace(tzinfo=UTC)
        return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") + " CST"

    def text(self) -> str:
        """The diagonal text: ``demo-caseworker 370303 2026-12-05 20:31 CST``."""
        office = "ALL" if self.office == "*" else self.office
        return _ascii(f"{self.user} {office} {self.moment()}")

    def footer(self) -> str:
        office = "ALL" if self.office == "*" else self.office
        return _ascii(f"Downloaded by {self.user} (office {office}) at {self.moment()} - controlled copy")


def _ascii(text: str) -> str:
    """Printable ASCII only: the fonts used here have no other glyphs."""
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)


# -- page images ----------------------------------------------------------------------------------


def upright(image: Image.Image, rotation: int) -> Image.Image:
    """The scan turned upright (``rotation``: degrees clockwise, as ``pages.rotation`` records)."""
    turn = _UPRIGHT.get(rotation % 360)
    return image.transpose(turn) if turn is not None else image


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _text_width(draw: ImageDraw.ImageDraw, text: str, font) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    return int(right - left)


def _diagonal_mask(size: tuple[int, int], text: str) -> Image.Image:
    """An L-mode mask of ``size``: the text repeated in rows, turned by ANGLE, at OPACITY."""
    width, height = size
    font_px = max(12, min(width, height) // 22)
    font = _font(font_px)
    side = int(math.hypot(width, height)) + 2 * font_px
    layer = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(layer)
    step_x = _text_width(draw, text, font) + 3 * font_px
    step_y = 4 * font_px
    alpha = round(255 * OPACITY)
    for row, y in enumerate(range(0, side, step_y)):
        shift = (step_x // 2) * (row % 2)
        for x in range(-shift, side, step_x):
            draw.text((x, y), text, fill=alpha, font=font)
    turned = layer.rotate(ANGLE, resample=Image.Resampling.BILINEAR)
    left, top = (side - width) // 2, (side - height) // 2
    return turned.crop((left, top, left + width, top + height))


def _draw_footer(image: Image.Image, text: str) -> None:
    """A light band along the bottom edge with the footer line in solid ink."""
    width, height = image.size
    font_px = max(10, min(28, width // 60))
    band = int(font_px * 1.8)
    font = _font(font_px)
    shade = Image.new("L", (width, band), 215)
    white = 255 if image.mode == "L" else (255, 255, 255)
    image.paste(white, (0, height - band, width, height), shade)
    draw = ImageDraw.Draw(image)
    ink = 0 if image.mode == "L" else (0, 0, 0)
    draw.text((font_px // 2, height - band + (band - font_px) // 2), text, fill=ink, font=font)


def watermark_image(data: bytes, media_type: str, stamp: Stamp, rotation: int = 0) -> tuple[bytes, str]:
    """A page image with the stamp drawn in, upright; (bytes, media type): JPEG stays JPEG, any
    other scan becomes PNG (lossless)."""
    with Image.open(io.BytesIO(data)) as source:
        source.load()
        grey = source.mode in ("1", "L", "LA", "I", "I;16", "F") or (source.mode == "P" and not _has_colour(source))
        image = upright(source.convert("L" if grey else "RGB"), rotation)
    mask = _diagonal_mask(image.size, stamp.text())
    ink = round(0.299 * INK[0] + 0.587 * INK[1] + 0.114 * INK[2]) if image.mode == "L" else INK
    image.paste(ink, (0, 0), mask)
    _draw_footer(image, stamp.footer())
    out = io.BytesIO()
    if media_type == "image/jpeg":
        image.save(out, format="JPEG", quality=90)
        return out.getvalue(), "image/jpeg"
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue(), "image/png"


def _has_colour(image: Image.Image) -> bool:
    palette = image.getpalette() or []
    return any(not (r == g == b) for r, g, b in zip(palette[::3], palette[1::3], palette[2::3], strict=False))


# -- PDF ------------------------------------------------------------------------------------------

_FONT = "/WmHelv"
_SHADE = "/WmShade"
_BAND = "/WmBand"


def _pdf_string(text: str) -> bytes:
    escaped = _ascii(text).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("ascii") + b")"


def _num(value: float) -> bytes:
    return (b"%.2f" % value).rstrip(b"0").rstrip(b".") or b"0"


def _overlay(x0: float, y0: float, width: float, height: float, stamp: Stamp) -> bytes:
    """Content that draws the diagonal rows and the footer band on a page of this box."""
    text = stamp.text()
    size = max(8.0, min(width, height) / 22)
    text_w = 0.56 * size * len(text)  # Helvetica's mean advance, close enough for spacing
    step_x, step_y = text_w + 3 * size, 4 * size
    reach = math.hypot(width, height) / 2 + step_x
    cos, sin = math.cos(math.radians(ANGLE)), math.sin(math.radians(ANGLE))
    cx, cy = x0 + width / 2, y0 + height / 2
    red, green, blue = (c / 255 for c in INK)
    ops = [
        b"q",
        _SHADE.encode() + b" gs",
        b"%s %s %s rg" % (_num(red), _num(green), _num(blue)),
        b"%s %s %s %s %s %s cm" % (_num(cos), _num(sin), _num(-sin), _num(cos), _num(cx), _num(cy)),
        b"BT 0 Tr",
        _FONT.encode() + b" %s Tf" % _num(size),
    ]
    row = 0
    y = -reach
    while y <= reach:
        shift = (step_x / 2) * (row % 2)
        count = int(2 * reach / step_x) + 2
        line = b"   ".join([_pdf_string(text)[1:-1]] * count)
        ops.append(b"1 0 0 1 %s %s Tm (%s) Tj" % (_num(-reach - shift), _num(y), line))
        y += step_y
        row += 1
    ops += [b"ET", b"Q"]
    footer_size = max(5.0, min(9.0, width / 80))
    band = footer_size * 2
    ops += [
        b"q",
        _BAND.encode() + b" gs",
        b"1 g",
        b"%s %s %s %s re f" % (_num(x0), _num(y0), _num(width), _num(band)),
        b"Q",
        b"q 0 g BT 0 Tr",
        _FONT.encode() + b" %s Tf" % _num(footer_size),
        b"1 0 0 1 %s %s Tm %s Tj" % (_num(x0 + footer_size), _num(y0 + footer_size * 0.6), _pdf_string(stamp.footer())),
        b"ET Q",
    ]
    return b"\n".join(ops)


def _stream(writer: PdfWriter, data: bytes):
    stream = DecodedStreamObject()
    stream.set_data(data)
    return writer._add_object(stream)


def _with_entry(resources: DictionaryObject, kind: str, name: str, ref) -> None:
    """Add ``name`` → ``ref`` to the ``kind`` sub-dictionary of a page's own resources."""
    existing = resources.get(kind)
    entries = DictionaryObject(existing.get_object()) if existing is not None else DictionaryObject()
    entries[NameObject(name)] = ref
    resources[NameObject(kind)] = entries


def watermark_pdf(data: bytes, stamp: Stamp) -> bytes:
    """The PDF with the stamp over every page; its text (the OCR layer) stays searchable.

    The page's own content is wrapped in q/Q so that no state it leaves behind moves the overlay,
    and the document is written out whole (no incremental update that could simply be cut off).
    """
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    shade = writer._add_object(_graphics_state(OPACITY))
    band = writer._add_object(_graphics_state(0.85))
    push, pop = _stream(writer, b"q"), _stream(writer, b"Q")
    overlays: dict[tuple[float, ...], object] = {}
    for page in writer.pages:
        box = page.mediabox
        key = (float(box.left), float(box.bottom), float(box.width), float(box.height))
        if key not in overlays:
            overlays[key] = _stream(writer, _overlay(*key, stamp))
        page[NameObject("/Contents")] = ArrayObject([push, *_contents(page), pop, overlays[key]])
        own = page.raw_get("/Resources") if "/Resources" in page else None
        resources = DictionaryObject(own.get_object()) if own is not None else DictionaryObject()
        _with_entry(resources, "/Font", _FONT, font)
        _with_entry(resources, "/ExtGState", _SHADE, shade)
        _with_entry(resources, "/ExtGState", _BAND, band)
        page[NameObject("/Resources")] = resources
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _contents(page: DictionaryObject) -> list:
    """The page's content streams as indirect references (a single stream or an array of them)."""
    if "/Contents" not in page:
        return []
    raw = page.raw_get("/Contents")
    resolved = raw.get_object()
    return list(resolved) if isinstance(resolved, ArrayObject) else [raw]


def _graphics_state(alpha: float) -> DictionaryObject:
    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/ExtGState"),
            NameObject("/ca"): FloatObject(alpha),
            NameObject("/CA"): FloatObject(alpha),
        }
    )

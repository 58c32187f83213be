"""Write a searchable PDF: each page is the scan, with the OCR text laid invisibly over its boxes.

The scan is embedded unchanged when it is a JPEG (DCTDecode), otherwise as Flate-compressed pixels.
Text uses a glyphless embedded CID font; CIDs are numbered per document and mapped back to
Unicode by a ToUnicode CMap, so viewers can find, select and copy Chinese text.  The writer
streams objects to a binary file, so memory stays flat for long dossiers.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from archive.glyphless_font import UNITS_PER_EM, glyphless_font
from ocr.engine import PageOcr
from ocr.images import to_standard_mode


@dataclass(frozen=True)
class PdfPage:
    image: bytes
    media_type: str  # image/jpeg | image/png
    ocr: PageOcr  # boxes are on the upright image; ocr.rotation turns the scan upright
    dpi: float = 200.0


class _Writer:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.offsets: dict[int, int] = {}
        self.next_id = 1
        self.pos = 0
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.pos += len(data)

    def reserve(self) -> int:
        num = self.next_id
        self.next_id += 1
        return num

    def obj(self, num: int, body: bytes) -> None:
        self.offsets[num] = self.pos
        self._write(b"%d 0 obj\n" % num + body + b"\nendobj\n")

    def stream(self, num: int, entries: bytes, data: bytes) -> None:
        self.obj(num, b"<< " + entries + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")

    def finish(self, root: int, info: int) -> None:
        xref = self.pos
        lines = [b"xref\n0 %d\n" % self.next_id, b"0000000000 65535 f \n"]
        lines += [b"%010d 00000 n \n" % self.offsets[n] for n in range(1, self.next_id)]
        self._write(b"".join(lines))
        self._write(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (self.next_id, root, info, xref)
        )


def _image_xobject(data: bytes, media_type: str) -> tuple[bytes, bytes, int, int]:
    """(dictionary entries, stream data, width, height) for an image XObject."""
    with Image.open(io.BytesIO(data)) as img:
        width, height, mode = img.width, img.height, img.mode
        if media_type == "image/jpeg" and mode in ("L", "RGB"):
            space = b"/DeviceGray" if mode == "L" else b"/DeviceRGB"
            entries = (
                b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode"
                % (width, height, space)
            )
            return entries, data, width, height
        flat = to_standard_mode(img)
        if flat.mode == "1":
            raw, space, bpc = flat.tobytes(), b"/DeviceGray", 1
        elif flat.mode == "L":
            raw, space, bpc = flat.tobytes(), b"/DeviceGray", 8
        else:
            raw, space, bpc = flat.tobytes(), b"/DeviceRGB", 8
    entries = (
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent %d /Filter /FlateDecode"
        % (width, height, space, bpc)
    )
    return entries, zlib.compress(raw, 6), width, height


def _placement(rotation: int, w: float, h: float) -> tuple[float, ...]:
    """The cm matrix that draws the unit-square scan so that it stands upright on a w×h page."""
    return {
        0: (w, 0, 0, h, 0, 0),
        90: (0, -h, w, 0, 0, h),
        180: (-w, 0, 0, -h, w, h),
        270: (0, h, -w, 0, w, 0),
    }[rotation % 360]


def _num(value: float) -> bytes:
    return (b"%.3f" % value).rstrip(b"0").rstrip(b".") or b"0"


class _Cids:
    """Per-document CID numbering: one CID for each distinct character (astral ones too)."""

    def __init__(self) -> None:
        self.by_char: dict[str, int] = {}

    def encode(self, text: str) -> bytes:
        out = bytearray()
        for ch in text:
            cid = self.by_char.setdefault(ch, len(self.by_char) + 1)
            out += cid.to_bytes(2, "big")
        return bytes(out)

    def to_unicode_cmap(self) -> bytes:
        head = (
            b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            b"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        )
        items = sorted((cid, ch) for ch, cid in self.by_char.items())
        body = bytearray()
        for start in range(0, len(items), 100):
            chunk = items[start : start + 100]
            body += b"%d beginbfchar\n" % len(chunk)
            for cid, ch in chunk:
                body += b"<%04X> <%s>\n" % (cid, ch.encode("utf-16-be").hex().upper().encode())
            body += b"endbfchar\n"
        return head + bytes(body) + b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"


def _text_layer(ocr: PageOcr, cids: _Cids, scale: float, page_h: float) -> bytes:
    ops = [b"BT", b"3 Tr"]
    for line in ocr.lines:
        text = line.text.strip()
        if not text:
            continue
        width = (line.right - line.left) * scale
        size = max(1.0, (line.bottom - line.top) * scale)
        x = line.left * scale
        y = page_h - line.bottom * scale + 0.12 * size  # baseline above the box's bottom (descent)
        stretch = 100.0 * width / (len(text) * size * 1000 / UNITS_PER_EM)
        ops.append(
            b"/F1 %s Tf %s Tz 1 0 0 1 %s %s Tm <%s> Tj"
            % (_num(size), _num(stretch), _num(x), _num(y), cids.encode(text).hex().upper().encode())
        )
    ops.append(b"ET")
    return b"\n".join(ops)


def write_searchable_pdf(pages: Iterable[PdfPage], out: BinaryIO, title: str = "") -> int:
    """Write the PDF to ``out``; returns the number of pages written."""
    w = _Writer(out)
    catalog, pages_id, font_id, info_id = w.reserve(), w.reserve(), w.reserve(), w.reserve()
    cids = _Cids()
    kids: list[int] = []
    for page in pages:
        entries, data, img_w, img_h = _image_xobject(page.image, page.media_type)
        scale = 72.0 / page.dpi
        upright_w, upright_h = page.ocr.width, page.ocr.height
        page_w, page_h = upright_w * scale, upright_h * scale
        image_id, content_id, page_id = w.reserve(), w.reserve(), w.reserve()
        w.stream(image_id, entries, data)
        matrix = b" ".join(_num(v) for v in _placement(page.ocr.rotation, page_w, page_h))
        content = b"q %s cm /Im0 Do Q\n" % matrix + _text_layer(page.ocr, cids, scale, page_h)
        w.stream(content_id, b"/Filter /FlateDecode", zlib.compress(content, 6))
        w.obj(
            page_id,
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Contents %d 0 R "
            b"/Resources << /XObject << /Im0 %d 0 R >> /Font << /F1 %d 0 R >> >> >>"
            % (pages_id, _num(page_w), _num(page_h), content_id, image_id, font_id),
        )
        kids.append(page_id)
    _write_font(w, font_id, cids)
    w.obj(pages_id, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (len(kids), b" ".join(b"%d 0 R" % k for k in kids)))
    w.obj(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    w.obj(info_id, b"<< /Producer (archive) /Title <FEFF%s> >>" % title.encode("utf-16-be").hex().upper().encode())
    w.finish(catalog, info_id)
    return len(kids)


def _write_font(w: _Writer, font_id: int, cids: _Cids) -> None:
    cid_font, descriptor, file_id, gidmap_id, tounicode_id = (w.reserve() for _ in range(5))
    font = glyphless_font()
    w.stream(file_id, b"/Length1 %d /Filter /FlateDecode" % len(font), zlib.compress(font))
    gid_map = b"\x00\x01" * (len(cids.by_char) + 1)  # every CID draws glyph 1, the blank
    w.stream(gidmap_id, b"/Filter /FlateDecode", zlib.compress(gid_map))
    w.stream(tounicode_id, b"/Filter /FlateDecode", zlib.compress(cids.to_unicode_cmap()))
    w.obj(
        descriptor,
        b"<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 5 /FontBBox [0 -120 1000 880] "
        b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 80 /FontFile2 %d 0 R >>" % file_id,
    )
    w.obj(
        cid_font,
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        b"/FontDescriptor %d 0 R /DW %d /CIDToGIDMap %d 0 R >>" % (descriptor, UNITS_PER_EM, gidmap_id),
    )
    w.obj(
        font_id,
        b"<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H "
        b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (cid_font, tounicode_id),
    )

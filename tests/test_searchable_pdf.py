"""The searchable PDF writer: the scan as the page, the OCR text invisible over its boxes."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from fontTools.ttLib import TTFont
from PIL import Image
from pypdf import PdfReader

from archive.searchable_pdf import PdfPage, write_searchable_pdf
from ocr.engine import OcrLine, PageOcr

# Turning an image clockwise by n degrees, in Pillow's (counter-clockwise) terms.
CLOCKWISE = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}


def _box(left: float, top: float, right: float, bottom: float):
    return ((left, top), (right, top), (right, bottom), (left, bottom))


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _quadrants(width: int, height: int) -> Image.Image:
    """An image whose orientation is obvious: red, green / blue, white quadrants."""
    arr = np.zeros((height, width, 3), np.uint8)
    arr[: height // 2, : width // 2] = (255, 0, 0)
    arr[: height // 2, width // 2 :] = (0, 255, 0)
    arr[height // 2 :, : width // 2] = (0, 0, 255)
    arr[height // 2 :, width // 2 :] = (255, 255, 255)
    return Image.fromarray(arr)


def _write(pages: list[PdfPage], title: str = "") -> bytes:
    out = io.BytesIO()
    count = write_searchable_pdf(pages, out, title=title)
    assert count == len(pages)
    return out.getvalue()


def _image_xobject(page):
    xobjects = page["/Resources"]["/XObject"]
    (name,) = list(xobjects.keys())
    return xobjects[name].get_object()


LINES_UPRIGHT = [
    OcrLine("社会保险参保登记表", _box(40, 30, 560, 80), 0.98),
    OcrLine("ID 440106197602024788 No.17", _box(40, 120, 560, 150), 0.95),
    OcrLine("生僻字𠀀与𠀁测试", _box(40, 200, 400, 240), 0.80),
    OcrLine("   ", _box(40, 300, 100, 320), 0.10),  # blank fragments are skipped, not fatal
]
LINES_TURNED = [
    OcrLine("旋转九十度页面", _box(30, 40, 400, 90), 0.97),
    OcrLine("Rotated 90 / 2024-05-06", _box(30, 500, 420, 530), 0.96),
]


@pytest.fixture
def mixed_pdf() -> tuple[bytes, list[PdfPage], bytes]:
    dpi = 100.0
    jpeg = _encode(_quadrants(600, 400).convert("RGB"), "JPEG")
    # a scan lying on its side: 600 wide, 450 high stored, 450 × 600 upright after turning 90° clockwise
    png = _encode(_quadrants(600, 450).convert("L"), "PNG")
    pages = [
        PdfPage(jpeg, "image/jpeg", PageOcr(LINES_UPRIGHT, 0, 600, 400, "hand"), dpi),
        PdfPage(png, "image/png", PageOcr(LINES_TURNED, 90, 450, 600, "hand"), dpi),
    ]
    return _write(pages, title="档案 测试"), pages, jpeg


def test_pypdf_reads_pages_sizes_and_text(mixed_pdf) -> None:
    data, pages, _ = mixed_pdf
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data), strict=True)
    assert len(reader.pages) == len(pages)
    for pdf_page, page in zip(reader.pages, pages, strict=True):
        box = pdf_page.mediabox
        assert float(box.left) == 0 and float(box.bottom) == 0
        assert float(box.width) == pytest.approx(page.ocr.width * 72 / page.dpi, abs=0.01)
        assert float(box.height) == pytest.approx(page.ocr.height * 72 / page.dpi, abs=0.01)
        text = _squash(pdf_page.extract_text())
        for line in page.ocr.lines:
            assert _squash(line.text) in text, (line.text, text)
    assert reader.metadata.title == "档案 测试"


def test_astral_character_survives(mixed_pdf) -> None:
    data, _, _ = mixed_pdf
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "𠀀" in text and "𠀁" in text
    assert "\ufffd" not in text


def test_pdfium_finds_text_inside_each_box(mixed_pdf) -> None:
    data, pages, _ = mixed_pdf
    doc = pdfium.PdfDocument(data)
    try:
        for index, page in enumerate(pages):
            pdf_page = doc[index]
            textpage = pdf_page.get_textpage()
            _, page_h = pdf_page.get_size()
            scale = 72 / page.dpi
            for line in page.ocr.lines:
                if not line.text.strip():
                    continue
                found = textpage.get_text_bounded(
                    left=line.left * scale - 1,
                    bottom=page_h - line.bottom * scale - 1,
                    right=line.right * scale + 1,
                    top=page_h - line.top * scale + 1,
                )
                assert _squash(found) == _squash(line.text)
            textpage.close()
            pdf_page.close()
    finally:
        doc.close()


def test_text_spans_the_box_width(mixed_pdf) -> None:
    """Each line's invisible text is stretched to its box, so selection matches the scan."""
    data, pages, _ = mixed_pdf
    doc = pdfium.PdfDocument(data)
    try:
        page = pages[0]
        textpage = doc[0].get_textpage()
        scale = 72 / page.dpi
        full = textpage.get_text_range()
        chars = [textpage.get_charbox(i) for i in range(textpage.count_chars())]
        line = page.ocr.lines[0]
        start = full.index(line.text)
        first, last = chars[start], chars[start + len(line.text) - 1]
        assert first[0] == pytest.approx(line.left * scale, abs=0.5)
        assert last[2] == pytest.approx(line.right * scale, abs=0.5)
        textpage.close()
    finally:
        doc.close()


def test_font_is_embedded(mixed_pdf) -> None:
    data, _, _ = mixed_pdf
    reader = PdfReader(io.BytesIO(data))
    for pdf_page in reader.pages:
        font = pdf_page["/Resources"]["/Font"]["/F1"].get_object()
        assert font["/Subtype"] == "/Type0"
        assert "/ToUnicode" in font
        descendant = font["/DescendantFonts"][0].get_object()
        descriptor = descendant["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor
        font_bytes = descriptor["/FontFile2"].get_object().get_data()
        assert len(font_bytes) > 0
        ttf = TTFont(io.BytesIO(font_bytes))
        assert "glyf" in ttf and "cmap" in ttf


def test_jpeg_embedded_unchanged_png_lossless(mixed_pdf) -> None:
    data, pages, jpeg = mixed_pdf
    reader = PdfReader(io.BytesIO(data))
    jpeg_obj = _image_xobject(reader.pages[0])
    assert jpeg_obj["/Filter"] == "/DCTDecode"
    assert bytes(jpeg_obj._data) == jpeg
    png_obj = _image_xobject(reader.pages[1])
    assert png_obj["/Filter"] == "/FlateDecode"
    assert (png_obj["/Width"], png_obj["/Height"]) == (600, 450)
    with Image.open(io.BytesIO(pages[1].image)) as src:
        assert png_obj.get_data() == src.tobytes()


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize(("fmt", "mode"), [("JPEG", "RGB"), ("JPEG", "L"), ("PNG", "RGB"), ("PNG", "L"), ("PNG", "1")])
def test_scan_is_drawn_upright(rotation: int, fmt: str, mode: str) -> None:
    scan = _quadrants(160, 120).convert(mode)
    upright = scan if rotation == 0 else scan.transpose(CLOCKWISE[rotation])
    media_type = "image/jpeg" if fmt == "JPEG" else "image/png"
    ocr = PageOcr([OcrLine("页", _box(10, 10, 30, 30), 0.9)], rotation, upright.width, upright.height, "hand")
    data = _write([PdfPage(_encode(scan, fmt), media_type, ocr, 72.0)])
    doc = pdfium.PdfDocument(data)
    try:
        page = doc[0]
        rendered = page.render(scale=1).to_pil().convert("RGB")
        page.close()
    finally:
        doc.close()
    assert rendered.size == upright.size
    diff = np.abs(np.asarray(rendered, np.int16) - np.asarray(upright.convert("RGB"), np.int16)).mean()
    assert diff < (12 if fmt == "JPEG" else 1), diff


def test_16_bit_grey_png_is_drawn_faithfully() -> None:
    ramp = np.linspace(0, 65535, 100 * 200).reshape(100, 200).astype(np.uint16)
    png = _encode(Image.fromarray(ramp), "PNG")
    with Image.open(io.BytesIO(png)) as check:
        assert check.mode.startswith("I;16")
    data = _write([PdfPage(png, "image/png", PageOcr([], 0, 200, 100, "hand"), 72.0)])
    doc = pdfium.PdfDocument(data)
    try:
        page = doc[0]
        rendered = np.asarray(page.render(scale=1).to_pil().convert("L"), np.int16)
        page.close()
    finally:
        doc.close()
    assert np.abs(rendered - (ramp >> 8).astype(np.int16)).mean() < 3


def test_many_distinct_characters() -> None:
    """More than one ToUnicode chunk (100 entries) and characters shared between pages."""
    chars = [chr(0x4E00 + i) for i in range(260)]
    lines = [
        OcrLine("".join(chars[i : i + 20]), _box(10, 10 + 30 * n, 610, 35 + 30 * n), 0.9)
        for n, i in enumerate(range(0, 260, 20))
    ]
    img = _encode(Image.new("L", (620, 420), 255), "PNG")
    pages = [PdfPage(img, "image/png", PageOcr(lines, 0, 620, 420, "hand"), 150.0) for _ in range(2)]
    reader = PdfReader(io.BytesIO(_write(pages)))
    for pdf_page in reader.pages:
        text = _squash(pdf_page.extract_text())
        assert text == "".join(chars)


def test_empty_ocr_and_no_pages() -> None:
    img = _encode(Image.new("RGB", (100, 140), (250, 250, 250)), "JPEG")
    reader = PdfReader(io.BytesIO(_write([PdfPage(img, "image/jpeg", PageOcr([], 0, 100, 140, "hand"), 200.0)])))
    assert len(reader.pages) == 1
    assert _squash(reader.pages[0].extract_text()) == ""
    assert len(PdfReader(io.BytesIO(_write([]))).pages) == 0


def test_real_dossier_page(dev_data: Path) -> None:
    source = dev_data / "dossiers" / "dossier-001.pdf"
    truth = json.loads((dev_data / "truth" / "dossier-001.json").read_text(encoding="utf-8"))
    src_page = PdfReader(str(source)).pages[0]
    image = _image_xobject(src_page)
    jpeg = bytes(image._data)
    width, height = int(image["/Width"]), int(image["/Height"])
    # dev scans are 200 dpi, so the output page must have the size of the source page
    dpi = 200.0
    lines = []
    for n, text in enumerate(truth["pages"][0]["lines"]):
        top = 150 + n * 110
        lines.append(OcrLine(text, _box(120, top, min(width - 120, 120 + 42 * len(text)), top + 56), 0.9))
    ocr = PageOcr(lines, 0, width, height, "hand", text_lines=[ln.text for ln in lines])
    data = _write([PdfPage(jpeg, "image/jpeg", ocr, dpi)])

    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    out_page = reader.pages[0]
    assert float(out_page.mediabox.width) == pytest.approx(float(src_page.mediabox.width), abs=0.05)
    assert float(out_page.mediabox.height) == pytest.approx(float(src_page.mediabox.height), abs=0.05)
    assert bytes(_image_xobject(out_page)._data) == jpeg
    text = _squash(out_page.extract_text())
    for line in truth["pages"][0]["lines"]:
        assert _squash(line) in text

"""Visible watermarks on downloaded copies: the stamp's text, page images (upright, same size,
marked across the page and along the footer) and PDFs (every page, text layer kept)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageChops
from pypdf import PdfReader, PdfWriter

from archive.reading.watermark import Stamp, watermark_image, watermark_pdf
from archive.searchable_pdf import PdfPage, write_searchable_pdf
from ocr.engine import OcrLine, PageOcr

STAMP = Stamp("demo-caseworker", "370303", datetime(2026, 12, 5, 12, 31, tzinfo=UTC))


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def test_the_stamp_names_user_office_and_beijing_time_in_ascii() -> None:
    assert STAMP.text() == "demo-caseworker 370303 2026-12-05 20:31 CST"
    assert "demo-caseworker (office 370303) at 2026-12-05 20:31 CST" in STAMP.footer()
    everywhere = Stamp("auditor", "*", datetime(2026, 1, 1, 16, 0, tzinfo=UTC))
    assert everywhere.text() == "auditor ALL 2026-01-02 00:00 CST"
    assert Stamp("用户", "370303", STAMP.at).text().startswith("?? 370303")
    assert Stamp("naive", "1", datetime(2026, 1, 1, 0, 0)).text() == "naive 1 2026-01-01 08:00 CST"


def test_a_page_image_is_marked_across_the_page_and_in_the_footer() -> None:
    page = Image.new("L", (800, 1100), 255)
    marked_bytes, media_type = watermark_image(_encode(page, "PNG"), "image/png", STAMP)
    assert media_type == "image/png"
    marked = np.asarray(Image.open(io.BytesIO(marked_bytes)).convert("L"))
    assert marked.shape == (1100, 800)
    body, footer = marked[:1000], marked[-20:]
    assert (body < 250).mean() > 0.01  # diagonal text over the page
    assert (body == 255).mean() > 0.5  # but translucent and sparse: the page stays readable
    assert footer.min() < 80  # the footer line in solid ink


def test_image_formats_and_modes_are_kept_and_sideways_scans_turned_upright() -> None:
    colour = Image.new("RGB", (600, 400), (250, 250, 245))
    data, media_type = watermark_image(_encode(colour, "JPEG"), "image/jpeg", STAMP)
    with Image.open(io.BytesIO(data)) as out:
        assert (media_type, out.format, out.mode, out.size) == ("image/jpeg", "JPEG", "RGB", (600, 400))
    bilevel = Image.new("1", (300, 500), 1)
    data, media_type = watermark_image(_encode(bilevel, "PNG"), "image/png", STAMP, rotation=90)
    with Image.open(io.BytesIO(data)) as out:
        assert (media_type, out.mode, out.size) == ("image/png", "L", (500, 300))
    tiff = Image.new("L", (200, 200), 255)
    data, media_type = watermark_image(_encode(tiff, "TIFF"), "image/tiff", STAMP)
    assert media_type == "image/png"
    with Image.open(io.BytesIO(data)) as out:
        assert ImageChops.difference(out.convert("L"), tiff).getbbox() is not None


def _searchable(pages: int) -> bytes:
    scans = []
    for n in range(pages):
        image = Image.new("L", (400, 560), 255)
        line = OcrLine(
            text=f"养老保险待遇核定 第{n + 1}页", box=((40, 40), (360, 40), (360, 80), (40, 80)), confidence=0.99
        )
        ocr = PageOcr(lines=[line], rotation=0, width=400, height=560, engine="test", text_lines=[line.text])
        scans.append(PdfPage(image=_encode(image, "PNG"), media_type="image/png", ocr=ocr, dpi=100))
    out = io.BytesIO()
    write_searchable_pdf(scans, out, title="370303-2026-0001")
    return out.getvalue()


def test_every_pdf_page_is_stamped_and_its_text_layer_kept() -> None:
    source = _searchable(3)
    marked = watermark_pdf(source, STAMP)
    reader = PdfReader(io.BytesIO(marked))
    assert len(reader.pages) == 3
    for n, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"养老保险待遇核定 第{n}页" in text.replace("\n", " ")
        assert "demo-caseworker 370303 2026-12-05 20:31 CST" in text
        assert "Downloaded by demo-caseworker" in text
    # Drawn, not only present: the rendered blank scan now has ink on it.
    before = pdfium.PdfDocument(source)[0].render(scale=1).to_pil().convert("L")
    after = pdfium.PdfDocument(marked)[0].render(scale=1).to_pil().convert("L")
    body = np.asarray(after)[:-30]
    assert np.asarray(before).min() > 240 and (body < 250).mean() > 0.02  # translucent diagonal text
    assert (np.asarray(after)[-12:] < 120).any()  # the footer line


def test_a_page_that_leaves_its_graphics_state_changed_still_gets_the_stamp_in_place() -> None:
    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=400)
    from pypdf.generic import DecodedStreamObject, NameObject

    stray = DecodedStreamObject()
    stray.set_data(b"0.1 0 0 0.1 0 0 cm")  # scales everything after it down, never restored
    page[NameObject("/Contents")] = writer._add_object(stray)
    out = io.BytesIO()
    writer.write(out)
    marked = watermark_pdf(out.getvalue(), STAMP)
    image = np.asarray(pdfium.PdfDocument(marked)[0].render(scale=1).to_pil().convert("L"))
    assert (image[300:, 150:] < 200).any()  # ink far outside the scaled-down corner
    assert (image[-12:, :] < 120).any()  # the footer along the bottom edge

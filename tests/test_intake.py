"""Intake: source files in, page images out (and clear, coded refusals for bad inputs)."""

from __future__ import annotations

import io
import json
import random
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from archive.intake import IntakeError, IntakePage, expand_paths, open_source
from archive.settings import Settings

A4_WIDTH_IN = 8.27
A4_HEIGHT_IN = 11.69


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def _ingest(path: Path, settings: Settings) -> list[IntakePage]:
    return list(open_source(str(path), settings).ingestor.pages())


def _intake_error(path: Path, settings: Settings) -> IntakeError:
    """The IntakeError raised for ``path``, whether at open_source or while reading the pages."""
    with pytest.raises(IntakeError) as excinfo:
        _ingest(path, settings)
    return excinfo.value


def _assert_chinese_detail(err: IntakeError) -> None:
    assert err.detail.strip()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err.detail), err.detail


def _raw_jpegs(pdf: Path) -> list[tuple[bytes, int, int]]:
    out = []
    for page in PdfReader(str(pdf)).pages:
        xobjects = page["/Resources"]["/XObject"]
        (name,) = list(xobjects.keys())
        image = xobjects[name].get_object()
        out.append((bytes(image._data), int(image["/Width"]), int(image["/Height"])))
    return out


# -- the fast path on real dossiers -----------------------------------------------------------


def test_dev_dossiers_fast_path_keeps_embedded_jpegs(dev_data: Path, settings: Settings) -> None:
    index = json.loads((dev_data / "index.json").read_text(encoding="utf-8"))
    assert index, "index.json lists no dossiers"
    for entry in index:
        pdf = dev_data / entry["file"]
        truth_file = dev_data / "truth" / (Path(entry["file"]).stem + ".json")
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        source = open_source(str(pdf), settings)
        assert source.media_type == "application/pdf"
        assert source.ingestor.page_count() == truth["actual_pages"], pdf.name
        pages = list(source.ingestor.pages())
        raw = _raw_jpegs(pdf)
        assert len(pages) == truth["actual_pages"] == len(raw), pdf.name
        for page, (data, width, height) in zip(pages, raw, strict=True):
            assert page.media_type == "image/jpeg"
            assert page.data == data, f"{pdf.name} page {page.index} was re-encoded"
            assert (page.width, page.height) == (width, height)
        assert [p.index for p in pages] == list(range(len(pages)))


def test_dev_dossier_pixel_limit_refuses_large_pages(dev_data: Path, tmp_path: Path) -> None:
    pdf = dev_data / "dossiers" / "dossier-001.pdf"
    err = _intake_error(pdf, Settings(home=tmp_path, max_image_pixels=1000))
    assert err.code == "image_too_large"
    _assert_chinese_detail(err)


# -- the render path --------------------------------------------------------------------------


def _pdf_bytes(objects: list[bytes]) -> bytes:
    """A minimal PDF from numbered object bodies (object 1 must be the catalog)."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _text_pdf(width_pt: float = 595.28, height_pt: float = 841.89) -> bytes:
    """An A4 page of vector text and a filled rectangle, as a word processor would make it."""
    content = b"BT /F1 36 Tf 72 720 Td (Vector text page) Tj ET\n0 0 0 rg 72 400 200 100 re f\n"
    return _pdf_bytes(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>" % (width_pt, height_pt),
            _stream(content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def test_render_dpi_below_200_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Settings(home=tmp_path, render_dpi=150)


@pytest.mark.parametrize("dpi", [200, 300])
def test_vector_pdf_is_rendered_at_configured_dpi(tmp_path: Path, dpi: int) -> None:
    pdf = tmp_path / "vector.pdf"
    pdf.write_bytes(_text_pdf())
    settings = Settings(home=tmp_path / "home", render_dpi=dpi)
    source = open_source(str(pdf), settings)
    assert source.ingestor.page_count() == 1
    (page,) = list(source.ingestor.pages())
    assert page.media_type == "image/png"
    assert page.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert abs(page.width - A4_WIDTH_IN * dpi) <= 2
    assert abs(page.height - A4_HEIGHT_IN * dpi) <= 2
    with Image.open(io.BytesIO(page.data)) as img:
        assert img.format == "PNG"
        assert img.size == (page.width, page.height)
        gray = np.asarray(img.convert("L"))
    # the filled rectangle (72..272 pt across, 400..500 pt up) is black where it should be
    scale = dpi / 72
    top = round((841.89 - 500) * scale)
    rect = gray[top + 3 : round((841.89 - 400) * scale) - 3, round(72 * scale) + 3 : round(272 * scale) - 3]
    assert rect.size and rect.max() < 40
    assert gray[5:20, 5:20].min() > 230  # paper stays white
    # the text was drawn too: dark pixels in the band of the text line
    text_band = gray[round((841.89 - 760) * scale) : round((841.89 - 710) * scale), :]
    assert (text_band < 128).sum() > 50


def _jpeg_page_pdf(pages_extra: bytes = b"", page_extra: bytes = b"") -> bytes:
    """A one-page PDF that draws a 200×100 JPEG over a 144×72 pt page."""
    jpeg = io.BytesIO()
    Image.new("RGB", (200, 100), (10, 200, 30)).save(jpeg, format="JPEG", quality=95)
    img_obj = (
        b"<< /Type /XObject /Subtype /Image /Width 200 /Height 100 /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n"
        % len(jpeg.getvalue())
        + jpeg.getvalue()
        + b"\nendstream"
    )
    return _pdf_bytes(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 %s >>" % pages_extra,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 144 72] %s /Contents 4 0 R "
            b"/Resources << /XObject << /Im0 5 0 R >> >> >>" % page_extra,
            _stream(b"q 144 0 0 72 0 0 cm /Im0 Do Q"),
            img_obj,
        ]
    )


@pytest.mark.parametrize(("pages_extra", "page_extra"), [(b"", b"/Rotate 90"), (b"/Rotate 90", b"")])
def test_rotated_jpeg_page_takes_render_path(tmp_path: Path, pages_extra: bytes, page_extra: bytes) -> None:
    """A page with /Rotate (its own or inherited) is not a plain scan: it is rendered, so it comes out upright."""
    pdf = tmp_path / "rotated.pdf"
    pdf.write_bytes(_jpeg_page_pdf(pages_extra, page_extra))
    (page,) = _ingest(pdf, Settings(home=tmp_path / "home", render_dpi=200))
    assert page.media_type == "image/png"
    assert abs(page.width - 200) <= 1  # 72 pt at 200 dpi, the page turned upright
    assert abs(page.height - 400) <= 1


def test_unrotated_jpeg_page_takes_fast_path(tmp_path: Path, settings: Settings) -> None:
    pdf = tmp_path / "plain.pdf"
    pdf.write_bytes(_jpeg_page_pdf())
    (page,) = _ingest(pdf, settings)
    assert page.media_type == "image/jpeg"
    assert (page.width, page.height) == (200, 100)
    assert page.data == _raw_jpegs(pdf)[0][0]


# -- bad inputs -------------------------------------------------------------------------------


def test_encrypted_pdf(tmp_path: Path, settings: Settings) -> None:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt(user_password="secret", owner_password="owner")
    pdf = tmp_path / "locked.pdf"
    with pdf.open("wb") as fh:
        writer.write(fh)
    err = _intake_error(pdf, settings)
    assert err.code == "pdf_encrypted"
    _assert_chinese_detail(err)


def test_truncated_pdf(dev_data: Path, tmp_path: Path, settings: Settings) -> None:
    data = (dev_data / "dossiers" / "dossier-002.pdf").read_bytes()
    pdf = tmp_path / "truncated.pdf"
    pdf.write_bytes(data[: int(len(data) * 0.4)])
    err = _intake_error(pdf, settings)  # at open_source or, at the latest, while reading pages
    assert err.code == "pdf_unreadable"
    _assert_chinese_detail(err)


def test_random_bytes_named_pdf(tmp_path: Path, settings: Settings) -> None:
    rng = random.Random(1234)
    data = b"\x00" + bytes(rng.randrange(256) for _ in range(4096))
    assert b"%PDF-" not in data
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(data)
    err = _intake_error(pdf, settings)
    assert err.code == "not_a_pdf"
    _assert_chinese_detail(err)


def test_pdf_without_pages(tmp_path: Path, settings: Settings) -> None:
    pdf = tmp_path / "empty-doc.pdf"
    with pdf.open("wb") as fh:
        PdfWriter().write(fh)
    assert len(PdfReader(str(pdf)).pages) == 0
    err = _intake_error(pdf, settings)
    assert err.code == "pdf_no_pages"
    _assert_chinese_detail(err)


def test_empty_file(tmp_path: Path, settings: Settings) -> None:
    pdf = tmp_path / "zero.pdf"
    pdf.write_bytes(b"")
    err = _intake_error(pdf, settings)
    assert err.code == "file_empty"
    _assert_chinese_detail(err)


def test_missing_file(tmp_path: Path, settings: Settings) -> None:
    err = _intake_error(tmp_path / "not-there.pdf", settings)
    assert err.code == "file_not_found"
    _assert_chinese_detail(err)


def test_file_over_size_limit(tmp_path: Path) -> None:
    pdf = tmp_path / "big.pdf"
    pdf.write_bytes(_text_pdf())
    err = _intake_error(pdf, Settings(home=tmp_path / "home", max_file_bytes=100))
    assert err.code == "file_too_large"
    _assert_chinese_detail(err)


def test_docx_is_unsupported(tmp_path: Path, settings: Settings) -> None:
    docx = tmp_path / "letter.docx"
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    err = _intake_error(docx, settings)
    assert err.code == "unsupported_type"
    _assert_chinese_detail(err)


def _png_claiming(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_png_header_claiming_huge_size(tmp_path: Path, settings: Settings) -> None:
    png = tmp_path / "bomb.png"
    png.write_bytes(_png_claiming(60000, 60000))
    err = _intake_error(png, settings)
    assert err.code == "image_too_large"
    _assert_chinese_detail(err)


def test_image_over_configured_pixel_limit(tmp_path: Path) -> None:
    png = tmp_path / "page.png"
    Image.new("L", (100, 100), 255).save(png)
    err = _intake_error(png, Settings(home=tmp_path / "home", max_image_pixels=1000))
    assert err.code == "image_too_large"
    _assert_chinese_detail(err)


def test_tiff_frame_over_configured_pixel_limit(tmp_path: Path) -> None:
    tif = tmp_path / "pages.tif"
    small, big = Image.new("L", (20, 20), 255), Image.new("L", (100, 100), 255)
    small.save(tif, save_all=True, append_images=[big])
    err = _intake_error(tif, Settings(home=tmp_path / "home", max_image_pixels=1000))
    assert err.code == "image_too_large"


def test_truncated_png(tmp_path: Path, settings: Settings) -> None:
    buf = io.BytesIO()
    Image.effect_noise((300, 300), 64).save(buf, format="PNG")
    png = tmp_path / "cut.png"
    png.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    err = _intake_error(png, settings)
    assert err.code == "image_unreadable"
    _assert_chinese_detail(err)


# -- image files ------------------------------------------------------------------------------


def test_multipage_tiff_becomes_png_pages(tmp_path: Path, settings: Settings) -> None:
    rng = np.random.default_rng(7)
    frames = [
        Image.fromarray(rng.integers(0, 256, (120, 90), dtype=np.uint8), "L"),
        Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8), "RGB"),
        Image.fromarray(rng.integers(0, 2, (50, 70), dtype=np.uint8) * 255, "L").convert("1"),
    ]
    tif = tmp_path / "scan.tiff"
    frames[0].save(tif, save_all=True, append_images=frames[1:], compression="tiff_lzw")
    source = open_source(str(tif), settings)
    assert source.media_type == "image/tiff"
    assert source.ingestor.page_count() == 3
    pages = list(source.ingestor.pages())
    assert [p.index for p in pages] == [0, 1, 2]
    for page, frame in zip(pages, frames, strict=True):
        assert page.media_type == "image/png"
        assert (page.width, page.height) == frame.size
        with Image.open(io.BytesIO(page.data)) as img:
            assert img.format == "PNG"
            assert img.size == frame.size
            # lossless: the same pixels as the frame
            assert np.array_equal(np.asarray(img.convert("RGB")), np.asarray(frame.convert("RGB")))


@pytest.mark.parametrize(
    ("fmt", "suffix", "media_type"), [("JPEG", ".jpg", "image/jpeg"), ("PNG", ".png", "image/png")]
)
def test_single_image_kept_byte_for_byte(
    tmp_path: Path, settings: Settings, fmt: str, suffix: str, media_type: str
) -> None:
    path = tmp_path / f"page{suffix}"
    Image.effect_noise((210, 297), 40).convert("RGB").save(path, format=fmt)
    original = path.read_bytes()
    source = open_source(str(path), settings)
    assert source.media_type == media_type
    assert source.ingestor.page_count() == 1
    (page,) = list(source.ingestor.pages())
    assert page.data == original
    assert page.media_type == media_type
    assert (page.width, page.height) == (210, 297)
    assert page.index == 0


def test_16_bit_grey_tiff_keeps_its_content(tmp_path: Path, settings: Settings) -> None:
    ramp = np.linspace(0, 65535, 100 * 200).reshape(100, 200).astype(np.uint16)
    tif = tmp_path / "scan16.tif"
    Image.fromarray(ramp).save(tif)
    with Image.open(tif) as check:
        assert check.mode.startswith("I;16")
    (page,) = _ingest(tif, settings)
    assert page.media_type == "image/png"
    with Image.open(io.BytesIO(page.data)) as img:
        got = np.asarray(img.convert("L"), np.int16)
    expected = (ramp >> 8).astype(np.int16)
    assert np.abs(got - expected).max() <= 2


def test_jpeg_mentioning_pdf_in_its_comment_is_a_jpeg(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "scan.jpg"
    Image.new("RGB", (50, 60), (90, 90, 90)).save(path, format="JPEG", comment=b"converted from %PDF-1.4 by ScanApp")
    assert path.read_bytes().startswith(b"\xff\xd8\xff")
    (page,) = _ingest(path, settings)
    assert page.media_type == "image/jpeg"
    assert page.data == path.read_bytes()


def test_type_comes_from_content_not_name(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "really-a-png.jpg"
    Image.new("L", (30, 40), 128).save(path, format="PNG")
    (page,) = _ingest(path, settings)
    assert page.media_type == "image/png"
    assert page.data == path.read_bytes()


# -- folders ----------------------------------------------------------------------------------


def test_expand_paths(tmp_path: Path) -> None:
    root = tmp_path / "inbox"
    wanted = [
        "a.pdf",
        "b/c.tif",
        "b/d/e.JPG",
        "b/d/f.jpeg",
        "b/g.tiff",
        "h.png",
        "i.PDF",
    ]
    unwanted = [
        ".hidden.pdf",
        ".git/objects/x.pdf",
        "b/.secret/inner.png",
        "b/notes.txt",
        "b/letter.docx",
        "readme",
        "b/d/.~lock.pdf",
    ]
    for rel in wanted + unwanted:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (root / "folder.pdf").mkdir()  # a folder is not a file, whatever its name
    loose = tmp_path / "loose.bin"
    loose.write_bytes(b"x")

    assert expand_paths([str(root)]) == [str(root / rel) for rel in wanted]
    # files named explicitly are passed through as given, in the order given
    assert expand_paths([str(loose), str(root / "h.png")]) == [str(loose), str(root / "h.png")]
    assert expand_paths([]) == []

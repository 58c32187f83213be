"""Scan-quality checks at intake (DA/T 31-2017): resolution, colour kept for red seals, blank pages,
skew estimated and corrected.  Pages are generated here (CJK text drawn with WenQuanYi Micro Hei,
red round seals, near-white noisy sheets) and turned by known angles."""

from __future__ import annotations

import hashlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from archive.intake import open_source
from archive.pipeline.runner import run_batch
from archive.quality import QualityConfig, assess_page
from archive.quality.findings import PageFacts, content_problems, scan_problems, small_print_mm
from archive.quality.resolution import Resolution, estimate_from_size, from_metadata
from archive.records.models import Dossier, Original, Page
from archive.runtime import Runtime
from archive.settings import Settings
from ocr.engine import OcrLine, PageOcr
from scripts.bench.quality import normalise
from scripts.generate_fixtures import render_page

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
PAPER = (246, 244, 238)
SEAL_RED = (205, 35, 42)
TITLE = "社会保险参保单位登记表"
BODY = [
    "经办机构：淄博市社会保险事业管理中心",
    "单位名称淄博金桥船务代理有限公司",
    "统一社会信用代码91370303NR6AE2865R",
    "单位地址淄博市博山区解放路1570号",
    "法定代表人彭岚香经办人蒋萍联系电话17813814019",
    "参保险种养老、医疗、失业登记日期2017年07月22日",
    "备注：以上材料均已核对原件，复印件与原件一致。",
    "经办人：蒋萍    审核人：付真育    2017年12月26日",
]
SCAN_CODES = {"low_resolution", "resolution_below_advised", "colour_lost", "blank_page", "no_text", "skew_corrected"}
CONFIG = QualityConfig()


# -- generated pages ------------------------------------------------------------------------------


def text_page(dpi: int, *, seed: int = 1, seal: bool = False, ruled: bool = False, lines: int = 8) -> Image.Image:
    """An upright A4 form page (title + body, 12–13 pt), RGB, scanner noise, no skew."""
    return render_page([TITLE, *BODY[:lines]], seed=seed, dpi=dpi, seal=seal, ruled=ruled, skew_deg=0.0)


def tilted(img: Image.Image, degrees: float) -> Image.Image:
    """``img`` turned ``degrees`` counter-clockwise (as seen), corners filled with paper."""
    fill = PAPER if img.mode == "RGB" else 245
    return img.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=fill)


def encoded(img: Image.Image, fmt: str, dpi: float | None = None) -> bytes:
    buf = io.BytesIO()
    options: dict = {"dpi": (dpi, dpi)} if dpi else {}
    if fmt == "JPEG":
        options["quality"] = 85
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def noisy_sheet(dpi: int, seed: int = 3, specks: int = 600) -> np.ndarray:
    """A near-white A4 sheet: grain, an illumination gradient, dust specks (float RGB)."""
    rng = np.random.default_rng(seed)
    width, height = round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)
    sheet = np.full((height, width, 3), 243.0) + rng.normal(0.0, 5.0, (height, width, 1))
    sheet += np.linspace(-5.0, 5.0, width)[None, :, None]
    for _ in range(specks):
        y, x, r = int(rng.integers(0, height - 3)), int(rng.integers(0, width - 3)), int(rng.integers(1, 3))
        sheet[y : y + r, x : x + r] *= rng.uniform(0.2, 0.7)
    return sheet


def as_image(sheet: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(sheet, 0, 255).astype(np.uint8), "RGB")


def stamp_seal(img: Image.Image, centre: tuple[int, int], dpi: int) -> Image.Image:
    """A solid red 42 mm round seal (ring, star, unit name along the arc) stamped onto ``img``."""
    out = img.copy()
    draw = ImageDraw.Draw(out)
    r = round(21 / 25.4 * dpi)
    ring = max(3, round(1.2 / 25.4 * dpi))
    cx, cy = centre
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=SEAL_RED, width=ring)
    star = [
        (cx + (r * (0.3 if i % 2 == 0 else 0.12)) * math.cos(-math.pi / 2 + i * math.pi / 5),
         cy + (r * (0.3 if i % 2 == 0 else 0.12)) * math.sin(-math.pi / 2 + i * math.pi / 5))
        for i in range(10)
    ]  # fmt: skip
    draw.polygon(star, fill=SEAL_RED)
    font = ImageFont.truetype(FONT, round(r * 0.22))
    for i, ch in enumerate("淄博金桥船务代理有限公司"):
        theta = math.radians(200 + i * 140 / 11)
        draw.text(
            (cx + 0.72 * r * math.cos(theta), cy + 0.72 * r * math.sin(theta)),
            ch,
            font=font,
            fill=SEAL_RED,
            anchor="mm",
        )
    return out


def bilevel(img: Image.Image) -> Image.Image:
    """What a scanner in black-and-white mode makes of the page (a fixed threshold, no dithering)."""
    return img.convert("L").point(lambda v: 255 if v > 150 else 0).convert("1")


# -- skew -----------------------------------------------------------------------------------------

ANGLES = [-14.0, -8.5, -3.2, -1.1, -0.45, 0.0, 0.35, 0.8, 2.4, 5.7, 11.0, 14.6]


@pytest.mark.parametrize("dpi", [200, 300])
def test_skew_is_estimated_within_a_third_of_a_degree(dpi: int) -> None:
    """Text pages (colour JPEG with a red seal, and a grey ruled form as PNG) at known angles.
    (Measured only here; straightening is checked below.)"""
    measure_only = QualityConfig(deskew_min_degrees=90.0)
    pages = [(text_page(dpi, seal=True), "JPEG"), (text_page(dpi, seed=2, ruled=True).convert("L"), "PNG")]
    errors = []
    for page, fmt in pages:
        for angle in ANGLES:
            data = encoded(tilted(page, angle), fmt, dpi)
            assessment = assess_page(data, f"image/{fmt.lower()}", Resolution(dpi, "metadata"), measure_only)
            assert assessment.quality.skew_degrees is not None, (fmt, angle)
            assert assessment.straightened is None
            errors.append(assessment.quality.skew_degrees - angle)
    assert max(abs(e) for e in errors) <= 0.3, errors
    assert float(np.sqrt(np.mean(np.square(errors)))) <= 0.1, errors


def test_sideways_page_gets_the_same_angle() -> None:
    """A page scanned turned 90° (lines running vertically): the tilt is found along the other
    axis, and the same correction straightens it; the 90° turn stays for OCR to decide."""
    page = tilted(text_page(200, seed=4), 2.3).transpose(Image.Transpose.ROTATE_90)
    assessment = assess_page(encoded(page, "JPEG", 200), "image/jpeg", Resolution(200, "metadata"), CONFIG)
    assert assessment.quality.skew_degrees == pytest.approx(2.3, abs=0.3)
    again = assess_page(assessment.straightened, "image/jpeg", Resolution(200, "metadata"), CONFIG).quality
    assert abs(again.skew_degrees) < CONFIG.deskew_min_degrees
    with Image.open(io.BytesIO(assessment.straightened)) as img:
        assert img.size == page.size


@pytest.mark.parametrize(
    ("mode", "fmt", "media_type"), [("RGB", "JPEG", "image/jpeg"), ("L", "PNG", "image/png"), ("1", "PNG", "image/png")]
)
def test_straightened_page_keeps_format_mode_size_and_is_straight(mode: str, fmt: str, media_type: str) -> None:
    page = tilted(text_page(200, seed=5, seal=True), -4.4)
    page = bilevel(page) if mode == "1" else page.convert(mode)
    data = encoded(page, fmt, 200)
    assessment = assess_page(data, media_type, Resolution(200, "metadata"), CONFIG)
    assert assessment.quality.skew_degrees == pytest.approx(-4.4, abs=0.3)
    assert assessment.quality.skew_corrected and assessment.straightened is not None
    with Image.open(io.BytesIO(assessment.straightened)) as img:
        assert (img.format, img.mode, img.size) == (fmt, mode, page.size)
        assert img.info["dpi"][0] == pytest.approx(200, abs=0.5)
    again = assess_page(assessment.straightened, media_type, Resolution(200, "metadata"), CONFIG)
    assert abs(again.quality.skew_degrees) < 0.3  # straight to within the estimate's error
    assert again.straightened is None
    if mode == "RGB":  # the seal is still red on the straightened page
        assert again.quality.red_content and again.quality.colour_mode == "colour"


def test_small_tilt_is_recorded_but_left_alone() -> None:
    page = tilted(text_page(200, seed=6), 0.6)
    assessment = assess_page(encoded(page, "JPEG", 200), "image/jpeg", Resolution(200, "metadata"), CONFIG)
    assert abs(assessment.quality.skew_degrees - 0.6) <= 0.3
    assert abs(assessment.quality.skew_degrees) < CONFIG.deskew_min_degrees
    assert not assessment.quality.skew_corrected and assessment.straightened is None


# -- colour ---------------------------------------------------------------------------------------


def test_red_seal_is_found_on_colour_pages_and_missed_colour_on_grey_ones() -> None:
    dpi = 200
    page = stamp_seal(text_page(dpi, seed=7), (1150, 1000), dpi)
    colour = assess_page(encoded(page, "JPEG", dpi), "image/jpeg", Resolution(dpi, "pdf"), CONFIG).quality
    assert colour.colour_mode == "colour" and colour.red_content and colour.red_share > CONFIG.red_min_share
    assert not colour.seal_without_colour

    grey = assess_page(encoded(page.convert("L"), "JPEG", dpi), "image/jpeg", Resolution(dpi, "pdf"), CONFIG).quality
    assert grey.colour_mode == "grey" and not grey.red_content and grey.seal_without_colour

    bw = assess_page(encoded(bilevel(page), "PNG", dpi), "image/png", Resolution(dpi, "pdf"), CONFIG).quality
    assert bw.colour_mode == "bilevel" and bw.seal_without_colour

    plain = text_page(dpi, seed=7).convert("L")  # the same form without a seal
    assert not assess_page(
        encoded(plain, "JPEG", dpi), "image/jpeg", Resolution(dpi, "pdf"), CONFIG
    ).quality.seal_without_colour

    facts = [PageFacts(1, colour, _ocr(["表"])), PageFacts(2, grey, _ocr(["表"])), PageFacts(3, bw, _ocr(["表"]))]
    found = scan_problems(facts, Settings())
    assert [(p.code, p.page) for p in found] == [("colour_lost", 2), ("colour_lost", 3)]
    assert "彩色" in found[0].detail and "灰度" in found[0].detail and "黑白" in found[1].detail


def test_red_header_counts_and_a_red_tick_does_not() -> None:
    dpi = 200
    header = as_image(noisy_sheet(dpi, specks=0))
    draw = ImageDraw.Draw(header)
    draw.text(
        (827, 230), "淄博市社会保险事业管理中心文件", font=ImageFont.truetype(FONT, 100), fill=SEAL_RED, anchor="mt"
    )
    draw.line((150, 400, 1500, 400), fill=SEAL_RED, width=6)
    tick = as_image(noisy_sheet(dpi, specks=0))
    ImageDraw.Draw(tick).line((300, 300, 318, 326, 352, 262), fill=(220, 40, 40), width=3)
    for img in (header, tick):
        ImageDraw.Draw(img).text((200, 600), BODY[0] * 2, font=ImageFont.truetype(FONT, 34), fill=(20, 20, 20))
    assert assess_page(encoded(header, "JPEG", dpi), "image/jpeg", None, CONFIG).quality.red_content
    assert not assess_page(encoded(tick, "JPEG", dpi), "image/jpeg", None, CONFIG).quality.red_content


@pytest.mark.parametrize("kind", ["jpeg", "tiff", "pdf_jpeg", "pdf_rendered"])
def test_intake_and_straightening_keep_red_pages_in_colour(tmp_path: Path, kind: str) -> None:
    """Whatever the container, the page image the pipeline stores for a red-sealed page is colour."""
    dpi = 200
    page = tilted(stamp_seal(text_page(dpi, seed=8), (1100, 900), dpi), 1.5)
    path = tmp_path / f"scan.{kind}"
    if kind == "jpeg":
        page.save(path, format="JPEG", quality=85, dpi=(dpi, dpi))
    elif kind == "tiff":
        page.save(path, format="TIFF", compression="tiff_lzw", dpi=(dpi, dpi))
    elif kind == "pdf_jpeg":
        page.save(path, format="PDF", resolution=dpi)
    else:  # a palette image: not a plain JPEG, so the page is rendered
        page.quantize(64).save(path, format="PDF", resolution=dpi)
    (intake,) = list(open_source(str(path), Settings(home=tmp_path / "home")).ingestor.pages())
    assert intake.resolution is not None and intake.resolution.dpi == pytest.approx(dpi, rel=0.02)
    assessment = assess_page(intake.data, intake.media_type, intake.resolution, CONFIG)
    assert assessment.quality.red_content and assessment.quality.colour_mode == "colour"
    assert assessment.straightened is not None
    with Image.open(io.BytesIO(assessment.straightened)) as img:
        assert img.mode == "RGB"
        rgb = np.asarray(img).astype(int)
    red = (rgb[:, :, 0] - np.maximum(rgb[:, :, 1], rgb[:, :, 2]) > 60).mean()
    assert red > CONFIG.red_min_share


# -- blank pages ----------------------------------------------------------------------------------


def test_blankness_is_measured_on_the_image() -> None:
    dpi = 200

    def measure(img: Image.Image):
        return assess_page(encoded(img, "JPEG", dpi), "image/jpeg", Resolution(dpi, "pdf"), CONFIG).quality

    blank = measure(as_image(noisy_sheet(dpi, specks=3000)))
    assert blank.blank and blank.ink_share < CONFIG.blank_max_ink and blank.skew_degrees is None

    seal_only = measure(stamp_seal(as_image(noisy_sheet(dpi)), (800, 1000), dpi))
    assert not seal_only.blank and seal_only.red_content

    photo = as_image(noisy_sheet(dpi))
    rng = np.random.default_rng(9)
    photo.paste(
        Image.fromarray(rng.integers(0, 255, (12, 9, 3), dtype=np.uint8)).resize((800, 1000), Image.Resampling.BICUBIC),
        (400, 600),
    )
    photo_q = measure(photo)
    assert not photo_q.blank and photo_q.ink_share > 0.05 and photo_q.skew_degrees is None

    text = measure(text_page(dpi, seed=10))
    assert not text.blank and text.ink_share > 20 * CONFIG.blank_max_ink


def test_blank_page_and_textless_page_problems() -> None:
    dpi = 200
    blank = assess_page(encoded(as_image(noisy_sheet(dpi)), "JPEG", dpi), "image/jpeg", None, CONFIG).quality
    seal = assess_page(
        encoded(stamp_seal(as_image(noisy_sheet(dpi)), (800, 1000), dpi), "JPEG", dpi), "image/jpeg", None, CONFIG
    ).quality
    [problem] = content_problems(PageFacts(4, blank, _ocr([])))
    assert (problem.code, problem.page) == ("blank_page", 4) and "保留" in problem.detail
    [problem] = content_problems(PageFacts(5, blank, _ocr(["-3-"])))  # a page number only: still blank
    assert problem.code == "blank_page"
    [problem] = content_problems(PageFacts(6, seal, _ocr([])))  # ink, nothing read: not blank
    assert (problem.code, problem.page) == ("no_text", 6)
    assert content_problems(PageFacts(7, seal, _ocr(["淄博金桥船务代理有限公司"]))) == []
    [problem] = content_problems(PageFacts(8, None, _ocr([])))  # not measured: as before
    assert problem.code == "blank_page"


# -- resolution -----------------------------------------------------------------------------------


def test_resolution_from_metadata_or_estimated_from_the_paper() -> None:
    assert from_metadata((300, 300), 2480, 3508) == Resolution(300, "metadata")
    a4 = from_metadata(None, 1654, 2339)
    assert (a4.source, a4.paper) == ("estimated", "A4") and a4.dpi == pytest.approx(200, abs=1)
    letter = estimate_from_size(2200, 1700)  # landscape Letter at 200 dpi
    assert letter.paper == "Letter" and letter.dpi == pytest.approx(200, abs=1)
    placeholder = from_metadata((72, 72), 1654, 2339)  # 72 dpi would make this page 58 cm wide
    assert placeholder.source == "estimated" and placeholder.dpi == pytest.approx(200, abs=1)
    assert "72" in placeholder.note
    small = from_metadata((72, 72), 595, 842)  # a real 72 dpi scan of an A4 page is believed
    assert small == Resolution(72, "metadata")


@pytest.mark.parametrize(("dpi", "fmt"), [(150, "JPEG"), (200, "PNG"), (300, "TIFF"), (150, "PDF"), (300, "PDF")])
def test_intake_reports_the_scan_resolution(tmp_path: Path, dpi: int, fmt: str) -> None:
    page = text_page(dpi, seed=11)
    path = tmp_path / f"scan.{fmt.lower()}"
    if fmt == "PDF":
        page.save(path, format="PDF", resolution=dpi)
    else:
        page.save(path, format=fmt, dpi=(dpi, dpi))
    (intake,) = list(open_source(str(path), Settings(home=tmp_path / "home")).ingestor.pages())
    assert intake.resolution.dpi == pytest.approx(dpi, rel=0.01)
    assert intake.resolution.source == ("pdf" if fmt == "PDF" else "metadata")


def test_intake_estimates_resolution_without_metadata(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    text_page(150, seed=12).save(path, format="PNG")  # no pHYs chunk
    (intake,) = list(open_source(str(path), Settings(home=tmp_path / "home")).ingestor.pages())
    assert intake.resolution.source == "estimated" and intake.resolution.paper == "A4"
    assert intake.resolution.dpi == pytest.approx(150, abs=1)
    assert intake.dpi == intake.resolution.dpi  # the searchable PDF page is A4 too


def test_rendered_pdf_page_reports_the_drawn_image_not_the_render_dpi(tmp_path: Path) -> None:
    path = tmp_path / "bilevel.pdf"
    bilevel(text_page(150, seed=13)).save(path, format="PDF", resolution=150)  # CCITT: rendered at 200
    (intake,) = list(open_source(str(path), Settings(home=tmp_path / "home", render_dpi=200)).ingestor.pages())
    assert intake.media_type == "image/png" and intake.dpi == 200
    assert intake.resolution.source == "pdf" and intake.resolution.dpi == pytest.approx(150, rel=0.01)


def test_resolution_problems_are_grouped_and_explain_an_estimate() -> None:
    settings = Settings()
    low = _quality(dpi=150, source="estimated", paper="A4")
    ok = _quality(dpi=200)
    every = scan_problems([PageFacts(1, low, _ocr(["表"])), PageFacts(2, low, _ocr(["表"]))], settings)
    assert [(p.code, p.page) for p in every] == [("low_resolution", None)]
    assert "全部 2 页" in every[0].detail and "150 dpi" in every[0].detail and "A4" in every[0].detail
    some = scan_problems([PageFacts(1, ok, _ocr(["表"])), PageFacts(2, low, _ocr(["表"]))], settings)
    assert [(p.code, p.page) for p in some] == [("low_resolution", 2)]
    assert scan_problems([PageFacts(1, ok, _ocr(["表"]))], settings) == []


def test_small_print_below_advised_resolution() -> None:
    settings = Settings()
    dpi = 200.0
    mm = dpi / 25.4

    def line(text: str, char_mm: float, y: float) -> OcrLine:
        width = len(text) * char_mm * mm
        return OcrLine(text, ((100, y), (100 + width, y), (100 + width, y + 30), (100, y + 30)), 0.99)

    body = [line("社会保险参保单位登记表经办机构", 4.2, 100), line("单位名称淄博金桥船务代理有限公司", 4.4, 200)]
    fine = body + [line("注：本表一式两份经办机构留存一份单位留存一份", 2.4, 300)]
    assert small_print_mm(body, dpi) == pytest.approx(4.2, abs=0.01)
    assert small_print_mm(fine, dpi) == pytest.approx(2.4, abs=0.01)
    assert small_print_mm([line("注：", 2.0, 300)] + body, dpi) == pytest.approx(4.2, abs=0.01)  # too short to count

    page = PageFacts(3, _quality(dpi=200), PageOcr(fine, 0, 1654, 2338, "test"))
    [problem] = scan_problems([page], settings)
    assert (problem.code, problem.page) == ("resolution_below_advised", 3) and "300 dpi" in problem.detail
    assert scan_problems([PageFacts(3, _quality(dpi=300), page.ocr)], settings) == []
    assert scan_problems([PageFacts(3, _quality(dpi=200), PageOcr(body, 0, 1654, 2338, "test"))], settings) == []


def test_large_corrected_skew_is_shown_to_a_reviewer() -> None:
    settings = Settings()
    facts = [
        PageFacts(1, _quality(skew=4.2, corrected=True), _ocr(["表"])),
        PageFacts(2, _quality(skew=-1.2, corrected=True), _ocr(["表"])),
        PageFacts(3, _quality(skew=0.1, corrected=False), _ocr(["表"])),
    ]
    [problem] = scan_problems(facts, settings)
    assert (problem.code, problem.page) == ("skew_corrected", 1) and "4.2°" in problem.detail


def _ocr(texts: list[str]) -> PageOcr:
    lines = [
        OcrLine(t, ((0, 40 * i), (40 * len(t), 40 * i), (40 * len(t), 40 * i + 36), (0, 40 * i + 36)), 0.99)
        for i, t in enumerate(texts)
    ]
    return PageOcr(lines, 0, 1654, 2338, "test", text_lines=list(texts))


def _quality(
    dpi: float = 200, source: str = "pdf", paper: str | None = None, skew: float | None = 0.0, corrected: bool = False
):
    from archive.quality.page import PageQuality

    return PageQuality(
        dpi=dpi, dpi_source=source, paper=paper, colour_mode="grey", red_share=0.0, red_content=False,
        seal_without_colour=False, ink_share=0.02, blank=False, skew_degrees=skew, skew_corrected=corrected,
    )  # fmt: skip


# -- through the pipeline -------------------------------------------------------------------------


def _ingest(rt: Runtime, ocr_pool, sources: list[str]) -> list[dict]:
    lines: list[dict] = []
    run_batch(rt, sources, office="370303", user="system:test", emit=lines.append, pool_factory=lambda: ocr_pool)
    return lines


def test_ingest_measures_straightens_and_flags(runtime: Runtime, ocr_pool, tmp_path: Path) -> None:
    """A 200 dpi PDF: a colour page tilted 4°, a near-white page, a grey page with a seal.  The
    original is kept byte for byte; the stored page image is straight; every page is kept and
    carries its measurements; the findings are problems on the dossier."""
    dpi = 200
    skewed = tilted(text_page(dpi, seed=21, seal=True), 4.0)
    blank = as_image(noisy_sheet(dpi, seed=22))
    grey_seal = stamp_seal(text_page(dpi, seed=23), (1150, 1000), dpi).convert("L")
    source = tmp_path / "mixed.pdf"
    skewed.save(source, format="PDF", save_all=True, append_images=[blank, grey_seal], resolution=dpi, quality=85)

    [line] = _ingest(runtime, ocr_pool, [str(source)])

    assert len(line["pages"]) == 3  # the blank page is kept
    codes = sorted((p["code"], p.get("page")) for p in line["problems"] if p["code"] in SCAN_CODES)
    assert codes == [("blank_page", 2), ("colour_lost", 3), ("skew_corrected", 1)], line["problems"]
    assert line["status"] == "needs_review"
    assert normalise(TITLE) in normalise(line["pages"][0]["text"])
    scans = [p["scan"] for p in line["pages"]]  # the batch report carries the measurements too
    assert [round(s["dpi"]) for s in scans] == [dpi] * 3
    assert scans[0]["skew_corrected"] and scans[0]["skew_degrees"] == pytest.approx(4.0, abs=0.3)
    assert [s["red_content"] for s in scans] == [True, False, False] and scans[1]["blank"]
    assert scans[2]["colour_mode"] == "grey"
    with runtime.sessions() as s:
        original = s.scalar(select(Original))
        pages = s.scalars(select(Page).order_by(Page.number)).all()
        dossier = s.get(Dossier, line["dossier"])
    assert runtime.store.get(original.object_key) == source.read_bytes()
    assert dossier.page_count == 3
    assert [p.scan_dpi for p in pages] == [pytest.approx(dpi, rel=0.01)] * 3
    assert pages[0].skew_degrees == pytest.approx(4.0, abs=0.3) and pages[0].quality["skew_corrected"]
    assert pages[0].red_content is True and pages[2].red_content is False
    assert pages[1].ink_share < CONFIG.blank_max_ink < pages[0].ink_share and pages[1].skew_degrees is None
    assert pages[2].quality["seal_without_colour"] and pages[2].quality["colour_mode"] == "grey"
    # the stored page image is the straightened one (what OCR read and the searchable PDF shows)
    stored = runtime.store.get(pages[0].image_key)
    assert hashlib.sha256(stored).hexdigest() == pages[0].image_sha256 != pages[0].quality["source_sha256"]
    again = assess_page(stored, "image/jpeg", Resolution(dpi, "pdf"), CONFIG).quality
    assert abs(again.skew_degrees) < CONFIG.deskew_min_degrees and again.red_content


def test_low_resolution_scan_is_flagged_for_the_whole_dossier(runtime: Runtime, ocr_pool, tmp_path: Path) -> None:
    source = tmp_path / "low.pdf"
    first, second = text_page(150, seed=31), text_page(150, seed=32)
    first.save(source, format="PDF", save_all=True, append_images=[second], resolution=150, quality=85)
    [line] = _ingest(runtime, ocr_pool, [str(source)])
    [problem] = [p for p in line["problems"] if p["code"] == "low_resolution"]
    assert "page" not in problem and "全部 2 页" in problem["detail"]
    assert "150 dpi" in problem["detail"] and "200 dpi" in problem["detail"]
    assert line["status"] == "needs_review"


def test_clean_dev_dossier_gets_measurements_and_no_new_problems(runtime: Runtime, ocr_pool, dev_data: Path) -> None:
    """A clean 200 dpi scan of the shared set (two colour pages with red seals): every page is
    measured and stored straight, and the dossier is still archived without any problem."""
    name = "dossier-004.pdf"
    truth = json.loads((dev_data / "truth" / name.replace(".pdf", ".json")).read_text(encoding="utf-8"))
    [line] = _ingest(runtime, ocr_pool, [str(dev_data / "dossiers" / name)])
    assert line["problems"] == [] and line["status"] == "archived", line["problems"]
    assert len(line["pages"]) == truth["actual_pages"]
    # archived with the minimum description: a 题名 (printed or composed) and a 档号 (read or assigned)
    assert line["record"]["title"] and line["archive_number"]
    with runtime.sessions() as s:
        pages = s.scalars(select(Page).order_by(Page.number)).all()
    colour_pages = []
    for page in pages:
        assert page.scan_dpi == pytest.approx(200, abs=1) and page.quality["dpi_source"] == "pdf"
        assert page.skew_degrees is not None and abs(page.skew_degrees) < 3.0
        assert page.ink_share > 0.005
        with Image.open(io.BytesIO(runtime.store.get(page.image_key))) as img:
            if img.mode == "RGB":
                colour_pages.append(page.number)
        assert page.quality["skew_corrected"] == (abs(page.skew_degrees) >= runtime.settings.deskew_min_degrees)
    assert colour_pages and [p.number for p in pages if p.red_content] == colour_pages

"""Separator sheets: a page that carries only a QR code reading ``DOSSIER:<档号>``."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import qrcode
from pypdf import PdfReader

from ocr.separator import separator_number

BATCH_DOSSIERS = 6  # batch.pdf holds the first six dossiers of index.json, each after a separator


def _page_image(page) -> np.ndarray:
    (name,) = list(page["/Resources"]["/XObject"].keys())
    data = bytes(page["/Resources"]["/XObject"][name].get_object()._data)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


@pytest.fixture(scope="module")
def batch(dev_data: Path) -> tuple[list[np.ndarray], list[str | None]]:
    """The batch's page images and, per page, the 档号 when it is a separator (from the truth)."""
    index = json.loads((dev_data / "index.json").read_text(encoding="utf-8"))
    expected: list[str | None] = []
    for entry in index[:BATCH_DOSSIERS]:
        truth = json.loads((dev_data / "truth" / (Path(entry["file"]).stem + ".json")).read_text(encoding="utf-8"))
        expected.append(truth["dossier_id"])
        expected.extend([None] * truth["actual_pages"])
    images = [_page_image(page) for page in PdfReader(str(dev_data / "batch.pdf")).pages]
    assert len(images) == len(expected)
    return images, expected


def _qr_image(payload: str, box_size: int = 12) -> np.ndarray:
    code = qrcode.QRCode(box_size=box_size, border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(payload)
    code.make(fit=True)
    return np.asarray(code.make_image().convert("L"), dtype=np.uint8)


def _blank_page(height: int = 2338, width: int = 1654) -> np.ndarray:
    return np.full((height, width, 3), 255, np.uint8)


def _paste(page: np.ndarray, patch: np.ndarray, top: int, left: int) -> np.ndarray:
    out = page.copy()
    if patch.ndim == 2:
        patch = cv2.cvtColor(patch, cv2.COLOR_GRAY2BGR)
    h, w = patch.shape[:2]
    out[top : top + h, left : left + w] = patch
    return out


def _qr_bbox(image: np.ndarray, pad: int = 40) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the dark pixels of a separator page, padded by its quiet zone."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    ys, xs = np.nonzero(gray < 100)
    return ys.min() - pad, ys.max() + pad, xs.min() - pad, xs.max() + pad


def _text_rows(image: np.ndarray) -> list[tuple[int, int]]:
    """Row bands of a page that hold text (at least 20 dark pixels per row)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    inked = (gray < 100).sum(axis=1) >= 20
    bands, start = [], None
    for y, on in enumerate(inked):
        if on and start is None:
            start = y
        elif not on and start is not None:
            bands.append((start, y))
            start = None
    return bands


def test_batch_separators_match_truth(batch) -> None:
    images, expected = batch
    assert sum(1 for e in expected if e is not None) == BATCH_DOSSIERS
    found = [separator_number(image) for image in images]
    assert found == expected


def test_batch_separators_in_gray(batch) -> None:
    images, expected = batch
    for image, number in zip(images, expected, strict=True):
        if number is not None:
            assert separator_number(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)) == number


def test_separator_turned_or_scanned_at_lower_resolution(batch) -> None:
    images, expected = batch
    first = expected.index(next(e for e in expected if e is not None))
    image, number = images[first], expected[first]
    assert separator_number(np.ascontiguousarray(np.rot90(image))) == number
    assert separator_number(np.ascontiguousarray(image[::-1, ::-1])) == number
    half = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    assert separator_number(half) == number


def _first_page_of_kind(dev_data: Path, batch, kind: str) -> np.ndarray:
    images, expected = batch
    index = json.loads((dev_data / "index.json").read_text(encoding="utf-8"))
    position = 0
    for entry in index[:BATCH_DOSSIERS]:
        truth = json.loads((dev_data / "truth" / (Path(entry["file"]).stem + ".json")).read_text(encoding="utf-8"))
        position += 1  # the separator
        for page in truth["pages"]:
            if page["kind"] == kind:
                return images[position + page["n"] - 1]
        position += truth["actual_pages"]
    raise AssertionError(f"no {kind} page in the batch")


@pytest.mark.parametrize("kind", ["form", "cover", "support"])
def test_real_page_with_separator_code_is_not_a_separator(dev_data: Path, batch, kind: str) -> None:
    images, expected = batch
    sep_index = next(i for i, e in enumerate(expected) if e is not None)
    separator = images[sep_index]
    top, bottom, left, right = _qr_bbox(separator)
    code = separator[top:bottom, left:right]
    page = _first_page_of_kind(dev_data, batch, kind)
    assert separator_number(page) is None
    # put the code in the lower part of the real page, where forms leave room
    h, w = code.shape[:2]
    composite = _paste(page, code, page.shape[0] - h - 150, (page.shape[1] - w) // 2)
    assert separator_number(composite) is None
    # control: the same code on clean paper still reads as a separator
    assert separator_number(_paste(_blank_page(), code, 500, 500)) == expected[sep_index]


def test_separator_with_a_paragraph_of_text_is_not_a_separator(dev_data: Path, batch) -> None:
    images, expected = batch
    sep_index = next(i for i, e in enumerate(expected) if e is not None)
    separator = images[sep_index]
    top, _, _, _ = _qr_bbox(separator)
    # a paragraph of real printed lines (a cover page's title and first fields) above the code
    cover = _first_page_of_kind(dev_data, batch, "cover")
    bands = [b for b in _text_rows(cover) if b[1] < top - 10][:5]
    assert len(bands) >= 4
    paragraph = separator.copy()
    for start, end in bands:
        paragraph[start - 4 : end + 4, 60:-60] = cover[start - 4 : end + 4, 60:-60]
    assert separator_number(paragraph) is None

    # and drawn text/ink below the code
    drawn = separator.copy()
    for k in range(6):
        cv2.putText(
            drawn,
            "Received with thanks, see the attached forms and receipts.",
            (120, 1600 + 60 * k),
            cv2.FONT_HERSHEY_SIMPLEX,
            1.2,
            (0, 0, 0),
            2,
        )
    assert separator_number(drawn) is None


def test_qr_code_with_another_payload_is_not_a_separator() -> None:
    for payload in ("https://example.com/DOSSIER:370303-ENRO-2017-永久-8804", "370303-ENRO-2017-永久-8804", "DOSSIER:"):
        page = _paste(_blank_page(), _qr_image(payload), 700, 450)
        assert separator_number(page) is None, payload


def test_constructed_separator_reads_its_number() -> None:
    number = "110101-INJU-2014-永久-1355"
    page = _paste(_blank_page(), _qr_image(f"DOSSIER:{number}"), 700, 450)
    assert separator_number(page) == number


def test_two_separator_codes_on_one_page_are_ambiguous() -> None:
    page = _paste(_blank_page(), _qr_image("DOSSIER:A-1", box_size=8), 300, 200)
    page = _paste(page, _qr_image("DOSSIER:B-2", box_size=8), 1300, 900)
    assert separator_number(page) is None


def test_blank_page_is_not_a_separator() -> None:
    assert separator_number(_blank_page()) is None

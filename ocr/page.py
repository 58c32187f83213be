"""What an OCR worker does with one page image: separator check, upright OCR, reading order."""

from __future__ import annotations

from dataclasses import dataclass

from ocr.engine import OcrEngine, PageOcr
from ocr.images import decode, drop_red
from ocr.orientation import read_upright
from ocr.reading_order import order_fragments
from ocr.separator import separator_number


@dataclass
class PageReading:
    separator: str | None  # 档号 when the page is a separator sheet
    ocr: PageOcr | None


def read_page(engine: OcrEngine, data: bytes, pixel_limit: int) -> PageReading:
    image = decode(data, pixel_limit)
    number = separator_number(image)
    if number is not None:
        return PageReading(separator=number, ocr=None)
    reading = read_upright(engine, drop_red(image))
    lines, text_lines = order_fragments(reading.lines)
    height, width = reading.image.shape[:2]
    return PageReading(
        separator=None,
        ocr=PageOcr(
            lines=lines,
            rotation=reading.rotation,
            width=width,
            height=height,
            engine=engine.name,
            text_lines=text_lines,
        ),
    )

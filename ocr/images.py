"""Decoding page images safely and the pixel operations OCR needs."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image


class ImageError(ValueError):
    """An image that cannot be used as a page; ``code`` is stable for reports."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def check_pixels(width: int, height: int, limit: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageError("image_empty", f"图像尺寸无效：{width}×{height}")
    if width * height > limit:
        raise ImageError(
            "image_too_large",
            f"图像像素数 {width}×{height} 超过上限 {limit}（疑似解压炸弹），已拒绝",
        )


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height from the header only, without decoding the pixels."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Image.DecompressionBombError as exc:  # Pillow's own guard fired first
        raise ImageError("image_too_large", f"图像像素过多（疑似解压炸弹）：{exc}") from exc
    except Exception as exc:
        raise ImageError("image_unreadable", f"无法读取图像：{exc}") from exc


def decode(data: bytes, pixel_limit: int) -> np.ndarray:
    """Decode image bytes to a BGR uint8 array, refusing decompression bombs before decoding."""
    width, height = image_size(data)
    check_pixels(width, height, pixel_limit)
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if arr is None:
        # cv2 cannot read some modes (e.g. CMYK JPEG, 16-bit); Pillow can.
        try:
            with Image.open(io.BytesIO(data)) as img:
                arr = cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2BGR)
        except Exception as exc:
            raise ImageError("image_unreadable", f"无法解码图像：{exc}") from exc
    return arr


def to_standard_mode(img: Image.Image) -> Image.Image:
    """The image as 1-bit, 8-bit grey or 8-bit RGB, keeping what it shows.

    16/32-bit greys are scaled to 8 bits (Pillow's ``convert`` would clip them to white);
    transparency is flattened onto white paper (dropping alpha would turn it black).
    """
    if img.mode in ("1", "L", "RGB"):
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        if img.mode in ("I", "F") and arr.max() <= 255:
            top = 255.0
        return Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(paper, rgba).convert("RGB")
        return flat.convert("L") if img.mode in ("LA",) else flat
    return img.convert("RGB")


def drop_red(image: np.ndarray) -> np.ndarray:
    """Fade red seals: keep the red channel as grey, where red ink is as light as paper.

    Black and blue text stays dark in the red channel; red stamps over text disappear, so the
    text under a seal is read and the seal's own characters are not.
    """
    red = image[:, :, 2]
    return cv2.merge([red, red, red])


_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def rotate(image: np.ndarray, degrees: int) -> np.ndarray:
    """Turn an image clockwise by 0, 90, 180 or 270 degrees."""
    degrees %= 360
    return image if degrees == 0 else cv2.rotate(image, _ROTATE[degrees])

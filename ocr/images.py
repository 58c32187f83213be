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

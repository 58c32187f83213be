"""Separator sheets: a page whose only content is a QR code reading ``DOSSIER:<档号>``."""

from __future__ import annotations

import cv2
import numpy as np
import zxingcpp

PREFIX = "DOSSIER:"
MAX_SIDE = 1200
MAX_INK_OUTSIDE = 0.004  # share of dark pixels allowed outside the code (speckle, edges)


def _downscale(gray: np.ndarray) -> np.ndarray:
    scale = MAX_SIDE / max(gray.shape)
    if scale >= 1:
        return gray
    return cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def separator_number(image: np.ndarray) -> str | None:
    """The 档号 of a separator sheet, or None when the page is not one."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = _downscale(gray)
    codes = [
        c for c in zxingcpp.read_barcodes(small, formats=zxingcpp.BarcodeFormat.QRCode) if c.text.startswith(PREFIX)
    ]
    if len(codes) != 1:
        return None
    number = codes[0].text[len(PREFIX) :].strip()
    if not number:
        return None
    pos = codes[0].position
    xs = [pos.top_left.x, pos.top_right.x, pos.bottom_right.x, pos.bottom_left.x]
    ys = [pos.top_left.y, pos.top_right.y, pos.bottom_right.y, pos.bottom_left.y]
    margin = int(0.1 * (max(xs) - min(xs)) + 4)
    _, ink = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    h, w = ink.shape
    edge = max(4, int(0.03 * min(h, w)))  # scanner borders and shadows at the edges do not count
    ink[:edge, :] = 0
    ink[-edge:, :] = 0
    ink[:, :edge] = 0
    ink[:, -edge:] = 0
    ink[max(0, min(ys) - margin) : max(ys) + margin, max(0, min(xs) - margin) : max(xs) + margin] = 0
    if ink.mean() > MAX_INK_OUTSIDE:
        return None  # a page that carries a QR code among other content is a page, not a separator
    return number

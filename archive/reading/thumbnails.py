"""Page thumbnails: small upright JPEGs for result lists and the viewer's page strip.

A thumbnail is derived, disposable data: it lives under ``<home>/cache/thumbnails``, never in the
archive store, named by the page image's content digest (and the turn and width it was drawn
with), so an identical page shares one file and a cached file can never belong to another image.
The caller's right to see the page is checked on every request before the cache is touched.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

from PIL import Image
from sqlalchemy.orm import Session

from archive.identity.principal import Principal
from archive.reading.dossiers import visible_page
from archive.reading.watermark import upright
from archive.storage.base import ObjectStore

THUMBNAIL_WIDTH = 200
QUALITY = 72
MEDIA_TYPE = "image/jpeg"


def thumbnail_dir(cache_dir: Path) -> Path:
    return cache_dir / "thumbnails"


def thumbnail_height(width: int, height: int, target: int = THUMBNAIL_WIDTH) -> int:
    """The height of a thumbnail of an upright page of ``width`` × ``height``."""
    return max(1, round(target * height / max(width, 1)))


def render_thumbnail(data: bytes, rotation: int = 0, target: int = THUMBNAIL_WIDTH) -> bytes:
    """A JPEG ``target`` pixels wide of the upright page (never wider than the scan itself)."""
    with Image.open(io.BytesIO(data)) as image:
        sideways = rotation % 180 == 90
        box = (10**6, target) if sideways else (target, 10**6)  # the bound applies to the upright width
        if image.format == "JPEG":
            image.draft("RGB" if image.mode not in ("L", "1") else "L", box)  # DCT scaling: decode less
        image.thumbnail(box, Image.Resampling.BILINEAR, reducing_gap=2.0)
        small = image.convert("L" if image.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB")
    out = io.BytesIO()
    upright(small, rotation).save(out, format="JPEG", quality=QUALITY, optimize=False)
    return out.getvalue()


def _cache_path(cache_dir: Path, digest: str, rotation: int, target: int) -> Path:
    return thumbnail_dir(cache_dir) / digest[:2] / f"{digest}-r{rotation % 360}-w{target}.jpg"


def _store_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".jpg")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def page_thumbnail(
    session: Session,
    store: ObjectStore,
    principal: Principal,
    dossier_id: str,
    number: int,
    cache_dir: Path,
    target: int = THUMBNAIL_WIDTH,
) -> bytes:
    """The thumbnail of a page the caller may see: from the cache, else drawn and cached."""
    page = visible_page(session, principal, dossier_id, number)
    path = _cache_path(cache_dir, page.image_sha256, page.rotation or 0, target)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    data = render_thumbnail(store.get(page.image_key), page.rotation or 0, target)
    with contextlib.suppress(OSError):  # a cache that cannot be written costs only the drawing again
        _store_atomically(path, data)
    return data

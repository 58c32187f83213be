"""可用性 (usability): what people read can be opened.

Each due page image decodes completely with Pillow (after the decompression-bomb check the intake
applies), each OCR result parses, and each searchable PDF opens with pypdf and yields a text layer
on every page whose OCR found text.  Objects that already failed (missing, corrupt) are skipped.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

from PIL import Image

from archive.integrity.context import CheckContext
from archive.integrity.report import Findings
from archive.integrity.snapshot import KIND_LABELS, ObjectKind, ObjectRef
from archive.storage.base import StoreError
from ocr.images import ImageError, check_pixels, image_size

_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/tiff": "TIFF"}


def _decode(data: bytes, media_type: str | None, pixel_limit: int) -> tuple[str, str] | None:
    """(code, detail) when the image cannot be used, else None."""
    try:
        check_pixels(*image_size(data), pixel_limit)
        with Image.open(io.BytesIO(data)) as img:
            expected = _FORMATS.get(media_type or "")
            if expected is not None and img.format != expected:
                return "image_type_mismatch", f"图像格式为 {img.format}，记录为 {media_type}"
            img.load()
    except ImageError as exc:
        return exc.code, exc.detail
    except Exception as exc:  # truncated data, bad Huffman tables, …
        return "image_undecodable", f"图像无法完整解码：{exc.__class__.__name__}: {exc}"
    return None


def _due_bodies(ctx: CheckContext, out: Findings, kind: ObjectKind) -> Iterator[tuple[ObjectRef, bytes]]:
    """The due objects of ``kind`` not failed earlier this run, read through the store's hash check;
    each counted as checked (or skipped), and one that cannot be read reported."""
    for obj in ctx.due_objects(kind):
        if obj.key in ctx.failed:
            out.skipped += 1
            continue
        out.checked += 1
        try:
            data = ctx.store.get(obj.key)
        except StoreError as exc:
            out.fail(exc.code, f"{KIND_LABELS[kind]}无法读取：{exc}", key=obj.key, dossiers=obj.dossiers)
            continue
        ctx.mark_read(obj.key)
        yield obj, data


def page_images_decode(ctx: CheckContext) -> Findings:
    out = Findings()
    for obj, data in _due_bodies(ctx, out, "page_image"):
        problem = _decode(data, obj.media_type, ctx.max_image_pixels)
        if problem is not None:
            out.fail(problem[0], problem[1], key=obj.key, dossiers=obj.dossiers)
    return out


def ocr_results_parse(ctx: CheckContext) -> Findings:
    out = Findings()
    for obj, data in _due_bodies(ctx, out, "ocr_result"):
        try:
            body = json.loads(data)
            ok = isinstance(body, dict) and isinstance(body.get("text_lines"), list)
        except ValueError:
            ok = False
        if not ok:
            out.fail(
                "ocr_result_unreadable",
                "识别结果不是有效的 JSON（缺少 text_lines）",
                key=obj.key,
                dossiers=obj.dossiers,
            )
    return out


def pdf_text_layer(ctx: CheckContext) -> Findings:
    out = Findings()
    for obj in ctx.due_objects("searchable_pdf"):
        if obj.key in ctx.failed:
            out.skipped += 1
            continue
        out.checked += 1
        info = ctx.pdf(obj.key)
        if info.texts is None:
            out.fail(info.code or "pdf_unreadable", f"双层 PDF {info.detail}", key=obj.key, dossiers=obj.dossiers)
            continue
        for dossier_id in obj.dossiers:
            pages = ctx.dossier(dossier_id).pages
            blank = [
                p.number
                for p in pages
                if p.has_text and 1 <= p.number <= len(info.texts) and not info.texts[p.number - 1].strip()
            ]
            if blank:
                shown = "、".join(str(n) for n in blank[:20]) + ("…" if len(blank) > 20 else "")
                out.fail(
                    "pdf_text_missing",
                    f"双层 PDF 第 {shown} 页没有文字层（识别结果有文字）",
                    key=obj.key,
                    dossiers=(dossier_id,),
                    page=blank[0],
                )
    return out

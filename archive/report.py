"""The batch report: one JSON object per dossier (or per refused file), built from the records.

Contract fields (other tools read them; add, never rename): source, dossier, archive_number,
status, business_type, confidence, pages[{number, text, confidence, rotation, scan}], identifiers{id_numbers,
uscc}, problems[{code, detail}], seconds.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from archive.records.models import BatchFile, Dossier, Original, Page
from archive.taxonomy import retain_until


def _scan(page: Page) -> dict | None:
    """The page's scan-quality measurements (DA/T 31-2017) in brief; None where none were taken."""
    if page.scan_dpi is None and not page.quality:
        return None
    quality = page.quality or {}
    return {
        "dpi": page.scan_dpi,
        "dpi_source": quality.get("dpi_source"),
        "colour_mode": quality.get("colour_mode"),
        "red_content": page.red_content,
        "ink_share": page.ink_share,
        "blank": quality.get("blank"),
        "skew_degrees": page.skew_degrees,
        "skew_corrected": quality.get("skew_corrected"),
    }


def _dossier_line(source: str, dossier: Dossier, status: str | None = None, extra: list[dict] | None = None) -> dict:
    return {
        "source": source,
        "dossier": dossier.id,
        "archive_number": dossier.archive_number,
        "status": status or dossier.status,
        "business_type": dossier.business_type,
        "confidence": dossier.confidence,
        "pages": [
            {
                "number": p.number,
                "text": p.text,
                "confidence": round(p.mean_confidence, 4) if p.mean_confidence is not None else None,
                "rotation": p.rotation,
                "scan": _scan(p),
            }
            for p in dossier.pages
        ],
        "identifiers": {
            "id_numbers": list(dossier.identifiers.get("id_numbers", [])),
            "uscc": list(dossier.identifiers.get("uscc", [])),
        },
        "problems": list(dossier.problems) + (extra or []),
        "seconds": dossier.seconds,
        "searchable_pdf": dossier.searchable_pdf_key,
        "category": dossier.category,
        "retention": dossier.retention,
        "retain_until": _retain_until(dossier),
        "candidates": dossier.classification.get("candidates", []),
        "model_sha256": dossier.classification.get("model_sha256"),
        "record": {
            "person_name": dossier.person_name,
            "id_number": dossier.person_id_number,
            "unit_name": dossier.unit_name,
            "uscc": dossier.unit_uscc,
            "business_number": dossier.business_number,
            "title": dossier.title,
            "declared_pages": dossier.declared_pages,
            "formed_date": dossier.date_end.isoformat() if dossier.date_end else None,
            "amounts": dossier.record.get("amounts", []),
            "catalogue": dossier.record.get("catalogue", []),
        },
    }


def _retain_until(dossier: Dossier) -> str | None:
    """Retention ends on 1 January of the year after the file was formed, plus N years; 永久 never."""
    if not dossier.retention or dossier.date_end is None or dossier.retention == "永久":
        return None
    return retain_until(dossier.retention, dossier.date_end).isoformat()


def _file_problem(record: BatchFile) -> list[dict]:
    if not record.problem_code:
        return []
    return [{"code": record.problem_code, "detail": record.problem_detail or ""}]


def _file_line(record: BatchFile, problems: list[dict]) -> dict:
    return {
        "source": record.source,
        "dossier": None,
        "archive_number": None,
        "status": record.status if record.status == "rejected" else "rejected",
        "business_type": None,
        "confidence": None,
        "pages": [],
        "identifiers": {"id_numbers": [], "uscc": []},
        "problems": problems,
        "seconds": record.seconds,
    }


def lines_for_file(session: Session, record: BatchFile) -> list[dict]:
    """The report lines of one finished source file: at least one, whatever became of it."""
    if record.status == "rejected":
        return [_file_line(record, _file_problem(record))]
    original = session.scalar(select(Original).where(Original.sha256 == record.sha256))
    if original is None:
        return [_file_line(record, [{"code": "internal_error", "detail": "找不到该文件的入库记录"}])]
    dossiers = session.scalars(
        select(Dossier)
        .where(Dossier.original_id == original.id)
        .order_by(Dossier.seq_in_source)
        .options(selectinload(Dossier.pages))
    ).all()
    if not dossiers:
        return [_file_line(record, [{"code": "no_pages", "detail": "该文件没有可入库的案卷页面"}])]
    if record.status == "duplicate":
        note = {
            "code": "duplicate",
            "detail": f"与已入库文件相同（SHA-256 {record.sha256[:16]}…），未重复存储",
        }
        return [_dossier_line(record.source, d, "duplicate", [note]) for d in dossiers]
    extra = _file_problem(record)
    return [_dossier_line(record.source, d, extra=extra) for d in dossiers]

"""真实性 (authenticity): the bytes are the ones archived, and the records describe them truly.

Every due object (original, page image, OCR result, searchable PDF) is re-hashed and compared with
the digest the store recorded at write time, and that digest with the one the records hold
(``Original.sha256``, ``Page.image_sha256``, the SHA-256 a content-addressed key names).  The
records must agree with the content: the page count with the page rows and with the searchable
PDF, the business type with the taxonomy, dates within a plausible range and in order.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from archive.integrity.context import CheckContext
from archive.integrity.fixity import verify_object
from archive.integrity.report import Findings
from archive.integrity.snapshot import KIND_LABELS

# Social-insurance files start after 1949-10-01; a date later than tomorrow (time zones) is a misreading.
EARLIEST = date(1949, 10, 1)


def object_digests(ctx: CheckContext) -> Findings:
    """Re-hash every due object, ``ctx.workers`` at a time (a cold disk serves parallel reads faster)."""
    out = Findings()
    todo = []
    for obj in ctx.due_objects():
        if obj.key in ctx.failed:
            out.skipped += 1
        else:
            todo.append(obj)
    with ThreadPoolExecutor(max(1, ctx.workers)) as pool:
        results = pool.map(lambda o: verify_object(ctx.store, o.key, o.sha256, o.size), todo)
        checked = list(zip(todo, results, strict=True))
    for obj, result in checked:
        out.checked += 1
        ctx.mark_read(obj.key, result.sha256, result.size)
        if not result.ok:
            assert result.code is not None
            out.fail(result.code, f"{KIND_LABELS[obj.kind]}：{result.detail}", key=obj.key, dossiers=obj.dossiers)
    return out


def metadata_consistent(ctx: CheckContext) -> Findings:
    out = Findings()
    latest = ctx.today + timedelta(days=1)
    for d in ctx.dossiers:
        out.checked += 1
        if d.page_count != len(d.pages):
            out.fail(
                "page_count_mismatch", f"记录页数 {d.page_count} 与页面记录 {len(d.pages)} 条不符", dossiers=(d.id,)
            )
        if not d.archived:
            continue
        if d.business_type and d.business_type not in ctx.taxonomy:
            out.fail("business_type_unknown", f"业务类型“{d.business_type}”不在业务类型分类表中", dossiers=(d.id,))
        dates = [("起始日期", d.date_start), ("终止日期", d.date_end)]
        dates += [(f"卷内目录第 {e.seq} 条日期", e.date) for e in d.documents]
        for label, value in dates:
            if value is not None and not EARLIEST <= value <= latest:
                out.fail(
                    "date_out_of_range",
                    f"{label} {value.isoformat()} 不在 {EARLIEST.isoformat()} 至检测日之间",
                    dossiers=(d.id,),
                )
        if d.date_start and d.date_end and d.date_start > d.date_end:
            out.fail(
                "date_order",
                f"起始日期 {d.date_start.isoformat()} 晚于终止日期 {d.date_end.isoformat()}",
                dossiers=(d.id,),
            )
    return out


def pdf_page_counts(ctx: CheckContext) -> Findings:
    """The searchable PDF has as many pages as the dossier records (an unreadable PDF is usability's)."""
    out = Findings()
    for obj in ctx.due_objects("searchable_pdf"):
        if obj.key in ctx.failed:
            out.skipped += 1
            continue
        info = ctx.pdf(obj.key)
        if info.pages is None:
            out.skipped += 1
            continue
        for dossier_id in obj.dossiers:
            out.checked += 1
            recorded = ctx.dossier(dossier_id).page_count
            if info.pages != recorded:
                out.fail(
                    "pdf_page_count_mismatch",
                    f"双层 PDF 有 {info.pages} 页，案卷记录为 {recorded} 页",
                    key=obj.key,
                    dossiers=(dossier_id,),
                )
    return out

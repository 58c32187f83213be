"""完整性 (integrity): every object, page and catalogue entry present; required metadata filled in.

Presence is asked of every object of the chunk on every run (a metadata request: a ``stat`` on the
filesystem, a listing and a HEAD on S3), whether or not its bytes are due to be read.  Metadata
rules (catalogue, required elements) apply to archived dossiers: a dossier waiting for review is
still being described, and its known problems are the review queue's business.
"""

from __future__ import annotations

from archive import metadata as describe
from archive.integrity.context import CheckContext
from archive.integrity.report import Findings
from archive.integrity.snapshot import KIND_LABELS
from archive.storage.base import StoreError


def _numbers(values: list[int]) -> str:
    return "、".join(str(v) for v in values[:20]) + ("…" if len(values) > 20 else "")


def objects_present(ctx: CheckContext) -> Findings:
    out = Findings()
    for obj in ctx.objects:
        out.checked += 1
        try:
            exists = ctx.protection(obj.key).exists
        except StoreError as exc:
            out.fail(exc.code, f"无法确认{KIND_LABELS[obj.kind]}是否存在：{exc}", key=obj.key, dossiers=obj.dossiers)
            continue
        if not exists:
            out.fail("object_missing", f"{KIND_LABELS[obj.kind]}不存在", key=obj.key, dossiers=obj.dossiers)
    for d in ctx.dossiers:
        out.checked += 1
        if not d.searchable_pdf_key:
            out.fail("searchable_pdf_missing", "案卷没有双层 PDF", dossiers=(d.id,))
    return out


def pages_complete(ctx: CheckContext) -> Findings:
    """Page rows numbered 1..n without gaps, n the recorded page count."""
    out = Findings()
    for d in ctx.dossiers:
        out.checked += 1
        numbers = [p.number for p in d.pages]
        if not numbers:
            out.fail("pages_missing", f"案卷没有页面记录（记录页数 {d.page_count}）", dossiers=(d.id,))
            continue
        top = max(d.page_count, *numbers)
        missing = sorted(set(range(1, top + 1)) - set(numbers))
        if missing:
            out.fail("page_missing", f"页号不连续，缺第 {_numbers(missing)} 页", dossiers=(d.id,), page=missing[0])
        beyond = [n for n in numbers if n < 1 or n > d.page_count]
        if beyond:
            out.fail(
                "page_number_out_of_range",
                f"页号 {_numbers(beyond)} 超出 1–{d.page_count}",
                dossiers=(d.id,),
                page=beyond[0],
            )
    return out


def catalogue_complete(ctx: CheckContext) -> Findings:
    """卷内目录 entries numbered 1..m, titled, with page ranges inside the dossier and not overlapping."""
    out = Findings()
    for d in ctx.dossiers:
        if not d.archived:
            continue
        out.checked += 1
        seqs = [e.seq for e in d.documents]
        missing = sorted(set(range(1, max(seqs, default=0) + 1)) - set(seqs))
        if missing:
            out.fail("catalogue_entry_missing", f"卷内目录缺第 {_numbers(missing)} 条", dossiers=(d.id,))
        previous = None
        for e in d.documents:
            if not (e.title or "").strip():
                out.fail("catalogue_title_missing", f"卷内目录第 {e.seq} 条没有题名", dossiers=(d.id,))
            if not 1 <= e.start_page <= e.end_page <= d.page_count:
                out.fail(
                    "catalogue_range_invalid",
                    f"卷内目录第 {e.seq} 条页号 {e.start_page}–{e.end_page} 不在本卷 1–{d.page_count} 页之内",
                    dossiers=(d.id,),
                    page=e.start_page,
                )
            elif previous is not None and e.start_page <= previous.end_page:
                out.fail(
                    "catalogue_overlap",
                    f"卷内目录第 {e.seq} 条页号 {e.start_page}–{e.end_page} 与第 {previous.seq} 条"
                    f"（{previous.start_page}–{previous.end_page}）重叠或顺序颠倒",
                    dossiers=(d.id,),
                    page=e.start_page,
                )
            previous = e
    return out


def required_metadata(ctx: CheckContext) -> Findings:
    """GB/T 18894-2016's minimum for an archived dossier: 题名, 文件编号 (档号 or 业务编号), 责任者
    (the office, or a catalogue entry's 责任者), 日期, 机构或问题 (business type), 保管期限."""
    out = Findings()
    for d in ctx.dossiers:
        if not d.archived:
            continue
        out.checked += 1
        missing = describe.missing(
            describe.Description(
                title=d.title,
                archive_number=d.archive_number,
                business_number=d.business_number,
                responsible=bool(d.office or any(e.responsible for e in d.documents)),
                dated=d.date_end or d.date_start or any(e.date for e in d.documents),
                business_type=d.business_type,
                retention=d.retention,
            )
        )
        if missing:
            out.fail("metadata_missing", f"已归档案卷缺少必备著录项：{'、'.join(missing)}", dossiers=(d.id,))
    return out

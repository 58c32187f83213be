"""The ingest steps, in order.  Each is a plain function over the context and one file's work.

identify → keep_original → scan_pages   (before OCR finishes; runs ahead of the workers)
collect_ocr → split_dossiers → check_dossiers → classify_dossiers → write_pdfs → commit   (after OCR)
A step raises ``Rejected`` to refuse the file with a stable code; the batch goes on.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlalchemy.orm import Session

from archive import metadata as describe
from archive import numbering
from archive.classify.model import Classifier
from archive.extract import check_catalogue, extract_record
from archive.identifiers import find_identifiers, is_valid_id_number, is_valid_uscc
from archive.indexing import outbox
from archive.intake import IntakeError, SourceFile, open_source
from archive.pipeline.work import DossierWork, FileWork, PageWork, Problem, RawPage, Rejected
from archive.quality import Assessment, PageQuality, QualityConfig, assess_page
from archive.quality.findings import PageFacts, content_problems, scan_problems
from archive.quality.resolution import Resolution
from archive.records.models import BatchFile, Document, Dossier, DossierEvent, OcrResult, Original, Page
from archive.retention import holds
from archive.runtime import Runtime
from archive.searchable_pdf import PdfPage, write_searchable_pdf
from archive.storage.base import IntegrityError, content_key, sha256_bytes, sha256_file
from archive.taxonomy import UNCLASSIFIED, Taxonomy
from ocr.engine import PageOcr
from ocr.pool import PageLost, PageOutcome

log = logging.getLogger(__name__)

_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png"}
_ORIGINAL_SUFFIX = {"application/pdf": ".pdf", "image/tiff": ".tif", "image/jpeg": ".jpg", "image/png": ".png"}
_ARCHIVE_NUMBER = re.compile(r"[^\x00-\x1f\x7f]{1,64}")


@dataclass
class IngestContext:
    rt: Runtime
    batch_id: str
    office: str
    engine_name: str
    user: str
    submit: Callable[[bytes, str, RawPage | None], Future[PageOutcome]]  # (image, its key, or the page to prepare)
    remote_prepare: bool = False  # Celery: workers measure, straighten and store the pages they read
    classifier: Classifier | None = None
    taxonomy: Taxonomy | None = None
    seen: dict[str, int] = field(default_factory=dict)  # sha256 → position of its first copy in this batch
    sources: dict[int, SourceFile] = field(default_factory=dict)  # position → the opened file


# -- before OCR ------------------------------------------------------------------------------------


def identify(ctx: IngestContext, work: FileWork) -> None:
    """Open the file with the ingestor for its content; hash it; refuse a copy already archived."""
    try:
        source = open_source(work.source, ctx.rt.settings)
    except IntakeError as exc:
        raise Rejected(exc.code, exc.detail) from exc
    work.media_type = source.media_type
    work.sha256, work.size = sha256_file(source.path)
    ctx.sources[work.position] = source
    with ctx.rt.sessions() as session:
        earlier = session.scalar(select(Original).where(Original.sha256 == work.sha256))
    if earlier is not None:
        work.duplicate_of = earlier.id
        return
    first = ctx.seen.setdefault(work.sha256, work.position)
    if first != work.position:
        work.copy_of = first  # settled when this file is finished, after the first copy is


def settle_copy(ctx: IngestContext, work: FileWork) -> None:
    """A file identical to an earlier one of this batch: a duplicate if that one was archived,
    otherwise refused with the first copy's reason (never silently dropped)."""
    with ctx.rt.sessions() as session:
        earlier = session.scalar(select(Original).where(Original.sha256 == work.sha256))
        if earlier is not None:
            work.duplicate_of = earlier.id
            return
        first = session.scalar(
            select(BatchFile).where(BatchFile.batch_id == ctx.batch_id, BatchFile.position == work.copy_of)
        )
    reason = first.problem_detail if first is not None else ""
    work.rejection = Problem(
        "duplicate_of_rejected", f"与本批第 {(work.copy_of or 0) + 1} 个文件内容相同，该文件未能入库：{reason}"
    )


def keep_original(ctx: IngestContext, work: FileWork) -> None:
    """Store the source file byte for byte under its SHA-256."""
    assert work.sha256 is not None
    source = ctx.sources[work.position]
    key = content_key("originals", work.sha256, _ORIGINAL_SUFFIX[source.media_type])
    try:
        ctx.rt.store.put_file(key, source.path)
    except IntegrityError as exc:
        raise Rejected("file_changed", "文件在读取过程中发生变化（可能仍在写入），请稍后重新提交") from exc
    work.original_key = key


def _take_cached_ocr(ctx: IngestContext, page: PageWork) -> None:
    """OCR this engine already did for the same image (an interrupted run), if it is still stored."""
    key = cached_ocr_key(ctx.rt, page.image_sha256, ctx.engine_name)
    if key is not None:
        page.ocr = PageOcr.from_json(json.loads(ctx.rt.store.get(key)))
        page.ocr_key = key


def cached_ocr_key(rt: Runtime, image_sha256: str, engine: str) -> str | None:
    """The stored OCR this engine already did for the image, if any."""
    with rt.sessions() as session:
        row = session.get(OcrResult, (image_sha256, engine))
    return row.ocr_key if row is not None and rt.store.exists(row.ocr_key) else None


def scan_pages(ctx: IngestContext, work: FileWork) -> None:
    """Measure each page's scan quality, store its image (straightened when it was tilted) and hand
    that image to the OCR workers (or take OCR already done for it).  With ``ctx.remote_prepare``
    (Celery workers) the page goes to a worker as intake gave it, and the worker does all of that."""
    source = ctx.sources.pop(work.position)
    config = QualityConfig.from_settings(ctx.rt.settings)
    try:
        for page in source.ingestor.pages():
            if ctx.remote_prepare:
                item = PageWork(page.index, "", "", page.media_type, page.width, page.height, page.dpi)
                item.raw = RawPage(page.data, page.media_type, page.resolution, config)
                item.future = ctx.submit(page.data, "", item.raw)
                work.pages.append(item)
                continue
            quality, data = prepare_page(page.data, page.media_type, page.resolution, config, work.source)
            sha = sha256_bytes(data)
            key = store_page(ctx.rt, data, sha, page.media_type)
            item = PageWork(page.index, key, sha, page.media_type, page.width, page.height, page.dpi, quality)
            _take_cached_ocr(ctx, item)
            if item.ocr is None:
                item.future = ctx.submit(data, key, None)
            work.pages.append(item)
    except IntakeError as exc:
        raise Rejected(exc.code, exc.detail) from exc


def store_page(rt: Runtime, data: bytes, sha: str, media_type: str) -> str:
    """Keep a page image (as it will be read and shown) under its SHA-256; returns its key."""
    key = content_key("derived/pages", sha, _SUFFIX[media_type])
    rt.store.put(key, data)
    return key


def prepare_page(
    data: bytes, media_type: str, resolution: Resolution | None, config: QualityConfig, source: str
) -> tuple[PageQuality | None, bytes]:
    """The page's scan-quality measurements and the image to store and read: the page as intake
    gave it, or a straightened copy (same format, size and colour mode; the original file is
    already stored unchanged).  A page that cannot be measured goes on unmeasured."""
    try:
        assessment: Assessment = assess_page(data, media_type, resolution, config)
    except Exception as exc:  # a measurement must never cost the page; OCR reports undecodable images
        log.warning("scan quality not measured", extra={"source": source, "error": str(exc)})
        return None, data
    quality = assessment.quality
    if assessment.straightened is None:
        return quality, data
    quality = replace(quality, source_sha256=sha256_bytes(data))
    return quality, assessment.straightened


# -- after OCR -------------------------------------------------------------------------------------


def remember_ocr(rt: Runtime, image_sha256: str, engine: str, ocr: PageOcr) -> str:
    """Keep a page's OCR under its content hash, so no run reads the same image twice; returns its key.
    Safe to repeat and to race: the object is content-addressed and the row is written once."""
    body = json.dumps(ocr.to_json(), ensure_ascii=False, sort_keys=True).encode("utf-8")
    key = content_key("derived/ocr", sha256_bytes(body), ".json")
    rt.store.put(key, body)
    try:
        with rt.sessions.begin() as session:
            if session.get(OcrResult, (image_sha256, engine)) is None:
                session.add(OcrResult(image_sha256=image_sha256, engine=engine, ocr_key=key))
    except DBIntegrityError:  # another worker recorded the same image meanwhile
        pass
    return key


def collect_ocr(ctx: IngestContext, work: FileWork, recover: Callable[[PageWork], None]) -> None:
    """Wait for each page's OCR; a page whose worker died is handed to ``recover`` and read again.
    A Celery worker has already kept the OCR it read (``ocr_key``); ``load_ocr`` reads it back."""
    for page in work.pages:
        attempts = 0
        while page.future is not None:
            try:
                outcome = page.future.result()
            except (BrokenProcessPool, CancelledError, PageLost) as exc:
                attempts += 1
                if attempts > 2:
                    raise Rejected("ocr_failed", f"第 {page.index + 1} 页的 OCR 进程多次异常退出") from exc
                log.warning("ocr worker lost a page; retrying", extra={"source": work.source, "page": page.index})
                recover(page)
                continue
            page.future = None
            if outcome.prepared is not None:  # a worker measured, straightened and stored the page
                page.image_key = outcome.prepared["image_key"]
                page.image_sha256 = outcome.prepared["image_sha256"]
                quality = outcome.prepared["quality"]
                page.quality = PageQuality(**quality) if quality is not None else None
                page.raw = None
            if outcome.error is not None:
                code, detail = outcome.error
                raise Rejected(code, f"第 {page.index + 1} 页：{detail}")
            page.seconds, page.worker_pid, page.worker_rss_mb = outcome.seconds, outcome.pid, outcome.max_rss_mb
            page.separator = outcome.separator
            page.ocr = outcome.page_ocr()
            if page.ocr is not None:
                page.ocr_key = remember_ocr(ctx.rt, page.image_sha256, ctx.engine_name, page.ocr)
            elif outcome.ocr_key is not None:
                page.ocr_key = outcome.ocr_key


def load_ocr(ctx: IngestContext, work: FileWork) -> None:
    """The OCR of pages read by another process, from the store."""
    for page in work.pages:
        if page.ocr is None and page.separator is None:
            if not page.ocr_key:
                raise Rejected("ocr_failed", f"第 {page.index + 1} 页没有识别结果")
            page.ocr = PageOcr.from_json(json.loads(ctx.rt.store.get(page.ocr_key)))


def split_dossiers(work: FileWork) -> None:
    """One file is one dossier, unless it carries separator sheets: then one dossier per sheet."""
    has_separators = any(p.separator is not None for p in work.pages)
    if not has_separators:
        work.dossiers = [DossierWork(seq=1, archive_number=None, pages=list(work.pages))]
        return
    dossiers: list[DossierWork] = []
    current: DossierWork | None = None
    for page in work.pages:
        if page.separator is not None:
            number, problems = _checked_archive_number(page.separator)
            current = DossierWork(seq=len(dossiers) + 1, archive_number=number, problems=problems)
            dossiers.append(current)
            continue
        if current is None:  # pages before the first separator are kept, never dropped
            current = DossierWork(seq=1, archive_number=None)
            current.problems.append(
                Problem("pages_before_separator", "文件开头的页面之前没有分隔页，已单独成卷，请核对档号")
            )
            dossiers.append(current)
        current.pages.append(page)
    for dossier in dossiers:
        if not dossier.pages:
            work.problems.append(
                Problem("empty_dossier", f"档号 {dossier.archive_number} 的分隔页之后没有页面，未建立案卷")
            )
    work.dossiers = [d for d in dossiers if d.pages]
    if not work.dossiers:
        raise Rejected("no_pages", "文件只有分隔页，没有可入库的案卷页面")
    numbers = [d.archive_number for d in work.dossiers if d.archive_number]
    for number in {n for n in numbers if numbers.count(n) > 1}:
        for dossier in work.dossiers:
            if dossier.archive_number == number:
                dossier.problems.append(Problem("duplicate_archive_number", f"档号 {number} 在本文件中出现多次"))


def _checked_archive_number(text: str) -> tuple[str | None, list[Problem]]:
    """A 档号 read from a separator sheet, if it is one that can be recorded."""
    text = text.strip()
    if _ARCHIVE_NUMBER.fullmatch(text):
        return text, []
    shown = "".join(ch if ch.isprintable() else "?" for ch in text[:40])
    return None, [Problem("invalid_archive_number", f"分隔页二维码中的档号无效（过长或含控制字符）：{shown}…")]


def check_dossiers(ctx: IngestContext, work: FileWork) -> None:
    """Page-level problems a reviewer must see: blank or textless, low confidence, repeated images,
    and the scan-quality findings (resolution, colour lost, large skew corrected)."""
    shas = [p.image_sha256 for p in work.pages]
    with ctx.rt.sessions() as session:
        rows = session.execute(
            select(Page.image_sha256, Page.number, Dossier.archive_number, Dossier.id)
            .join(Dossier, Page.dossier_id == Dossier.id)
            .where(Page.image_sha256.in_(shas))
        ).all()
    archived = {sha: (number, archive_number, dossier_id) for sha, number, archive_number, dossier_id in rows}
    seen_here: dict[str, tuple[int, int]] = {}
    threshold = ctx.rt.settings.low_confidence
    for dossier in work.dossiers:
        facts: list[PageFacts] = []
        for number, page in enumerate(dossier.pages, start=1):
            assert page.ocr is not None
            facts.append(PageFacts(number, page.quality, page.ocr))
            content = content_problems(facts[-1])
            dossier.problems.extend(content)
            conf = page.ocr.mean_confidence
            if conf is not None and conf < threshold and not content:
                dossier.problems.append(
                    Problem("low_ocr_confidence", f"识别置信度 {conf:.2f} 低于 {threshold:.2f}，请人工核对", number)
                )
            if page.image_sha256 in archived:
                other_number, other_archive, _ = archived[page.image_sha256]
                dossier.problems.append(
                    Problem(
                        "duplicate_page",
                        f"页面图像与已入库案卷 {other_archive or '（无档号）'} 第 {other_number} 页完全相同",
                        number,
                    )
                )
            elif page.image_sha256 in seen_here:
                seq, other = seen_here[page.image_sha256]
                dossier.problems.append(
                    Problem("duplicate_page", f"页面图像与本文件第 {seq} 卷第 {other} 页完全相同", number)
                )
            else:
                seen_here[page.image_sha256] = (dossier.seq, number)
        dossier.problems.extend(scan_problems(facts, ctx.rt.settings))


def classify_dossiers(ctx: IngestContext, work: FileWork) -> None:
    """Business type, case-record fields and the checks that decide whether a person must look.

    A dossier is archived without review only when it has no problem at all and the classifier is
    at least ``classify_threshold`` sure; otherwise it waits in the review queue.
    """
    assert ctx.classifier is not None and ctx.taxonomy is not None
    threshold = ctx.rt.settings.classify_threshold
    for dossier in work.dossiers:
        pages = [p.ocr for p in dossier.pages if p.ocr is not None]
        dossier.record = record = extract_record(pages)
        dossier.decision = decision = ctx.classifier.classify([p.text for p in pages])
        if record.id_number and not is_valid_id_number(record.id_number):
            dossier.problems.append(
                Problem("invalid_id_number", f"公民身份号码 {record.id_number} 校验位不符或出生日期不可能")
            )
        if record.uscc and not is_valid_uscc(record.uscc):
            dossier.problems.append(Problem("invalid_uscc", f"统一社会信用代码 {record.uscc} 校验位不符"))
        dossier.problems.extend(Problem(p["code"], p["detail"]) for p in check_catalogue(record, len(pages)))
        if decision.business_type == UNCLASSIFIED or decision.confidence < threshold:
            shown = "、".join(f"{name} {prob:.2f}" for name, prob in decision.candidates)
            dossier.problems.append(
                Problem("unclassified", f"业务类型不能确定（置信度 {decision.confidence:.2f}），候选：{shown}")
            )
        kind = ctx.taxonomy.by_name(decision.business_type)
        if not record.title:  # none printed: composed from the person or unit and the business
            unit_first = describe.unit_leads(kind.key_fields)
            record.title = describe.composed_title(
                record.person_name, record.unit_name, decision.business_type, unit_first
            )
        gaps = describe.missing_before_filing(
            describe.Description(
                title=record.title,
                archive_number=dossier.archive_number or record.archive_number,
                business_number=record.business_number,
                responsible=True,  # the office ingesting it
                dated=bool(_iso_date(record.formed_date)),
                business_type=decision.business_type,
                retention=kind.retention,
            )
        )
        if gaps and not any(p.code == "unclassified" for p in dossier.problems):
            dossier.problems.append(Problem("metadata_missing", describe.problem_detail(gaps)))
        auto = ctx.rt.settings.auto_archive
        dossier.status = "archived" if auto and not dossier.problems else "needs_review"


def write_pdfs(ctx: IngestContext, work: FileWork) -> None:
    """A searchable PDF per dossier: the scans with their OCR text laid invisibly over them."""
    for dossier in work.dossiers:
        fd, tmp = tempfile.mkstemp(suffix=".pdf", dir=ctx.rt.settings.home)
        try:
            with os.fdopen(fd, "wb") as out:
                pages = (
                    PdfPage(ctx.rt.store.get(p.image_key), p.media_type, p.ocr, p.dpi)  # type: ignore[arg-type]
                    for p in dossier.pages
                )
                write_searchable_pdf(pages, out, title=dossier.archive_number or "")
            sha, _ = sha256_file(Path(tmp))
            key = content_key("derived/pdf", sha, ".pdf")
            ctx.rt.store.put_file(key, Path(tmp))
            dossier.pdf_key = key
        finally:
            Path(tmp).unlink(missing_ok=True)


def commit(ctx: IngestContext, work: FileWork, seconds: float) -> None:
    """Record the original, its dossiers and pages, and the file's outcome, in one transaction."""
    now = datetime.now(UTC)
    total_pages = sum(len(d.pages) for d in work.dossiers) or 1
    with ctx.rt.sessions.begin() as session:
        record = _pending_record(session, work)
        record.sha256, record.size, record.seconds, record.finished_at = work.sha256, work.size, seconds, now
        if work.problems:
            record.problem_code = work.problems[0].code
            record.problem_detail = "；".join(p.detail for p in work.problems)
        if work.duplicate_of is not None:
            record.status = "duplicate"
            record.duplicate_of = work.duplicate_of
            return
        original = Original(
            sha256=work.sha256,
            size=work.size,
            media_type=work.media_type,
            filename=Path(work.source).name,
            object_key=work.original_key,
            batch_id=ctx.batch_id,
        )
        session.add(original)
        session.flush()
        for dossier in work.dossiers:
            lines = [line for p in dossier.pages for line in (p.ocr.text_lines if p.ocr else [])]
            ids = find_identifiers(lines)
            case, decision = dossier.record, dossier.decision
            assert case is not None and decision is not None and ctx.taxonomy is not None  # classify_dossiers ran
            kind = ctx.taxonomy.by_name(decision.business_type)
            row = Dossier(
                batch_id=ctx.batch_id,
                original_id=original.id,
                seq_in_source=dossier.seq,
                archive_number=dossier.archive_number or case.archive_number,
                title=case.title,
                office=ctx.office,
                business_type=kind.name if kind.name != UNCLASSIFIED else None,
                category=kind.category,
                retention=kind.retention,
                confidence=round(decision.confidence, 4),
                classification=decision.to_json(),
                record=case.to_dict(),
                declared_pages=case.declared_pages,
                status=dossier.status,
                page_count=len(dossier.pages),
                searchable_pdf_key=dossier.pdf_key,
                identifiers=ids.to_report(),
                person_name=case.person_name,
                person_id_number=_first_valid(case.id_number, ids.id_numbers, is_valid_id_number),
                unit_name=case.unit_name,
                unit_uscc=_first_valid(case.uscc, ids.uscc, is_valid_uscc),
                business_number=case.business_number,
                date_end=_iso_date(case.formed_date),
                ingested_by=ctx.user,
                problems=[p.to_json() for p in dossier.problems],
                seconds=round(seconds * len(dossier.pages) / total_pages, 3),
            )
            session.add(row)
            session.flush()
            if row.status == "archived" and not row.archive_number:
                numbering.assign(session, row, kind.short)
            outbox.enqueue(session, row.id)
            for entry in case.catalogue:
                if entry.start_page is not None and entry.title:
                    session.add(
                        Document(
                            dossier_id=row.id,
                            seq=entry.seq,
                            title=entry.title,
                            start_page=entry.start_page,
                            end_page=entry.end_page if entry.end_page is not None else entry.start_page,
                        )
                    )
            session.add(
                DossierEvent(dossier_id=row.id, actor=ctx.user, action="ingested", detail={"batch": ctx.batch_id})
            )
            if row.status == "archived":
                holds.mark(session, row.id)
                session.add(
                    DossierEvent(
                        dossier_id=row.id,
                        actor="system:classifier",
                        action="archived",
                        detail={"confidence": row.confidence, "model_sha256": decision.model_sha256},
                    )
                )
            for number, page in enumerate(dossier.pages, start=1):
                assert page.ocr is not None
                session.add(
                    Page(
                        dossier_id=row.id,
                        number=number,
                        source_index=page.index,
                        image_key=page.image_key,
                        image_sha256=page.image_sha256,
                        media_type=page.media_type,
                        width=page.ocr.width,
                        height=page.ocr.height,
                        rotation=page.ocr.rotation,
                        ocr_key=page.ocr_key,
                        ocr_engine=page.ocr.engine,
                        text=page.ocr.text,
                        lines=page.ocr.to_json()["lines"],
                        mean_confidence=page.ocr.mean_confidence,
                        **_quality_columns(page.quality),
                    )
                )
        record.status = "ingested"


class AlreadyFinished(Exception):
    """The file was committed or refused by another run of the same task (a redelivered message)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def _pending_record(session: Session, work: FileWork) -> BatchFile:
    """The file's batch record, locked, if no one finished it yet: a task handed out twice (a worker
    presumed dead) commits once."""
    record = session.get(BatchFile, work.record_id, with_for_update=True)
    if record is None:
        raise LookupError(f"batch file {work.record_id} does not exist")
    if record.status != "pending":
        raise AlreadyFinished(record.status)
    return record


def _quality_columns(quality: PageQuality | None) -> dict:
    """The page's scan-quality measurements as ``Page`` columns (all empty when not measured)."""
    if quality is None:
        return {"quality": {}}
    return {
        "scan_dpi": round(quality.dpi, 1),
        "skew_degrees": quality.skew_degrees,
        "red_content": quality.red_content,
        "ink_share": round(quality.ink_share, 6),
        "quality": quality.to_json(),
    }


def _first_valid(labelled: str | None, found: list[str], valid) -> str | None:
    if labelled and valid(labelled):
        return labelled
    return found[0] if found else None


def _iso_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def reject(ctx: IngestContext, work: FileWork, seconds: float) -> None:
    assert work.rejection is not None
    with ctx.rt.sessions.begin() as session:
        record = _pending_record(session, work)
        record.status = "rejected"
        record.sha256, record.size, record.seconds = work.sha256, work.size, seconds
        record.problem_code, record.problem_detail = work.rejection.code, work.rejection.detail
        record.finished_at = datetime.now(UTC)

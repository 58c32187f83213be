"""ORM models.  Every primary key is a UUIDv7 string; no sequential integer leaves the database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from archive.ids import new_id


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def _id() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_id)


class Batch(Base):
    """One run of ``archive ingest`` (or one upload): who, when, which office, which files."""

    __tablename__ = "batches"
    id: Mapped[str] = _id()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    office: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|completed|interrupted
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)  # resumes the same command
    engine: Mapped[str] = mapped_column(String(100))
    host: Mapped[str] = mapped_column(String(200), default="")
    pid: Mapped[int | None] = mapped_column(Integer)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    files: Mapped[list[BatchFile]] = relationship(back_populates="batch", order_by="BatchFile.position")


class BatchFile(Base):
    """One source file of a batch, as given, and what became of it."""

    __tablename__ = "batch_files"
    __table_args__ = (UniqueConstraint("batch_id", "position"),)
    id: Mapped[str] = _id()
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|ingested|duplicate|rejected
    problem_code: Mapped[str | None] = mapped_column(String(64))
    problem_detail: Mapped[str | None] = mapped_column(Text)
    duplicate_of: Mapped[str | None] = mapped_column(String(36))  # original id
    seconds: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    batch: Mapped[Batch] = relationship(back_populates="files")


class Original(Base):
    """A source file kept byte for byte; one row per distinct SHA-256."""

    __tablename__ = "originals"
    id: Mapped[str] = _id()
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(Text)
    object_key: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Dossier(Base):
    """案卷: one dossier, with the case-record link fields the classifier fills."""

    __tablename__ = "dossiers"
    __table_args__ = (UniqueConstraint("original_id", "seq_in_source"),)
    id: Mapped[str] = _id()
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    original_id: Mapped[str] = mapped_column(ForeignKey("originals.id"), index=True)
    seq_in_source: Mapped[int] = mapped_column(Integer)  # 1.. for files split at separator sheets
    archive_number: Mapped[str | None] = mapped_column(String(100), index=True)  # 档号
    title: Mapped[str | None] = mapped_column(Text)
    office: Mapped[str] = mapped_column(String(32), index=True)
    business_type: Mapped[str | None] = mapped_column(String(64), index=True)
    category: Mapped[str | None] = mapped_column(String(64))
    retention: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="needs_review")  # needs_review|archived|rejected
    date_start: Mapped[date | None] = mapped_column(Date)
    date_end: Mapped[date | None] = mapped_column(Date)
    person_id_number: Mapped[str | None] = mapped_column(String(18), index=True)
    person_name: Mapped[str | None] = mapped_column(String(100))
    unit_uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    unit_name: Mapped[str | None] = mapped_column(Text)
    business_number: Mapped[str | None] = mapped_column(String(64), index=True)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    searchable_pdf_key: Mapped[str | None] = mapped_column(Text)
    identifiers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    problems: Mapped[list[Any]] = mapped_column(default=list)
    seconds: Mapped[float | None] = mapped_column(Float)
    classification: Mapped[dict[str, Any]] = mapped_column(default=dict)  # decision, candidates, model hash
    record: Mapped[dict[str, Any]] = mapped_column(default=dict)  # extracted case-record fields
    declared_pages: Mapped[int | None] = mapped_column(Integer)  # 本卷共…页 on the cover
    retention_extended_until: Mapped[date | None] = mapped_column(Date)  # set by an appraisal that kept it
    hold_applied: Mapped[str | None] = mapped_column(String(32), index=True)  # archive.retention.holds
    ingested_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    documents: Mapped[list[Document]] = relationship(back_populates="dossier", order_by="Document.seq")
    pages: Mapped[list[Page]] = relationship(back_populates="dossier", order_by="Page.number")


class Document(Base):
    """件: a catalogue (卷内目录) entry with its page range."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("dossier_id", "seq"),)
    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    start_page: Mapped[int] = mapped_column(Integer)
    end_page: Mapped[int] = mapped_column(Integer)
    document_number: Mapped[str | None] = mapped_column(String(100))
    responsible: Mapped[str | None] = mapped_column(Text)
    date: Mapped[date | None] = mapped_column(Date)
    dossier: Mapped[Dossier] = relationship(back_populates="documents")


class Page(Base):
    """One page as scanned (separator sheets excluded), with its OCR."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("dossier_id", "number"), Index("ix_pages_image_sha256", "image_sha256"))
    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id"))
    number: Mapped[int] = mapped_column(Integer)
    source_index: Mapped[int] = mapped_column(Integer)  # 0-based page of the original file
    image_key: Mapped[str] = mapped_column(Text)
    image_sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    ocr_key: Mapped[str] = mapped_column(Text)
    ocr_engine: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text, default="")
    lines: Mapped[list[Any]] = mapped_column(default=list)  # [{"text", "box", "confidence"}]
    mean_confidence: Mapped[float | None] = mapped_column(Float)
    # Scan quality (archive.quality): None where the page was not measured (ingested before 0007)
    scan_dpi: Mapped[float | None] = mapped_column(Float)  # effective resolution of the scan
    skew_degrees: Mapped[float | None] = mapped_column(Float)  # tilt found (None: not a text page)
    red_content: Mapped[bool | None] = mapped_column(Boolean)  # a red seal or header on the page
    ink_share: Mapped[float | None] = mapped_column(Float)  # share of the page inked: the blank measure
    quality: Mapped[dict[str, Any]] = mapped_column(default=dict)  # every measurement (PageQuality.to_json)
    dossier: Mapped[Dossier] = relationship(back_populates="pages")


class OcrResult(Base):
    """OCR already done for a page image by an engine, so a resumed batch does not redo it."""

    __tablename__ = "ocr_results"
    image_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    engine: Mapped[str] = mapped_column(String(100), primary_key=True)
    ocr_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TaskFailure(Base):
    """A Celery task that failed for good (retries spent), kept for inspection until retried."""

    __tablename__ = "task_failures"
    id: Mapped[str] = _id()
    task_id: Mapped[str] = mapped_column(String(200), index=True)
    task_name: Mapped[str] = mapped_column(String(100))
    args: Mapped[list[Any]] = mapped_column(JSON)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str] = mapped_column(String(200), default="")
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retried_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    retried_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    retry_task_id: Mapped[str | None] = mapped_column(String(200), nullable=True)


class DossierEvent(Base):
    """The dossier's history: who did what, when, with the values before and after."""

    __tablename__ = "dossier_events"
    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))  # ingested|corrected|approved|rejected
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class TrainingExample(Base):
    """A human-confirmed business type for a dossier's text: what ``classifier train`` learns from."""

    __tablename__ = "training_examples"
    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id"), index=True)
    business_type: Mapped[str] = mapped_column(String(64))
    pages: Mapped[list[Any]] = mapped_column(default=list)  # page texts
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(32))  # corrected|approved
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccessLogEntry(Base):
    """One entry of the access log.  Append-only: database triggers refuse UPDATE and DELETE.

    ``seq`` orders the chain (internal only; entries are referred to outside by ``id``).
    """

    __tablename__ = "access_log"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    at: Mapped[str] = mapped_column(String(32), index=True)  # ISO 8601 UTC, as hashed
    actor: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(32))
    office: Mapped[str] = mapped_column(String(32))
    client: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32), index=True)
    targets: Mapped[list[Any]] = mapped_column(default=list)
    reason: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16))  # allowed|denied
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(16))


class AccessLogHead(Base):
    """The chain head (one row): the lock appenders take, and the last sequence number and hash."""

    __tablename__ = "access_log_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class User(Base):
    """A person who signs in.  Local users carry an argon2id hash; users of an external identity
    provider (OIDC, later) carry ``provider`` and ``subject`` instead and no password."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("provider", "subject", name="uq_users_provider_subject"),)
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(16))  # archivist|reviewer|caseworker|auditor|admin
    office: Mapped[str] = mapped_column(String(32))  # an office code, or * for every office
    provider: Mapped[str] = mapped_column(String(32), default="local")
    subject: Mapped[str | None] = mapped_column(String(200))  # the provider's stable user id
    password_hash: Mapped[str | None] = mapped_column(Text)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    must_change_password: Mapped[bool] = mapped_column(default=False)  # set by an administrator's reset
    disabled: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class AuthToken(Base):
    """A bearer token or a browser session.  Only the SHA-256 of the secret is kept, so a copy of
    the database signs no one in; revoking sets ``revoked_at``."""

    __tablename__ = "auth_tokens"
    id: Mapped[str] = _id()
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # bearer|session
    csrf_sha256: Mapped[str | None] = mapped_column(String(64))  # sessions only
    client: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SearchPending(Base):
    """The search outbox: a dossier whose index entry is behind its records.

    Written in the same transaction as the change (ingest, correction, decision), removed only after
    the index has committed that dossier at this ``generation``, so a crash between the database and
    the index never loses an update.
    """

    __tablename__ = "search_pending"
    dossier_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FixityCheck(Base):
    """When each stored object was last verified by ``archive integrity check``, and how it went.

    One row per object key, replaced on every verification; an object is due again when it has no
    row, when its last check failed, or when ``checked_at`` is older than the run's ``--due`` period.
    """

    __tablename__ = "fixity_checks"
    object_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ok: Mapped[bool] = mapped_column(default=False)
    code: Mapped[str | None] = mapped_column(String(64))  # the first failure's code, None when ok
    sha256: Mapped[str | None] = mapped_column(String(64))  # the digest the body had when read


class Appraisal(Base):
    """鉴定: a proposal to destroy or keep dossiers whose retention has ended, and its decision.

    Maker-checker: ``proposed_by`` makes it, a different person approves or declines it.  All its
    dossiers belong to one ``office``; ``status`` is proposed (open), approved or declined.
    """

    __tablename__ = "appraisals"
    id: Mapped[str] = _id()
    office: Mapped[str] = mapped_column(String(32), index=True)
    decision: Mapped[str] = mapped_column(String(16))  # destroy|keep
    keep_years: Mapped[int | None] = mapped_column(Integer)  # keep: the years added to the retention
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="proposed", index=True)  # proposed|approved|declined
    proposed_by: Mapped[str] = mapped_column(String(200))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    items: Mapped[list[AppraisalItem]] = relationship(back_populates="appraisal", order_by="AppraisalItem.position")


class AppraisalItem(Base):
    """One dossier of an appraisal.  ``open_dossier_id`` is the dossier's id while the appraisal is
    open and NULL once decided: unique, so the database itself refuses a second open appraisal."""

    __tablename__ = "appraisal_items"
    __table_args__ = (UniqueConstraint("appraisal_id", "dossier_id"),)
    id: Mapped[str] = _id()
    appraisal_id: Mapped[str] = mapped_column(ForeignKey("appraisals.id"), index=True)
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    retention_end: Mapped[date] = mapped_column(Date)  # as it stood when proposed
    open_dossier_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    appraisal: Mapped[Appraisal] = relationship(back_populates="items")


class DestructionRegister(Base):
    """销毁清册: the write-once JSON document (``object_key``, legal hold) of an approved destruction."""

    __tablename__ = "destruction_registers"
    id: Mapped[str] = _id()
    appraisal_id: Mapped[str] = mapped_column(ForeignKey("appraisals.id"), unique=True)
    office: Mapped[str] = mapped_column(String(32), index=True)
    object_key: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    dossiers: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))  # the approver
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DisposalObject(Base):
    """What became of one stored object of a destroyed dossier: planned (not tried yet), deleted,
    pending (the store's lock still holds it, or the store failed: ``archive disposition purge``
    retries), shared (another live dossier references it: kept), gone (already absent)."""

    __tablename__ = "disposal_objects"
    __table_args__ = (UniqueConstraint("register_id", "object_key"),)
    id: Mapped[str] = _id()
    register_id: Mapped[str] = mapped_column(ForeignKey("destruction_registers.id"), index=True)
    object_key: Mapped[str] = mapped_column(String(512), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # original|page_image|ocr_result|searchable_pdf
    sha256: Mapped[str | None] = mapped_column(String(64))
    dossier_ids: Mapped[list[Any]] = mapped_column(default=list)  # the destroyed dossiers referencing it
    outcome: Mapped[str] = mapped_column(String(16), default="planned", index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ArchiveNumberCounter(Base):
    """The last serial (件号) given under one 档号 prefix (office-type-year-retention) by
    ``archive.numbering``; the row is locked while a number is taken."""

    __tablename__ = "archive_number_counters"
    prefix: Mapped[str] = mapped_column(String(100), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Office(Base):
    """经办机构: an office code users, batches and dossiers carry, with the name people know it by.

    Offices are listed here so that forms can offer them; a user or batch may still carry a valid
    code that is not (yet) listed (``archive.identity.offices``)."""

    __tablename__ = "offices"
    id: Mapped[str] = _id()
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

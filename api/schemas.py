"""Request and response models of the API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from api.security import has_control
from archive.records.models import as_utc

Instant = Annotated[datetime, AfterValidator(as_utc)]  # the API always says a time is UTC


def _clean(value: Any) -> None:
    if isinstance(value, str) and has_control(value):
        raise ValueError("含有不允许的控制字符")
    if isinstance(value, dict):
        for key, item in value.items():
            _clean(key)
            _clean(item)


class Model(BaseModel):
    """A request body: unknown fields and control characters refused."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _no_control_characters(self) -> Model:
        for _, value in self:
            _clean(value)
        return self


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: Instant


class Credentials(Model):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    name: str
    role: str
    role_zh: str
    office: str
    permissions: list[str]
    must_change_password: bool = False


class SessionOut(BaseModel):
    user: Me
    csrf_token: str
    expires_at: Instant


class PasswordChange(Model):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class Ok(BaseModel):
    ok: bool = True
    message: str = ""


class DossierSummary(BaseModel):
    id: str
    archive_number: str | None
    business_type: str | None
    office: str
    status: str
    title: str | None = None
    person_name: str | None = None
    person_id_number: str | None = Field(None, description="列表中为掩码（如 1201**********123X）")
    unit_name: str | None = None
    unit_uscc: str | None = None
    business_number: str | None = None
    date_start: date | None = None
    date_end: date | None = None
    page_count: int = 0


class DossierPage(BaseModel):
    items: list[DossierSummary]
    next: str | None


class PageInfo(BaseModel):
    number: int
    width: int
    height: int
    media_type: str
    mean_confidence: float | None


class CatalogueEntry(BaseModel):
    seq: int
    title: str
    start_page: int
    end_page: int
    document_number: str | None
    responsible: str | None
    date: date | None


class HistoryEntry(BaseModel):
    at: Instant
    actor: str
    action: str
    detail: dict[str, Any]


class DossierDetail(DossierSummary):
    category: str | None
    retention: str | None
    confidence: float | None
    declared_pages: int | None
    problems: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    record: dict[str, Any]
    ingested_by: str | None
    reviewed_by: str | None
    reviewed_at: Instant | None
    created_at: Instant
    has_pdf: bool
    pages: list[PageInfo]
    catalogue: list[CatalogueEntry]
    history: list[HistoryEntry]


class PageText(BaseModel):
    number: int
    text: str
    mean_confidence: float | None
    lines: list[dict[str, Any]]


class DossierText(BaseModel):
    id: str
    pages: list[PageText]


class QueueEntry(BaseModel):
    id: str
    archive_number: str | None
    business_type: str | None
    confidence: float | None
    problems: list[dict[str, Any]]
    severity: int
    page_count: int


class QueueOut(BaseModel):
    items: list[QueueEntry]


class Correction(Model):
    business_type: str | None = Field(None, max_length=64)
    fields: dict[str, str] = Field(default_factory=dict, max_length=20)


class Rejection(Model):
    reason: str = Field(min_length=1, max_length=500)


class ReviewResult(BaseModel):
    id: str
    status: str
    business_type: str | None


class RecordsOut(BaseModel):
    items: list[DossierSummary]


class BatchFileOut(BaseModel):
    position: int
    name: str
    status: str
    problem_code: str | None
    problem_detail: str | None


class BatchProgress(BaseModel):
    state: str = Field(description="queued|running|finished|failed|unknown")
    files_total: int = 0
    files_done: int = 0
    pages_total: int = 0
    pages_done: int = 0
    error: str | None = None


class BatchOut(BaseModel):
    id: str
    status: str
    office: str
    created_by: str
    created_at: Instant
    finished_at: Instant | None
    files: list[BatchFileOut]
    dossiers: dict[str, int]
    progress: BatchProgress


class BatchCreated(BaseModel):
    id: str
    files: int
    status_url: str


class BatchList(BaseModel):
    items: list[BatchOut]


class UserIn(Model):
    name: str = Field(min_length=2, max_length=64)
    role: str = Field(max_length=16)
    office: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=256)
    display_name: str = Field("", max_length=100)


class UserOut(BaseModel):
    name: str
    display_name: str
    role: str
    office: str
    provider: str
    disabled: bool
    locked: bool
    created_at: Instant
    created_by: str


class UserList(BaseModel):
    items: list[UserOut]


class PasswordReset(Model):
    password: str = Field(min_length=1, max_length=256)


class SearchHitOut(BaseModel):
    dossier: str = Field(description="案卷 ID（与入库报告一致）")
    archive_number: str
    business_type: str
    page: int = Field(description="命中的页码，可直接打开该页")
    score: float
    snippet: str = Field(description="命中处摘要，匹配文字以【】标出；身份证号掩码显示")
    fuzzy: bool = Field(description="仅因容错（一个字符不同）而命中")


class SearchAnswer(BaseModel):
    total: int = Field(description="可见范围内命中的页数")
    hits: list[SearchHitOut]
    facets: dict[str, dict[str, int]] = Field(description="分面计数（facets=true 时）")
    next: str | None = Field(description="下一页游标")

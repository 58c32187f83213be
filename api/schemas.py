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


class BatchSummaryOut(BaseModel):
    """What the batch has produced so far, read from the records (survives a restart)."""

    files_rejected: int = Field(0, description="拒收的文件数")
    files_duplicate: int = Field(0, description="与已入库文件相同、未重复存储的文件数")
    dossiers_total: int = Field(0, description="本批次建立的案卷数")
    dossiers_classified: int = Field(0, description="已确定业务类型的案卷数")
    pages_stored: int = Field(0, description="已入库案卷的页数（不含分隔页）")
    problems_total: int = Field(0, description="未结问题数：文件的问题，以及待审核或已驳回案卷的问题")


class BatchProblemOut(BaseModel):
    file_position: int | None = Field(description="问题所在文件在批次中的序号（从 0 起）")
    file_name: str | None
    dossier: str | None = Field(description="问题所在案卷；文件层面的问题为 null")
    archive_number: str | None
    code: str
    detail: str
    page: int | None = Field(None, description="案卷内页码，问题属于某一页时给出")


class BatchDossierOut(BaseModel):
    id: str
    archive_number: str | None
    business_type: str | None
    status: str
    file_name: str | None
    problems: int = Field(description="该案卷的问题数")


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
    summary: BatchSummaryOut = Field(default_factory=BatchSummaryOut)
    problems: list[BatchProblemOut] | None = Field(
        None, description="未结问题清单（至多 200 条）；仅单个批次查询且 detail=true 时给出，列表中为 null"
    )
    review: list[BatchDossierOut] | None = Field(
        None, description="待审核案卷（至多 200 个）；仅单个批次查询且 detail=true 时给出，列表中为 null"
    )


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


# -- administration: offices, taxonomy, system status (issue 7) -----------------------------------


class OfficeIn(Model):
    code: str = Field(min_length=1, max_length=32, description="经办机构代码（通常为 6 位行政区划代码）")
    name: str = Field(min_length=1, max_length=100, description="经办机构名称")


class OfficeRename(Model):
    name: str = Field(min_length=1, max_length=100, description="新的经办机构名称")


class OfficeOut(BaseModel):
    code: str
    name: str
    users: int = Field(description="属于该经办机构的用户数")
    created_at: Instant
    created_by: str


class OfficeList(BaseModel):
    items: list[OfficeOut]


class TaxonomyTypeOut(BaseModel):
    name: str
    code: str
    short: str
    insurance_line: str = Field(description="险种")
    category: str = Field(description="业务环节")
    retention: str = Field(description="保管期限")
    form_titles: list[str]
    keywords: list[str]
    key_fields: list[str]
    dossiers: int = Field(description="使用该业务类型的案卷数")


class TaxonomyOut(BaseModel):
    source: str = Field(description="builtin：随软件发布的分类表；file：本单位的分类表文件")
    path: str | None
    sha256: str = Field(description="当前文本的 SHA-256，保存时作为 base_sha256 回传")
    text: str
    types: list[TaxonomyTypeOut]


class TaxonomyIn(Model):
    text: str = Field(min_length=1, max_length=512 * 1024, description="分类表 YAML 全文")
    base_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="编辑所依据版本的 SHA-256；期间有人修改则拒绝保存"
    )


class TaxonomySaved(BaseModel):
    ok: bool = True
    message: str
    path: str
    sha256: str
    previous_sha256: str
    previous_copy: str = Field(description="上一版本的留存副本")
    types: int


class StatusPart(BaseModel):
    key: str
    label: str
    status: str = Field(description="ok | warn | error")
    message: str
    facts: dict[str, Any] = Field(default_factory=dict)


class SystemStatus(BaseModel):
    status: str = Field(description="各部分中最差的状态：ok | warn | error")
    checked_at: Instant
    version: str
    started_at: Instant
    uptime_seconds: int
    parts: list[StatusPart]

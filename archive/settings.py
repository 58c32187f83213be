"""Settings read from environment variables prefixed ``ARCHIVE_``.

This is the only process-wide state of the project.  Everything else is passed
explicitly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHIVE_", extra="ignore")

    home: Path = Field(default=Path("./archive-data"), description="All the embedded default keeps.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite under home if unset.")
    office: str = Field(default="000000", description="Default office code for batches.")

    ocr_engine: Literal["paddle", "rapid"] = "paddle"
    ocr_workers: int = Field(default=2, ge=0, description="OCR processes; 0 runs OCR in-process.")
    ocr_threads: int = Field(default=1, ge=1, description="Math threads per OCR process.")
    ocr_recycle_pages: int = Field(default=200, ge=1, description="Pages before an OCR process is replaced.")
    ocr_model_dir: Path | None = Field(default=None, description="Folder with det/ and rec/ Paddle models.")
    ocr_det_limit_side_len: int = 960

    render_dpi: int = Field(default=200, ge=200, le=600, description="Rendering resolution for non-JPEG PDF pages.")
    max_image_pixels: int = Field(default=120_000_000, description="Decompression-bomb limit per page.")
    max_file_bytes: int = Field(default=2 * 1024**3, description="Largest accepted source file.")
    low_confidence: float = Field(default=0.80, description="Pages under this mean confidence are flagged.")
    # Scan quality at intake (DA/T 31-2017): archive.quality
    min_dpi: float = Field(default=200, ge=50, le=1200, description="Pages scanned below this resolution are flagged.")
    advised_dpi: float = Field(
        default=300, ge=50, le=1200, description="Pages with small print scanned below this are flagged."
    )
    small_print_mm: float = Field(
        default=2.6, gt=0, le=20, description="Character size (mm) below which print is small (六号 ≈ 2.6)."
    )
    deskew_min_degrees: float = Field(
        default=1.0, ge=0.05, le=15, description="Text pages tilted at least this much are straightened."
    )
    deskew_max_degrees: float = Field(default=15.0, ge=1, le=30, description="Largest tilt searched for.")
    skew_review_degrees: float = Field(
        default=3.0, ge=0, le=30, description="A straightened tilt of at least this much is shown to a reviewer."
    )
    blank_max_ink: float = Field(
        default=0.0002, ge=0, le=0.1, description="A page with less ink than this share of its area is blank."
    )
    red_min_share: float = Field(
        default=0.0005, gt=0, le=1, description="Saturated red over this share of a page: a red seal or header."
    )
    classify_threshold: float = Field(
        default=0.90, ge=0.0, le=1.0, description="Below this classifier confidence a dossier goes to review."
    )
    auto_archive: bool = Field(
        default=True, description="Archive certain, problem-free dossiers without review; false: review all."
    )
    classifier_model: Path | None = Field(default=None, description="A classifier model file to use instead.")
    audit_hash: Literal["sha256", "sm3"] = Field(default="sha256", description="Access-log hash (sm3 for 国密).")
    audit_checkpoint_every: int = Field(default=1000, ge=1, description="Entries between log checkpoints.")
    taxonomy_file: Path | None = Field(default=None, description="An office's own taxonomy YAML.")

    token_minutes: int = Field(default=30, ge=1, le=1440, description="Lifetime of an API bearer token.")
    session_minutes: int = Field(default=480, ge=5, le=1440, description="Lifetime of a browser session.")
    cookie_secure: bool = Field(default=True, description="Session cookie only over HTTPS (false: local HTTP).")
    login_max_failures: int = Field(default=5, ge=1, description="Failed logins before an account is locked.")
    lockout_minutes: int = Field(default=15, ge=1, description="First lock; doubles with each further failure.")
    login_rate_per_minute: int = Field(default=20, ge=1, description="Login attempts per client address.")
    search_rate_per_minute: int = Field(default=120, ge=1, description="Searches per user.")
    upload_max_files: int = Field(default=200, ge=1, description="Files in one uploaded batch.")
    upload_max_bytes: int = Field(default=4 * 1024**3, ge=1, description="Largest upload request (all files).")
    search_dir: Path | None = Field(default=None, description="Embedded search index folder (default home/search).")
    search_catch_up_seconds: float = Field(default=30.0, gt=0, description="API: how often queued indexing is retried.")
    es_url: str | None = Field(default=None, description="Elasticsearch URL; set: search runs there, not embedded.")
    es_index: str = Field(default="archive-pages", pattern=r"^[a-z0-9][a-z0-9_-]{0,60}$", description="ES alias.")
    es_api_key: SecretStr | None = Field(
        default=None, description="Elasticsearch API key (or user:password in the URL)."
    )
    es_ca_certs: Path | None = Field(default=None, description="CA bundle for an Elasticsearch cluster over HTTPS.")
    s3_endpoint: str | None = Field(default=None, description="MinIO/S3 host:port; set: objects go there, not to disk.")
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None
    s3_bucket: str = Field(default="archive", pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$")
    s3_secure: bool = Field(default=True, description="HTTPS to the object store.")
    s3_region: str | None = None
    s3_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        default="COMPLIANCE", description="Object-lock mode (GOVERNANCE only for tests)."
    )
    s3_sse: Literal["none", "s3", "kms"] = Field(
        default="none", description="Server-side encryption of new objects: none, s3 (SSE-S3) or kms (SSE-KMS)."
    )
    s3_sse_kms_key: str | None = Field(default=None, description="The KMS key id for s3_sse=kms (primary and replica).")
    replica_dir: Path | None = Field(default=None, description="Filesystem replica (双重备份) of every object.")
    replica_s3_endpoint: str | None = Field(default=None, description="MinIO/S3 host:port of a replica bucket.")
    replica_s3_access_key: str | None = None
    replica_s3_secret_key: SecretStr | None = None
    replica_s3_bucket: str = Field(default="archive-replica", pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$")
    replica_s3_secure: bool = Field(default=True, description="HTTPS to the replica's object store.")
    replica_s3_region: str | None = None
    replica_s3_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        default="COMPLIANCE", description="Object-lock mode of the replica bucket (GOVERNANCE only for tests)."
    )
    replica_retry_seconds: float = Field(
        default=30.0, ge=0, description="After a replica failure, writes skip the replica this long."
    )
    forwarded_allow_ips: str | None = Field(
        default=None, description="Reverse proxies whose X-Forwarded-For is trusted (uvicorn's forwarded_allow_ips)."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token a Prometheus scraper sends to GET /metrics (Authorization: Bearer <token>); "
            "unset or empty: /metrics answers 404.  Use a long random value."
        ),
    )
    shutdown_grace_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description=(
            "At shutdown (SIGTERM), how long the batch worker may finish the file it is on; "
            "then it stops between two steps and the batch resumes at the next start."
        ),
    )

    # Work across machines (issue 8): Celery on Redis.  Unset broker: the in-process OCR pool.
    broker_url: str | None = Field(
        default=None,
        description="Celery broker (redis://host:6379/0); set: OCR and the per-file steps run on `archive worker`s.",
    )
    result_url: str | None = Field(default=None, description="Celery result backend (default: the broker URL).")
    worker_concurrency: int = Field(
        default=2, ge=1, le=64, description="Task processes per `archive worker` (each with ocr_threads threads)."
    )
    worker_recycle_tasks: int = Field(
        default=200, ge=1, description="Tasks before a worker process is replaced (bounds OCR memory)."
    )
    dispatch_pages: int = Field(
        default=64, ge=1, le=100_000, description="Pages of one batch queued for the workers at a time."
    )
    task_ocr_seconds: float = Field(default=300, gt=0, description="Hard time limit of one page's OCR task.")
    task_file_seconds: float = Field(
        default=1800, gt=0, description="Hard time limit of one file's classify/validate/store task."
    )
    task_visibility_seconds: float = Field(
        default=3600,
        gt=0,
        description=(
            "A task taken by a worker that died is handed to another after this long (Redis visibility "
            "timeout); must exceed the task time limits, or a slow task is handed out twice."
        ),
    )
    task_retries: int = Field(default=3, ge=0, le=20, description="Retries of a task failing on a fault (I/O, DB).")

    @model_validator(mode="after")
    def _visibility_covers_tasks(self) -> Settings:
        longest = max(self.task_ocr_seconds, self.task_file_seconds)
        if self.task_visibility_seconds <= longest:
            raise ValueError(
                f"ARCHIVE_TASK_VISIBILITY_SECONDS ({self.task_visibility_seconds:g}) must exceed the longest task "
                f"time limit ({longest:g} s), or a task still running is given to a second worker"
            )
        return self

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'archive.db').resolve()}"

    @property
    def objects_dir(self) -> Path:
        return self.home / "objects"

    @property
    def search_path(self) -> Path:
        return self.search_dir or self.home / "search"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""Running the checks over the archive, chunk by chunk, and writing the outcome to the access log.

``run_checks`` selects the dossiers (all, or a random ``sample`` fraction), loads them a chunk at a
time, finds which of their objects are due to be read (``fixity.due_keys``), calls every check on
the chunk, and records a ``fixity_checks`` row for each object read.  ``check_and_log`` adds the
access-log entry (action ``integrity_check``); ``run_scheduled`` is the whole thing for a scheduler:
settings in, report out, the runtime opened and closed around it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from archive.classify.store import taxonomy_for
from archive.integrity import fixity
from archive.integrity.checks import DEFAULT_CHECKS, Check
from archive.integrity.context import CheckContext
from archive.integrity.report import CheckResult, Findings, IntegrityReport
from archive.integrity.snapshot import dossier_ids, load_snapshots, objects_of
from archive.settings import Settings
from archive.storage.base import ObjectStore

if TYPE_CHECKING:  # the runtime imports archive.retention, which reads these snapshots
    from archive.runtime import Runtime

Progress = Callable[[int, int], None]  # (dossiers done, dossiers selected)
AUDIT_ACTION = "integrity_check"
AUDIT_TARGETS = 100  # failing dossiers named in the access-log entry's targets


@dataclass(frozen=True)
class CheckOptions:
    sample: float = 1.0  # fraction of dossiers, (0, 1]
    due_days: float = 90.0  # read objects not verified within this many days (0: all)
    seed: int | None = None  # for a reproducible sample
    chunk: int = 200  # dossiers per chunk (bounds memory)
    workers: int = 4  # threads re-hashing objects

    def __post_init__(self) -> None:
        if not 0 < self.sample <= 1:
            raise ValueError("抽样比例须在 (0, 1] 之间")
        if self.due_days < 0:
            raise ValueError("--due 天数不能为负")
        if self.chunk < 1 or self.workers < 1:
            raise ValueError("chunk and workers must be positive")


def store_label(store: ObjectStore) -> str:
    primary = getattr(store, "primary", None)
    if primary is not None:  # a replicated store: the checks examine its primary
        return f"{store_label(primary)}，副本 {getattr(store, 'label', '?')}"
    bucket = getattr(store, "bucket", None)
    if bucket is not None:
        return f"S3/MinIO（存储桶 {bucket}）"
    root = getattr(store, "root", None)
    return f"文件系统（{root}）" if root is not None else type(store).__name__


def select_dossiers(ids: list[str], options: CheckOptions) -> list[str]:
    if options.sample >= 1 or not ids:
        return ids
    count = min(len(ids), max(1, math.ceil(len(ids) * options.sample)))
    return sorted(random.Random(options.seed).sample(ids, count))


def _run_one(check: Check, ctx: CheckContext) -> Findings:
    """A check that crashes fails as ``check_error`` for the chunk; the other checks still run."""
    try:
        return check.run(ctx)
    except Exception as exc:
        findings = Findings()
        findings.fail("check_error", f"检查 {check.name} 出错：{exc.__class__.__name__}: {exc}")
        return findings


def run_checks(
    rt: Runtime,
    options: CheckOptions = CheckOptions(),
    checks: Sequence[Check] = DEFAULT_CHECKS,
    progress: Progress | None = None,
) -> IntegrityReport:
    started = datetime.now(UTC)
    taxonomy = taxonomy_for(rt.settings)
    with rt.sessions() as session:
        everything = dossier_ids(session)
    chosen = select_dossiers(everything, options)
    results = [CheckResult(c.property, c.name, c.label) for c in checks]
    objects = objects_read = bytes_verified = 0
    for start in range(0, len(chosen), options.chunk):
        now = datetime.now(UTC)
        with rt.sessions() as session:
            dossiers = load_snapshots(session, chosen[start : start + options.chunk])
            refs = objects_of(dossiers)
            due = fixity.due_keys(session, [r.key for r in refs], options.due_days, now)
        ctx = CheckContext(
            store=rt.store,
            taxonomy=taxonomy,
            now=now,
            dossiers=dossiers,
            objects=refs,
            due=due,
            max_image_pixels=rt.settings.max_image_pixels,
            workers=options.workers,
        )
        for check, result in zip(checks, results, strict=True):
            for failure in result.add(_run_one(check, ctx)):
                if failure.key:
                    ctx.failed.setdefault(failure.key, failure.code)
        rows = [
            fixity.FixityRecord(key, key not in ctx.failed, ctx.failed.get(key), None if key in ctx.failed else sha)
            for key, sha in ctx.read.items()
        ]
        with rt.sessions.begin() as session:
            fixity.record(session, rows, datetime.now(UTC))
        objects += len(refs)
        objects_read += len(ctx.read)
        bytes_verified += ctx.bytes_verified
        if progress is not None:
            progress(min(start + options.chunk, len(chosen)), len(chosen))
    return IntegrityReport(
        started_at=started,
        finished_at=datetime.now(UTC),
        sample=options.sample,
        due_days=options.due_days,
        dossiers=len(chosen),
        dossiers_total=len(everything),
        objects=objects,
        objects_read=objects_read,
        bytes_verified=bytes_verified,
        store=store_label(rt.store),
        checks=results,
    )


def check_and_log(
    rt: Runtime,
    options: CheckOptions = CheckOptions(),
    checks: Sequence[Check] = DEFAULT_CHECKS,
    progress: Progress | None = None,
) -> IntegrityReport:
    """``run_checks``, then one access-log entry with the counts and the failing keys (truncated).

    A run that cannot finish (the database or the store down) is logged too, with its error code,
    and the error is raised again.
    """
    from archive.cli_common import audit_event  # the CLI's access-log helper (OS user, role admin-cli)

    try:
        report = run_checks(rt, options, checks, progress)
    except Exception as exc:
        code = getattr(exc, "code", None) or exc.__class__.__name__
        audit_event(
            rt, AUDIT_ACTION, (), sample=options.sample, due_days=options.due_days, ok=False, error=str(code)[:64]
        )
        raise
    audit_event(rt, AUDIT_ACTION, tuple(report.failing_dossiers()[:AUDIT_TARGETS]), **report.audit_detail())
    return report


def run_scheduled(settings: Settings | None = None, *, sample: float = 1.0, due_days: float = 90.0) -> IntegrityReport:
    """For a scheduler: open the runtime the settings name, check what is due, log it, close."""
    from archive.runtime import open_runtime
    from archive.settings import get_settings

    rt = open_runtime(settings or get_settings())
    try:
        return check_and_log(rt, CheckOptions(sample=sample, due_days=due_days))
    finally:
        rt.close()

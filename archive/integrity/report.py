"""What a run of the four-property checks found: failures, counts per check and per property.

The JSON form (``IntegrityReport.to_json``) is the contract of ``archive integrity check --json``:
fields may be added, never renamed.  Failure codes are stable; ``detail`` is for people (Chinese).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Property = Literal["authenticity", "integrity", "usability", "security"]
PROPERTIES: tuple[Property, ...] = ("authenticity", "integrity", "usability", "security")
PROPERTY_LABELS: dict[Property, str] = {
    "authenticity": "真实性",
    "integrity": "完整性",
    "usability": "可用性",
    "security": "安全性",
}


@dataclass(frozen=True)
class Failure:
    """One thing that failed one check: an object (by key) or a dossier's records (key is None)."""

    property: Property
    check: str
    code: str
    detail: str
    key: str | None = None
    dossiers: tuple[str, ...] = ()
    page: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "property": self.property,
            "check": self.check,
            "code": self.code,
            "key": self.key,
            "dossiers": list(self.dossiers),
            "page": self.page,
            "detail": self.detail,
        }

    def where(self) -> str:
        """The failing object and dossier(s), for one line of text."""
        parts = []
        if self.key:
            parts.append(f"对象 {self.key}")
        if self.dossiers:
            parts.append("案卷 " + "、".join(self.dossiers))
        if self.page is not None:
            parts.append(f"第 {self.page} 页")
        return "，".join(parts) or "—"


@dataclass
class Findings:
    """What one check function returns: how many items it examined, skipped, and what failed.

    The check sets ``property``/``check`` on nothing itself: ``fail`` records the code, the detail
    and where; the runner stamps the check's property and name on each failure.
    """

    checked: int = 0
    skipped: int = 0
    failures: list[tuple[str, str, str | None, tuple[str, ...], int | None]] = field(default_factory=list)

    def fail(
        self, code: str, detail: str, *, key: str | None = None, dossiers: Iterable[str] = (), page: int | None = None
    ) -> None:
        self.failures.append((code, detail, key, tuple(dossiers), page))


@dataclass
class CheckResult:
    property: Property
    check: str
    label: str
    checked: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)

    def add(self, findings: Findings) -> list[Failure]:
        """Merge one chunk's findings; returns the new failures."""
        self.checked += findings.checked
        self.skipped += findings.skipped
        new = [
            Failure(self.property, self.check, code, detail, key, dossiers, page)
            for code, detail, key, dossiers, page in findings.failures
        ]
        self.failures.extend(new)
        return new

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "checked": self.checked, "failed": len(self.failures), "skipped": self.skipped}


@dataclass
class IntegrityReport:
    started_at: datetime
    finished_at: datetime
    sample: float
    due_days: float
    dossiers: int  # dossiers selected (after sampling)
    dossiers_total: int
    objects: int  # objects those dossiers reference
    objects_read: int  # objects whose bytes were read (the due ones)
    bytes_verified: int
    store: str
    checks: list[CheckResult]

    @property
    def failures(self) -> list[Failure]:
        return [f for result in self.checks for f in result.failures]

    @property
    def ok(self) -> bool:
        return not any(result.failures for result in self.checks)

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def by_property(self) -> dict[Property, dict[str, Any]]:
        out: dict[Property, dict[str, Any]] = {}
        for prop in PROPERTIES:
            mine = [r for r in self.checks if r.property == prop]
            out[prop] = {
                "label": PROPERTY_LABELS[prop],
                "checked": sum(r.checked for r in mine),
                "failed": sum(len(r.failures) for r in mine),
                "skipped": sum(r.skipped for r in mine),
                "checks": {r.check: r.to_json() for r in mine},
            }
        return out

    def failing_keys(self) -> list[str]:
        return sorted({f.key for f in self.failures if f.key})

    def failing_dossiers(self) -> list[str]:
        return sorted({d for f in self.failures for d in f.dossiers})

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "sample": self.sample,
            "due_days": self.due_days,
            "store": self.store,
            "dossiers": self.dossiers,
            "dossiers_total": self.dossiers_total,
            "objects": self.objects,
            "objects_read": self.objects_read,
            "bytes_verified": self.bytes_verified,
            "properties": self.by_property(),
            "failures": [f.to_json() for f in self.failures],
        }

    def audit_detail(self, limit: int = 50) -> dict[str, Any]:
        """The access-log entry's detail: counts, and the failing keys (at most ``limit``)."""
        keys = self.failing_keys()
        return {
            "ok": self.ok,
            "sample": self.sample,
            "due_days": self.due_days,
            "dossiers": self.dossiers,
            "objects": self.objects,
            "objects_read": self.objects_read,
            "bytes_verified": self.bytes_verified,
            "failures": len(self.failures),
            "properties": {p: {"checked": v["checked"], "failed": v["failed"]} for p, v in self.by_property().items()},
            "codes": sorted({f.code for f in self.failures}),
            "failing_keys": keys[:limit],
            "failing_keys_total": len(keys),
        }

    def text_lines(self) -> list[str]:
        """The report for people: a summary, one line per property and check, every failure."""
        share = f"抽检 {self.sample:.0%} " if self.sample < 1 else "全部"
        due = f"超过 {self.due_days:g} 天未核验或上次未通过" if self.due_days > 0 else "全部"
        lines = [
            f"四性检测（DA/T 70-2018）：{share}案卷 {self.dossiers}/{self.dossiers_total} 个，"
            f"对象 {self.objects} 个，读取核验 {self.objects_read} 个（{due}，"
            f"{self.bytes_verified / 1e6:.1f} MB），存储：{self.store}，用时 {self.seconds:.1f} 秒"
        ]
        for prop, summary in self.by_property().items():
            lines.append(
                f"{summary['label']}（{prop}）：检查 {summary['checked']} 项，不合格 {summary['failed']} 项"
                + (f"，跳过 {summary['skipped']} 项" if summary["skipped"] else "")
            )
            for result in (r for r in self.checks if r.property == prop):
                lines.append(f"  {result.label}（{result.check}）：{result.checked} 项，不合格 {len(result.failures)}")
                for failure in result.failures:
                    lines.append(f"    [{failure.code}] {failure.where()}：{failure.detail}")
        if self.ok:
            lines.append("结论：合格。")
        else:
            lines.append(
                f"结论：不合格，共 {len(self.failures)} 项，涉及对象 {len(self.failing_keys())} 个、"
                f"案卷 {len(self.failing_dossiers())} 个。"
            )
        return lines

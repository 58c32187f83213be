"""Editing the office's business-type taxonomy: which file is in use, checking an edited text,
and saving it without losing the previous version or orphaning data.

The taxonomy in use is ``settings.taxonomy_file`` when set, else ``<home>/taxonomy.yaml`` when an
administrator has saved one, else the one shipped with the package.  A save:

- parses the text with ``archive.taxonomy`` (an invalid text is refused with the line, nothing written);
- refuses to drop, rename or re-code a business type that data still uses: dossiers
  (``Dossier.business_type`` holds the name), confirmed training examples, or the labels the active
  classifier predicts (ingest looks every predicted label up in the taxonomy);
- keeps the text it replaces as a timestamped copy in ``taxonomy-history/`` next to the file;
- replaces the file atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.errors import Invalid
from archive.records.models import Dossier, TrainingExample
from archive.settings import Settings
from archive.taxonomy import Taxonomy, parse_taxonomy

LOCAL_NAME = "taxonomy.yaml"
HISTORY_DIR = "taxonomy-history"
MAX_TEXT = 512 * 1024  # characters
_SAVING = threading.Lock()
_QUOTED = re.compile(r"“([^”]+)”")


def taxonomy_path(settings: Settings) -> Path | None:
    """The file the taxonomy is read from; None: the one shipped with the package."""
    if settings.taxonomy_file is not None:
        return settings.taxonomy_file
    local = settings.home / LOCAL_NAME
    return local if local.is_file() else None


def target_path(settings: Settings) -> Path:
    """Where a save writes: the configured file, else ``<home>/taxonomy.yaml``."""
    return settings.taxonomy_file or settings.home / LOCAL_NAME


def history_dir(settings: Settings) -> Path:
    return target_path(settings).parent / HISTORY_DIR


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Current:
    text: str
    path: Path | None  # None: the built-in taxonomy
    sha256: str


def builtin_text() -> str:
    return resources.files("archive").joinpath("taxonomy.yaml").read_text(encoding="utf-8")


def current(settings: Settings) -> Current:
    path = taxonomy_path(settings)
    if path is not None and path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        path, text = None, builtin_text()
    return Current(text=text, path=path, sha256=sha256_text(text))


def _types_lines(text: str) -> list[int]:
    """The 1-based line of each entry of ``types`` (empty when the shape is not the expected one)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "types" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _line_of(text: str, data: Any, message: str) -> int | None:
    """The line of the entry a validation message names (“名称” or “第 N 项”): for a duplicate, the later one."""
    found = _QUOTED.search(message)
    lines = _types_lines(text)
    if found is None or not lines or not isinstance(data, dict) or not isinstance(data.get("types"), list):
        return None
    label = found.group(1)
    numbered = re.fullmatch(r"第 (\d+) 项", label)
    if numbered:
        index = int(numbered.group(1)) - 1
        return lines[index] if 0 <= index < len(lines) else None
    matches = [
        i for i, e in enumerate(data["types"]) if isinstance(e, dict) and str(e.get("name", "")).strip() == label
    ]
    return lines[matches[-1]] if matches and matches[-1] < len(lines) else None


def parse_text(text: str) -> Taxonomy:
    """The taxonomy of an edited text; ``Invalid("taxonomy_invalid")`` naming the line when unfit."""
    if not text.strip():
        raise Invalid("taxonomy_invalid", "分类表内容为空")
    if len(text) > MAX_TEXT:
        raise Invalid("taxonomy_invalid", f"分类表内容过长（超过 {MAX_TEXT // 1024} K 字符）")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark is not None else "某处"
        problem = getattr(exc, "problem", None) or str(exc)
        raise Invalid("taxonomy_invalid", f"YAML 格式错误（{where}）：{problem}") from exc
    try:
        return parse_taxonomy(data)
    except ValueError as exc:
        line = _line_of(text, data, str(exc))
        prefix = f"第 {line} 行：" if line else ""
        raise Invalid("taxonomy_invalid", f"分类表无效：{prefix}{exc}") from exc


@dataclass(frozen=True)
class Usage:
    """What refers to business types by name."""

    dossiers: dict[str, int]
    training: dict[str, int]
    model: frozenset[str]

    def used(self, name: str) -> bool:
        return name in self.dossiers or name in self.training or name in self.model

    def describe(self, name: str) -> str:
        parts = []
        if name in self.dossiers:
            parts.append(f"{self.dossiers[name]} 个案卷")
        if name in self.training:
            parts.append(f"{self.training[name]} 条训练样本")
        if name in self.model:
            parts.append("当前分类模型")
        return "、".join(parts)


def dossier_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Dossier.business_type, func.count())
        .where(Dossier.business_type.is_not(None))
        .group_by(Dossier.business_type)
    )
    return {name: count for name, count in rows}


def usage(session: Session, model_labels: Iterable[str] = ()) -> Usage:
    training = session.execute(
        select(TrainingExample.business_type, func.count()).group_by(TrainingExample.business_type)
    )
    return Usage(
        dossiers=dossier_counts(session),
        training={name: count for name, count in training},
        model=frozenset(str(label) for label in model_labels),
    )


def check_kept(old: Taxonomy | None, new: Taxonomy, used: Usage) -> None:
    """Refuse an edit that drops, renames or re-codes a business type still in use.

    ``old`` None (the file in use no longer parses): every name in use must be in ``new``."""
    problems: list[str] = []
    if old is None:
        names = sorted({*used.dossiers, *used.training, *used.model})
        problems = [f"“{n}”不能删除（仍被 {used.describe(n)} 使用）" for n in names if n not in new]
    new_by_code = {t.code: t for t in (*new.types, new.unclassified)}
    for kind in (*old.types, old.unclassified) if old is not None else ():
        if not used.used(kind.name):
            continue
        if kind.name not in new:
            successor = new_by_code.get(kind.code)
            change = f"改名为“{successor.name}”" if successor else "删除"
            problems.append(f"“{kind.name}”不能{change}（仍被 {used.describe(kind.name)} 使用）")
            continue
        after = new.by_name(kind.name)
        if (after.code, after.short) != (kind.code, kind.short):
            problems.append(
                f"“{kind.name}”的代码不能由 {kind.code}/{kind.short} 改为 {after.code}/{after.short}"
                f"（档号与已归档案卷使用原代码；仍被 {used.describe(kind.name)} 使用）"
            )
    if problems:
        raise Invalid(
            "taxonomy_type_in_use",
            "以下业务类型仍在使用，修改未保存："
            + "；".join(problems)
            + "。如确需调整，请先重新分类相关案卷并重新训练分类模型。",
        )


def history(settings: Settings, limit: int = 20) -> list[Path]:
    """The kept previous versions, newest first."""
    folder = history_dir(settings)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), reverse=True)[:limit]


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if hasattr(os, "O_DIRECTORY"):  # the rename itself survives a crash
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _keep_previous(settings: Settings, previous: Current) -> Path:
    target = target_path(settings)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    origin = "" if previous.path is not None else "-builtin"
    copy = history_dir(settings) / f"{target.stem}-{stamp}{origin}{target.suffix or '.yaml'}"
    _write_atomically(copy, previous.text.encode("utf-8"))
    return copy


def _parsed_or_none(text: str) -> Taxonomy | None:
    try:
        return parse_text(text)
    except Invalid:
        return None


@dataclass(frozen=True)
class Saved:
    taxonomy: Taxonomy
    path: Path
    sha256: str
    previous_sha256: str
    previous_copy: Path


def save_taxonomy(
    session: Session,
    settings: Settings,
    text: str,
    *,
    base_sha256: str | None = None,
    model_labels: Iterable[str] = (),
) -> Saved:
    """Check ``text`` and make it the taxonomy in use; the replaced text is kept in the history.

    ``base_sha256``: the version the editor started from; a save over a version changed since is
    refused (two administrators editing at once)."""
    taxonomy = parse_text(text)
    with _SAVING:
        before = current(settings)
        if base_sha256 and base_sha256 != before.sha256:
            raise Invalid("taxonomy_changed", "分类表在您编辑期间已被修改，请刷新页面后在最新版本上重新编辑")
        check_kept(_parsed_or_none(before.text), taxonomy, usage(session, model_labels))
        copy = _keep_previous(settings, before)
        target = target_path(settings)
        _write_atomically(target, text.encode("utf-8"))
    return Saved(
        taxonomy=taxonomy, path=target, sha256=sha256_text(text), previous_sha256=before.sha256, previous_copy=copy
    )

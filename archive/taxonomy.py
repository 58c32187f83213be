"""The business-type taxonomy (业务类型分类表) of social-insurance dossiers.

The taxonomy is a YAML file shipped with the package (``archive/taxonomy.yaml``) that an office may
replace with its own.  Retention periods follow 《社会保险业务档案管理规定(试行)》: 永久, or 定期
10/30/50/100 years counted from 1 January of the year after the file is formed.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

UNCLASSIFIED = "未分类"
PERMANENT = "永久"
RETENTIONS: tuple[str, ...] = ("永久", "100年", "50年", "30年", "10年")
INSURANCE_LINES: tuple[str, ...] = ("养老", "医疗", "失业", "工伤", "生育", "综合")
KEY_FIELDS: tuple[str, ...] = ("person_name", "id_number", "unit_name", "uscc", "business_number", "dates", "amounts")

_CODE = re.compile(r"[A-Z][A-Z0-9_]*")
_SHORT = re.compile(r"[A-Z]{4}")


@dataclass(frozen=True)
class BusinessType:
    code: str
    short: str
    name: str
    insurance_line: str
    category: str
    retention: str
    form_titles: tuple[str, ...]
    keywords: tuple[str, ...]
    key_fields: tuple[str, ...]

    @property
    def permanent(self) -> bool:
        return self.retention == PERMANENT

    @property
    def retention_years(self) -> int | None:
        """The 定期 period in years, or None for 永久."""
        return None if self.permanent else int(self.retention.removesuffix("年"))


class Taxonomy:
    """The business types of one office, in file order; 未分类 is kept apart."""

    def __init__(self, types: tuple[BusinessType, ...], unclassified: BusinessType, meta: dict[str, Any]) -> None:
        self.types = types
        self.unclassified = unclassified
        self.meta = meta
        self._by_name = {t.name: t for t in (*types, unclassified)}

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the business types, 未分类 excluded."""
        return tuple(t.name for t in self.types)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label a classifier may give: the names, then 未分类."""
        return (*self.names, UNCLASSIFIED)

    def by_name(self, name: str) -> BusinessType:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"业务类型分类表中没有“{name}”") from None

    def by_code(self, code: str) -> BusinessType:
        for t in (*self.types, self.unclassified):
            if code in (t.code, t.short):
                return t
        raise KeyError(f"业务类型分类表中没有代码“{code}”")

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[BusinessType]:
        return iter(self.types)

    def __len__(self) -> int:
        return len(self.types)


def _strings(entry: dict[str, Any], key: str, label: str) -> tuple[str, ...]:
    value = entry.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"业务类型“{label}”的 {key} 必须是非空字符串的列表")
    return tuple(v.strip() for v in value)


def _parse_entry(entry: Any, index: int) -> BusinessType:
    if not isinstance(entry, dict):
        raise ValueError(f"业务类型分类表第 {index + 1} 项不是键值结构")
    name = entry.get("name")
    label = name if isinstance(name, str) and name else f"第 {index + 1} 项"
    for key in ("code", "short", "name", "insurance_line", "category", "retention"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ValueError(f"业务类型“{label}”缺少 {key}")
    code, short = entry["code"].strip(), entry["short"].strip()
    if not _CODE.fullmatch(code):
        raise ValueError(f"业务类型“{label}”的代码“{code}”须为大写英文字母、数字或下划线")
    if not _SHORT.fullmatch(short):
        raise ValueError(f"业务类型“{label}”的简码“{short}”须为4个大写英文字母")
    retention = str(entry["retention"]).strip()
    if retention not in RETENTIONS:
        raise ValueError(f"业务类型“{label}”的保管期限“{retention}”无效，应为 {'、'.join(RETENTIONS)} 之一")
    line = entry["insurance_line"].strip()
    if line not in INSURANCE_LINES:
        raise ValueError(f"业务类型“{label}”的险种“{line}”无效，应为 {'、'.join(INSURANCE_LINES)} 之一")
    key_fields = _strings(entry, "key_fields", label)
    unknown = [f for f in key_fields if f not in KEY_FIELDS]
    if unknown:
        raise ValueError(f"业务类型“{label}”的 key_fields 含未知字段：{'、'.join(unknown)}")
    return BusinessType(
        code=code,
        short=short,
        name=name.strip(),
        insurance_line=line,
        category=entry["category"].strip(),
        retention=retention,
        form_titles=_strings(entry, "form_titles", label),
        keywords=_strings(entry, "keywords", label),
        key_fields=key_fields,
    )


def parse_taxonomy(data: Any) -> Taxonomy:
    """A taxonomy from already-parsed YAML; raises ValueError naming the bad entry."""
    if not isinstance(data, dict) or not isinstance(data.get("types"), list) or not data["types"]:
        raise ValueError("业务类型分类表须包含非空的 types 列表")
    parsed = [_parse_entry(entry, i) for i, entry in enumerate(data["types"])]
    seen_names: set[str] = set()
    seen_codes: dict[str, str] = {}
    for t in parsed:
        if t.name in seen_names:
            raise ValueError(f"业务类型名称“{t.name}”重复")
        seen_names.add(t.name)
        for code in (t.code, t.short):
            if code in seen_codes:
                raise ValueError(f"业务类型“{t.name}”的代码“{code}”与“{seen_codes[code]}”重复")
            seen_codes[code] = t.name
        if t.name != UNCLASSIFIED and not t.form_titles:
            raise ValueError(f"业务类型“{t.name}”缺少 form_titles（典型表单名称）")
    types = tuple(t for t in parsed if t.name != UNCLASSIFIED)
    if not types:
        raise ValueError("业务类型分类表中没有业务类型")
    unclassified = next(
        (t for t in parsed if t.name == UNCLASSIFIED),
        BusinessType("UNCLASSIFIED", "UNCL", UNCLASSIFIED, "综合", "待鉴定", PERMANENT, (), (), ()),
    )
    meta = {k: v for k, v in data.items() if k != "types"}
    return Taxonomy(types, unclassified, meta)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """The taxonomy at ``path``, or the one shipped with the package."""
    if path is None:
        text = resources.files("archive").joinpath("taxonomy.yaml").read_text(encoding="utf-8")
        source = "archive/taxonomy.yaml"
    else:
        text = Path(path).read_text(encoding="utf-8")
        source = str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"业务类型分类表 {source} 不是有效的 YAML：{exc}") from exc
    return parse_taxonomy(data)


def retain_until(retention: str, formed: datetime.date) -> datetime.date | None:
    """The first day a file formed on ``formed`` may be appraised for destruction; None for 永久.

    定期 periods count from 1 January of the year after the file is formed, so a 10年 file formed
    any day of 2020 is kept through 2030 and its period ends on 2031-01-01.
    """
    if retention == PERMANENT:
        return None
    if retention not in RETENTIONS:
        raise ValueError(f"保管期限“{retention}”无效，应为 {'、'.join(RETENTIONS)} 之一")
    years = int(retention.removesuffix("年"))
    return datetime.date(formed.year + 1 + years, 1, 1)

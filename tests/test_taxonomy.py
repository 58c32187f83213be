"""The business-type taxonomy: the shipped YAML, its validation and the retention arithmetic."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from archive.taxonomy import RETENTIONS, UNCLASSIFIED, load_taxonomy, retain_until

TYPES = (
    "单位参保登记",
    "职工参保登记",
    "用工备案",
    "退工备案",
    "缴费基数核定",
    "失业保险金申领",
    "养老保险待遇核定",
    "养老保险关系转移接续",
    "工伤认定",
    "医疗费用报销",
    "生育保险待遇申领",
    "社会保障卡申领",
)
SHIPPED = Path(__file__).resolve().parents[1] / "archive" / "taxonomy.yaml"


def test_shipped_taxonomy_loads_with_every_type() -> None:
    tax = load_taxonomy()
    assert set(tax.names) == set(TYPES)
    assert len(tax.types) == len(TYPES)
    assert UNCLASSIFIED not in tax.names
    assert tax.labels == (*tax.names, UNCLASSIFIED)
    assert tax.by_name(UNCLASSIFIED).name == UNCLASSIFIED
    for t in tax.types:
        assert t.retention in RETENTIONS
        assert t.form_titles and t.keywords and t.key_fields
        assert t.code.isascii() and t.code.isupper()
        assert len(t.short) == 4 and t.short.isalpha() and t.short.isupper()
        assert t.insurance_line in ("养老", "医疗", "失业", "工伤", "生育", "综合")
        assert isinstance(t.form_titles, tuple)


def test_explicit_path_gives_the_same_taxonomy() -> None:
    assert load_taxonomy(SHIPPED).names == load_taxonomy().names


@pytest.mark.parametrize(
    ("name", "retention"),
    [
        ("单位参保登记", "永久"),  # 参保单位登记
        ("职工参保登记", "100年"),  # 参保人员登记
        ("社会保障卡申领", "50年"),  # 社会保险卡(证、手册)
        ("工伤认定", "50年"),
        ("失业保险金申领", "10年"),
        ("生育保险待遇申领", "10年"),
    ],
)
def test_retention_follows_the_regulation(name: str, retention: str) -> None:
    assert load_taxonomy().by_name(name).retention == retention


def test_unknown_name_raises_key_error_in_chinese() -> None:
    with pytest.raises(KeyError, match="没有"):
        load_taxonomy().by_name("不存在的业务")


@pytest.mark.parametrize(
    ("retention", "formed", "expected"),
    [
        ("永久", datetime.date(2020, 6, 1), None),
        ("10年", datetime.date(2020, 6, 1), datetime.date(2031, 1, 1)),
        ("10年", datetime.date(2020, 1, 1), datetime.date(2031, 1, 1)),
        ("10年", datetime.date(2020, 12, 31), datetime.date(2031, 1, 1)),
        ("30年", datetime.date(2009, 9, 1), datetime.date(2040, 1, 1)),
        ("50年", datetime.date(2015, 3, 15), datetime.date(2066, 1, 1)),
        ("100年", datetime.date(2024, 2, 29), datetime.date(2125, 1, 1)),
    ],
)
def test_retain_until(retention: str, formed: datetime.date, expected: datetime.date | None) -> None:
    assert retain_until(retention, formed) == expected


def test_retain_until_rejects_unknown_period() -> None:
    with pytest.raises(ValueError, match="保管期限"):
        retain_until("20年", datetime.date(2020, 1, 1))


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _shipped_data() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def test_duplicate_name_is_rejected(tmp_path: Path) -> None:
    data = _shipped_data()
    data["types"][1]["name"] = data["types"][0]["name"]
    with pytest.raises(ValueError, match="单位参保登记"):
        load_taxonomy(_write(tmp_path, data))


def test_duplicate_code_is_rejected(tmp_path: Path) -> None:
    data = _shipped_data()
    data["types"][2]["code"] = data["types"][0]["code"]
    with pytest.raises(ValueError, match="重复"):
        load_taxonomy(_write(tmp_path, data))


def test_bad_retention_is_rejected(tmp_path: Path) -> None:
    data = _shipped_data()
    data["types"][3]["retention"] = "25年"
    with pytest.raises(ValueError, match="退工备案.*25年"):
        load_taxonomy(_write(tmp_path, data))


def test_missing_form_titles_are_rejected(tmp_path: Path) -> None:
    data = _shipped_data()
    data["types"][4]["form_titles"] = []
    with pytest.raises(ValueError, match="缴费基数核定"):
        load_taxonomy(_write(tmp_path, data))


def test_broken_yaml_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text("types: [\n", encoding="utf-8")
    with pytest.raises(ValueError, match="YAML"):
        load_taxonomy(path)


def test_an_office_may_add_a_type(tmp_path: Path) -> None:
    data = _shipped_data()
    data["types"].insert(
        -1,
        {
            "code": "INJURY_DISABILITY",
            "short": "DISA",
            "name": "劳动能力鉴定",
            "insurance_line": "工伤",
            "category": "待遇类",
            "retention": "50年",
            "form_titles": ["劳动能力鉴定申请表"],
            "keywords": ["伤残等级"],
            "key_fields": ["person_name", "id_number"],
        },
    )
    tax = load_taxonomy(_write(tmp_path, data))
    assert tax.names[-1] == "劳动能力鉴定"
    assert tax.by_name("劳动能力鉴定").retention_years == 50

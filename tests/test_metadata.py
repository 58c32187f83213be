"""The minimum description (GB/T 18894-2016) that ingest, approval and the integrity check share."""

from __future__ import annotations

from datetime import date

from archive import metadata as describe
from archive.metadata import Description
from archive.taxonomy import load_taxonomy

FULL = Description(
    title="田志职工参保登记",
    archive_number="510107-ENRO-2019-永久-4893",
    business_number=None,
    responsible=True,
    dated=date(2019, 3, 26),
    business_type="职工参保登记",
    retention="永久",
)


def test_a_complete_description_lacks_nothing() -> None:
    assert describe.missing(FULL) == []
    assert describe.missing(Description(**{**FULL.__dict__, "archive_number": None, "business_number": "E1"})) == []


def test_every_gap_is_named_in_the_standards_order() -> None:
    empty = Description(" ", "", " ", False, None, "未分类", "15年")
    assert describe.missing(empty) == [
        describe.TITLE,
        describe.NUMBER,
        describe.RESPONSIBLE,
        describe.DATE,
        describe.SUBJECT,
        describe.RETENTION,
    ]
    assert "题名、档号或文件编号" in describe.problem_detail(describe.missing(empty))


def test_composed_title_needs_someone_and_a_business() -> None:
    assert describe.composed_title("田志", "成都金诚化工有限公司", "职工参保登记") == "田志职工参保登记"
    assert describe.composed_title(None, "成都金诚化工有限公司", "退工备案") == "成都金诚化工有限公司退工备案"
    assert describe.composed_title(" ", None, "退工备案") is None
    assert describe.composed_title("田志", None, "未分类") is None
    assert describe.composed_title("田志", None, None) is None
    # A unit's business is titled after the unit, when one was read.
    assert describe.composed_title("黄姬", "淄博金桥船务代理有限公司", "单位参保登记", unit_first=True) == (
        "淄博金桥船务代理有限公司单位参保登记"
    )
    assert describe.composed_title("黄姬", None, "单位参保登记", unit_first=True) == "黄姬单位参保登记"


def test_the_unit_leads_where_the_taxonomy_names_it_first() -> None:
    taxonomy = load_taxonomy(None)
    assert describe.unit_leads(taxonomy.by_name("单位参保登记").key_fields)
    assert not describe.unit_leads(taxonomy.by_name("职工参保登记").key_fields)
    assert not describe.unit_leads(())


def test_the_number_is_not_missing_before_filing() -> None:
    unnumbered = Description(**{**FULL.__dict__, "archive_number": None, "business_number": None})
    assert describe.missing(unnumbered) == [describe.NUMBER]
    assert describe.missing_before_filing(unnumbered) == []
    untitled = Description(**{**unnumbered.__dict__, "title": None})
    assert describe.missing_before_filing(untitled) == [describe.TITLE]

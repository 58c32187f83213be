"""Case-record extraction: label–value layouts, cover and 卷内目录 parsing, catalogue_mismatch."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from archive.extract import CaseRecord, CatalogueEntry, check_catalogue, extract_record
from archive.extract.catalogue import find_catalogue_pages, find_cover, parse_catalogue
from archive.extract.fields import split_labels
from archive.identifiers import id_check_digit, is_valid_id_number, is_valid_uscc, uscc_check_char
from ocr.engine import OcrLine, PageOcr

SYNTHETIC = Path(__file__).resolve().parent / "fixtures" / "synthetic"

ID = "11010119900307" + "123"
ID = ID + id_check_digit(ID)
OTHER_ID = "44010619851213418"
OTHER_ID = OTHER_ID + id_check_digit(OTHER_ID)
BAD_ID = ID[:17] + ("0" if ID[17] != "0" else "1")
USCC = "91110105MA01ABCD2"
USCC = USCC + uscc_check_char(USCC)
CHAR_W = 32  # pixels per character in the hand-built layouts
LINE_H = 40


def frag(text: str, x: float, y: float, conf: float = 0.99, width: float | None = None) -> OcrLine:
    w = width if width is not None else CHAR_W * len(text)
    return OcrLine(text, ((x, y), (x + w, y), (x + w, y + LINE_H), (x, y + LINE_H)), conf)


def page(lines: list[OcrLine], width: int = 1654, height: int = 2338) -> PageOcr:
    rows: list[list[OcrLine]] = []
    for ln in sorted(lines, key=lambda ln: (ln.top, ln.left)):
        if rows and abs(rows[-1][0].top - ln.top) < LINE_H / 2:
            rows[-1].append(ln)
        else:
            rows.append([ln])
    text_lines = [" ".join(ln.text for ln in sorted(r, key=lambda ln: ln.left)) for r in rows]
    return PageOcr(lines=lines, rotation=0, width=width, height=height, engine="test", text_lines=text_lines)


def text_page(rows: list[str], fused: bool = False) -> PageOcr:
    """A page from text lines: cells split on double spaces, each cell one fragment (``fused``) or
    a label fragment and a value fragment to its right."""
    lines = []
    for i, row in enumerate(rows):
        x, y = 120.0, 150.0 + 80 * i
        for cell in row.split("  "):
            cell = cell.strip()
            if not cell:
                continue
            parts = [cell] if fused or " " not in cell else cell.split(" ", 1)
            for part in parts:
                lines.append(frag(part, x, y))
                x += CHAR_W * len(part) + 60
            x += 100
    return page(lines)


def test_codes_used_by_the_tests_are_what_they_claim() -> None:
    assert is_valid_id_number(ID) and is_valid_id_number(OTHER_ID) and not is_valid_id_number(BAD_ID)
    assert is_valid_uscc(USCC)


# ---- label–value layouts ---------------------------------------------------------------------


def test_value_right_of_label_on_the_same_line() -> None:
    p = page(
        [
            frag("职工社会保险参保登记表", 500, 170),
            frag("姓名", 160, 360),
            frag("张三", 500, 362),
            frag("公民身份号码", 840, 365),
            frag(ID, 1170, 360, width=330),
            frag("单位名称", 160, 450),
            frag("广州天成餐饮管理有限公司", 500, 452),
            frag("统一社会信用代码", 840, 455),
            frag(USCC, 1170, 452, width=330),
        ]
    )
    r = extract_record([p])
    assert (r.person_name, r.id_number, r.unit_name, r.uscc) == ("张三", ID, "广州天成餐饮管理有限公司", USCC)


def test_value_below_label_in_a_table() -> None:
    p = page(
        [
            frag("姓名", 150, 300),
            frag("公民身份号码", 400, 300),
            frag("用人单位", 900, 300),
            frag("李四", 150, 360),
            frag(ID, 400, 360, width=330),
            frag("北京瑞祥机械制造有限公司", 900, 360),
        ]
    )
    r = extract_record([p])
    assert (r.person_name, r.id_number, r.unit_name) == ("李四", ID, "北京瑞祥机械制造有限公司")


def test_label_and_value_fused_in_one_fragment() -> None:
    p = page(
        [
            frag("居民身份证复印件", 580, 190),
            frag("姓名王五性别男", 350, 380),
            frag("出生1990年03月07日", 350, 490),
            frag(f"公民身份号码{ID}", 350, 600),
        ]
    )
    r = extract_record([p])
    assert (r.person_name, r.id_number) == ("王五", ID)
    assert "1990-03-07" in r.dates


def test_several_pairs_fused_and_a_value_split_from_its_label() -> None:
    p = page(
        [
            frag("单位名称淄博金桥船务代理有限公司统一社会信用代码", 120, 300),
            frag(USCC, 1150, 300, width=330),
            frag("经办人：蒋萍审核人：付真育2017年12月26日", 160, 2050),
        ]
    )
    r = extract_record([p])
    assert (r.unit_name, r.uscc) == ("淄博金桥船务代理有限公司", USCC)
    assert r.formed_date == "2017-12-26"


def test_split_labels() -> None:
    assert split_labels("姓名黄姬性别女") == ("", [("姓名", "黄姬"), ("性别", "女")])
    assert split_labels("档号:320102-TRAN-2008-永久-4506") == ("", [("档号", "320102-TRAN-2008-永久-4506")])
    assert split_labels("南京金桥科技发展有限公司") == ("南京金桥科技发展有限公司", [])


def test_valid_labelled_id_preferred_over_others() -> None:
    p = page(
        [
            frag(f"附件：参考号码{OTHER_ID}", 150, 200),  # an ID that is not next to an ID label
            frag("姓名", 150, 300),
            frag("赵六", 400, 300),
            frag("身份证号码", 700, 300),
            frag(BAD_ID, 1000, 300, width=330),
        ]
    )
    second = page([frag("公民身份号码", 150, 300), frag(ID, 500, 300, width=330)])
    assert extract_record([p, second]).id_number == ID
    # Without a valid labelled one, the labelled invalid ID is the person's (and is flagged elsewhere).
    assert extract_record([p]).id_number == BAD_ID


def test_labels_inside_prose_yield_nothing() -> None:
    p = page(
        [
            frag("用人单位应当在解除或者终止劳动合同时出具解除或者终止劳动合同的证明，并在", 200, 200),
            frag("申请人对审核结果有异议的，可以自收到结果之日起六十日内申请行政复议。", 200, 300),
        ]
    )
    r = extract_record([p])
    assert (r.person_name, r.unit_name, r.id_number) == (None, None, None)


def test_low_confidence_noise_between_label_and_value_is_ignored() -> None:
    p = page([frag("姓名", 160, 430), frag("多", 465, 440, conf=0.05), frag("邹凡", 485, 435)])
    assert extract_record([p]).person_name == "邹凡"


def test_amounts_and_business_dates() -> None:
    p = page(
        [
            frag("工资总额（元）", 170, 520),
            frag("43,129,969", 500, 530),
            frag("缴费基数 (元)", 840, 535),
            frag("5266", 1180, 540),
            frag("核定日期", 170, 620),
            frag("2022年08月05日", 500, 625),
            frag("出生日期", 840, 620),
            frag("1965年08月15日", 1180, 625),
        ]
    )
    r = extract_record([p])
    assert r.amounts == [{"label": "工资总额(元)", "value": "43129969"}, {"label": "缴费基数(元)", "value": "5266"}]
    assert set(r.dates) == {"2022-08-05", "1965-08-15"}
    assert r.formed_date == "2022-08-05"  # a birth date is not a business date


# ---- cover and catalogue ----------------------------------------------------------------------

COVER = [
    "社会保险业务档案",
    "档号：320102-TRAN-2008-永久-4506",
    "案卷题名：史莲薇养老保险关系转移接续材料",
    "立卷单位：南京市社会保险事业管理中心",
    "起止日期：2008年07月04日至2008年08月03日",
    "保管期限：永久",
    "本卷共：3件6页",
]


def cover_page(declared: str = "本卷共：3件6页") -> PageOcr:
    lines = [*COVER[:-1], declared]
    return page([frag(t, 220 if i else 520, 300 + 110 * i) for i, t in enumerate(lines)])


def catalogue_page(rows: list[tuple[str, str, str]], fused: bool = False) -> PageOcr:
    lines = [frag("卷内目录", 700, 170), frag("序号", 150, 290), frag("题名", 300, 290), frag("页号", 1150, 290)]
    for i, (seq, title, pages) in enumerate(rows):
        y = 380 + 80 * i
        if fused:
            lines.append(frag(f"{seq}{title}{pages}", 150, y, width=1150 + 40 - 150))
        else:
            if seq:
                lines.append(frag(seq, 152, y + 5, width=20))
            lines.append(frag(title, 300, y))
            if pages:
                lines.append(frag(pages, 1150, y + 8, width=30 * len(pages)))
    return page(lines)


def form_page(title: str) -> PageOcr:
    return page(
        [
            frag(title, 420, 160),
            frag("姓名", 177, 343),
            frag("史莲薇", 519, 356),
            frag("公民身份号码", 855, 357),
            frag(ID, 1195, 372, width=320),
        ]
    )


ROWS = [
    ("1", "基本养老保险关系转移接续申请表", "3"),
    ("2", "基本养老保险参保缴费凭证", "4"),
    ("3", "转移接续联系函", "5-6"),
]


def dossier(rows=ROWS, declared: str = "本卷共：3件6页", fused: bool = False, docs: int = 4) -> list[PageOcr]:
    return [cover_page(declared), catalogue_page(rows, fused)] + [form_page(f"材料{i}") for i in range(docs)]


@pytest.mark.parametrize("fused", [False, True])
def test_cover_and_catalogue_are_read(fused: bool) -> None:
    pages = dossier(fused=fused)
    r = extract_record(pages)
    assert (r.cover_page, r.catalogue_page) == (1, 2)
    assert r.archive_number == "320102-TRAN-2008-永久-4506"
    assert r.title == "史莲薇养老保险关系转移接续材料"
    assert r.agency == "南京市社会保险事业管理中心"
    assert r.retention == "永久"
    assert (r.declared_items, r.declared_pages) == (3, 6)
    assert r.formed_date == "2008-08-03"
    assert r.catalogue == [
        CatalogueEntry(1, "基本养老保险关系转移接续申请表", 3, 3),
        CatalogueEntry(2, "基本养老保险参保缴费凭证", 4, 4),
        CatalogueEntry(3, "转移接续联系函", 5, 6),
    ]
    assert r.person_name == "史莲薇"  # the catalogue's titles are not label–value pairs
    assert check_catalogue(r, len(pages)) == []


def test_catalogue_row_fused_across_some_columns() -> None:
    p = page(
        [
            frag("卷内目录", 700, 170),
            frag("序号题名页号", 150, 290, width=1100),
            frag("1基本养老保险关系转移接续申请表", 150, 380),
            frag("3", 1150, 385, width=30),
            frag("2", 150, 460, width=20),
            frag("基本养老保险参保缴费凭证4", 300, 460, width=1180 - 300),
        ]
    )
    assert find_catalogue_pages([p]) == [1]
    assert parse_catalogue([p]) == [
        CatalogueEntry(1, "基本养老保险关系转移接续申请表", 3, 3),
        CatalogueEntry(2, "基本养老保险参保缴费凭证", 4, 4),
    ]


def test_missing_page_is_a_mismatch_naming_the_entry_and_the_count() -> None:
    pages = dossier(docs=3)  # the catalogue and cover say 6 pages, 5 were scanned
    problems = check_catalogue(extract_record(pages), len(pages))
    assert {p["code"] for p in problems} == {"catalogue_mismatch"}
    details = " ".join(p["detail"] for p in problems)
    assert "转移接续联系函" in details and "5-6" in details
    assert "本卷共3件6页" in details and "5页" in details


def test_declared_page_count_alone_differs() -> None:
    pages = dossier(declared="本卷共：3件7页")
    problems = check_catalogue(extract_record(pages), len(pages))
    assert len(problems) == 1 and "7页" in problems[0]["detail"]


@pytest.mark.parametrize(
    ("rows", "word"),
    [
        ([("1", "申请表", "3"), ("2", "缴费凭证", "4-5"), ("3", "联系函", "5-6")], "重叠"),
        ([("1", "申请表", "3"), ("2", "缴费凭证", "5"), ("3", "联系函", "6")], "未列入目录"),
        ([("1", "申请表", "3"), ("2", "缴费凭证", "5-6"), ("3", "联系函", "4")], "顺序颠倒"),
        ([("1", "申请表", "4"), ("2", "缴费凭证", "5"), ("3", "联系函", "6")], "第3-3页未列入目录"),
        ([("1", "申请表", "3"), ("2", "缴费凭证", "4"), ("3", "联系函", "5")], "第6-6页未列入目录"),
    ],
)
def test_ranges_that_overlap_leave_gaps_or_run_backwards(rows, word: str) -> None:
    pages = dossier(rows=rows)
    problems = check_catalogue(extract_record(pages), len(pages))
    assert problems and all(p["code"] == "catalogue_mismatch" for p in problems)
    assert any(word in p["detail"] for p in problems), problems


def test_unreadable_page_column_raises_no_alarm() -> None:
    rows = [
        ("1", "基本养老保险关系转移接续申请表", ""),
        ("2", "基本养老保险参保缴费凭证", "4"),
        ("", "转移接续联系函", ""),
    ]
    pages = dossier(rows=rows)
    r = extract_record(pages)
    assert [(e.start_page, e.end_page) for e in r.catalogue] == [(None, None), (4, 4), (None, None)]
    assert check_catalogue(r, len(pages)) == []


def test_garbled_low_confidence_page_number_is_not_trusted() -> None:
    cat = catalogue_page(ROWS[:2])
    cat.lines.append(frag("P", 150, 540, conf=0.47, width=20))
    cat.lines.append(frag("居民身份证复印件", 300, 540))
    cat.lines.append(frag("0", 1150, 545, conf=0.31, width=30))
    r = parse_catalogue([cat])
    assert r[-1] == CatalogueEntry(3, "居民身份证复印件", None, None)


def test_documents_only_numbering_is_accepted() -> None:
    rows = [("1", "申请表", "1"), ("2", "缴费凭证", "2"), ("3", "联系函", "3-4")]
    pages = dossier(rows=rows, declared="本卷共：3件4页")
    assert check_catalogue(extract_record(pages), len(pages)) == []


def test_loose_papers_have_no_catalogue_problem() -> None:
    pages = [form_page("基本养老保险关系转移接续申请表"), form_page("转移接续联系函")]
    r = extract_record(pages)
    assert (r.cover_page, r.catalogue_page, r.catalogue) == (None, None, [])
    assert check_catalogue(r, len(pages)) == []
    assert check_catalogue(CaseRecord(), 3) == []


def test_cover_is_found_by_its_marks() -> None:
    assert find_cover([form_page("申请表"), cover_page()]) == 2
    assert find_cover([form_page("申请表")]) is None


# ---- synthetic fixtures -------------------------------------------------------------------------


def synthetic_truths() -> list[Path]:
    return sorted(SYNTHETIC.glob("dossier-*.json"))


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("path", synthetic_truths(), ids=lambda p: p.stem)
def test_synthetic_fixture_records(path: Path, fused: bool) -> None:
    truth = json.loads(path.read_text(encoding="utf-8"))
    pages = [text_page(p["lines"], fused=fused) for p in truth["pages"]]
    r = extract_record(pages)
    assert r.person_name == truth["person"]["name"]
    assert r.id_number == truth["person"]["id_number"]
    assert r.unit_name == truth["unit"]["name"]
    assert r.uscc == truth["unit"]["uscc"]
    assert r.business_number == truth["business_number"]
    assert r.formed_date == truth["date"]
    assert check_catalogue(r, len(pages)) == []


def test_synthetic_amounts() -> None:
    truth = json.loads((SYNTHETIC / "dossier-001.json").read_text(encoding="utf-8"))
    r = extract_record([text_page(p["lines"]) for p in truth["pages"]])
    assert {"label": "缴费基数", "value": "4800.00"} in r.amounts


def test_extraction_is_fast() -> None:
    pages = dossier()
    extract_record(pages)
    t0 = time.perf_counter()
    for _ in range(20):
        check_catalogue(extract_record(pages), len(pages))
    assert (time.perf_counter() - t0) / 20 < 0.02

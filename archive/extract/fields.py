"""Label–value extraction of the case record from page OCR.

Chinese social-insurance forms are grids of label cells and value cells.  A value sits right of its
label on the same visual line (two- or four-column forms, ``姓名 | 张三 | 公民身份号码 | 4401…``) or
directly below it (tables whose first row holds the labels).  OCR may also fuse a label and its
value, or several label–value pairs, into one fragment (``姓名张三性别女``, ``公民身份号码440106…``),
so every fragment is first split on the known labels; a label left without a value is then
completed from the nearest fragment right of it on the same line, else the one below it.

Values are validated per field (a person name is 2–4 Chinese characters, an ID number has 18
characters, a unit name has no sentence punctuation …) so that labels that happen to occur in prose
(``用人单位应当在…``) yield nothing.  When several pages carry the same field the most frequent value
wins; for codes a valid one is preferred over an invalid one, and a labelled one over one found
anywhere on the page.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from archive.identifiers import find_identifiers, is_valid_id_number, is_valid_uscc
from ocr.engine import OcrLine, PageOcr

MIN_CONFIDENCE = 0.3  # fragments below this are OCR noise (speckles, seal strokes)

# canonical field -> label spellings.  Longer spellings win over shorter ones when splitting.
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "name": (
        "姓名",
        "参保人姓名",
        "参保人员姓名",
        "职工姓名",
        "申请人姓名",
        "被保险人姓名",
        "患者姓名",
        "退休人员姓名",
    ),
    "id_number": (
        "公民身份号码",
        "公民身份证号码",
        "身份证号码",
        "身份证号",
        "居民身份证号码",
        "社会保障号码",
        "证件号码",
    ),
    "unit_name": (
        "单位名称",
        "用人单位",
        "用人单位名称",
        "参保单位",
        "参保单位名称",
        "原工作单位",
        "工作单位",
        "单位全称",
        "名称",
    ),
    "uscc": ("统一社会信用代码", "社会信用代码", "信用代码"),
    "business_number": ("业务编号", "业务流水号", "受理编号", "受理号", "流水号", "业务号"),
    "archive_number": ("档号",),
    "title": ("案卷题名",),
    "agency": ("立卷单位", "经办机构"),
    "retention": ("保管期限",),
    "declared": ("本卷共",),
    "span": ("起止日期",),
    "signature": ("经办人", "审核人", "审批人", "复核人", "负责人", "填表人", "受理人"),
}

# Labels that carry no field of the record but must still split fused text and stop values.
OTHER_LABELS: tuple[str, ...] = (
    "性别",
    "出生",
    "民族",
    "住址",
    "户籍地址",
    "户籍性质",
    "单位地址",
    "法定代表人",
    "联系电话",
    "参保险种",
    "岗位",
    "解除原因",
    "档案所在地",
    "转出地",
    "转入地",
    "累计缴费月数",
    "累计缴费年限",
    "申领月数",
    "申报年度",
    "职工人数",
    "签发机关",
    "有效期限",
    "备注",
    "联系人",
    "邮政编码",
    "开户银行",
    "银行账号",
    "诊断",
    "伤害部位",
    "医院名称",
    # amounts; any label ending in (元) is recognised without being listed
    "缴费基数",
    "缴费工资",
    "工资总额",
    "月发放标准",
    "发放标准",
    "月领取标准",
    "领取标准",
    "月基本养老金",
    "基本养老金",
    "个人账户余额",
    "个人账户储存额",
    "医疗总费用",
    "统筹支付",
    "个人自付",
    "报销金额",
    "生育津贴",
    "金额",
    "合计金额",
)

# Date labels: <stem>日期 / <stem>时间.  Business dates (the dossier's own steps) decide formed_date.
BUSINESS_DATE_STEMS = (
    "申请",
    "受理",
    "审核",
    "审批",
    "经办",
    "登记",
    "备案",
    "核定",
    "认定",
    "办结",
    "办理",
    "签发",
    "填表",
    "填报",
    "申报",
    "签字",
    "报销",
    "结算",
    "参保",
    "变更",
    "转移",
    "申领",
    "复核",
    "批准",
)
OTHER_DATE_STEMS = (
    "出生",
    "参加工作",
    "合同起始",
    "合同终止",
    "合同开始",
    "起始",
    "终止",
    "解除",
    "失业",
    "入院",
    "出院",
    "就诊",
    "事故",
    "受伤",
    "分娩",
    "生育",
    "发放",
    "缴费",
    "开始",
    "生效",
    "退休",
    "入职",
    "离职",
    "退工",
    "领取",
    "到账",
)
AMOUNT_STEMS = ("金额", "总额", "余额", "基数", "标准", "费用", "合计", "工资", "待遇", "补助", "津贴", "支付")

_CJK = r"\u3400-\u9fff"
_DATE = re.compile(r"(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_NAME = re.compile(rf"^[{_CJK}]{{2,4}}$|^[{_CJK}]{{1,8}}·[{_CJK}]{{1,8}}$")
_ORG_SUFFIX = re.compile(
    r"(公司|厂|中心|局|院|所|店|社|会|部|行|校|学|站|处|馆|场|队|集团|委员会|办公室|政府|协会|分公司|门市)$"
)
_SPACE_BETWEEN = re.compile(r"(?<![0-9A-Za-z])\s+|\s+(?![0-9A-Za-z])")


def normalize(text: str) -> str:
    """NFKC (full-width digits, colons, brackets to ASCII) and spaces dropped except inside Latin runs."""
    text = unicodedata.normalize("NFKC", text).replace("—", "-").replace("－", "-").replace("–", "-")
    return _SPACE_BETWEEN.sub("", text.strip())


def _label_pattern() -> re.Pattern[str]:
    labels = {lab for labs in FIELD_LABELS.values() for lab in labs} | set(OTHER_LABELS)
    stems = "|".join(sorted(BUSINESS_DATE_STEMS + OTHER_DATE_STEMS, key=len, reverse=True))
    amount = "|".join(AMOUNT_STEMS)
    alternatives = [
        rf"(?:合同)?(?:{stems})(?:日期|时间)",
        rf"[{_CJK}]{{0,6}}(?:{amount})\((?:元|人民币元)\)",
        rf"[{_CJK}]{{0,4}}\((?:元|人民币元)\)",
        *sorted((re.escape(lab) for lab in labels), key=len, reverse=True),
    ]
    return re.compile("(" + "|".join(alternatives) + r")\s*:?")


_LABEL_RE = _label_pattern()
_LABEL_FIELD = {lab: key for key, labs in FIELD_LABELS.items() for lab in labs}
_WHOLE_LABEL = re.compile(rf"^(?:[{_CJK}]{{1,8}}(?:日期|时间)|[{_CJK}]{{1,10}}\((?:元|人民币元)\))$")


@dataclass(frozen=True)
class CatalogueEntry:
    seq: int
    title: str
    start_page: int | None  # None where the page column could not be read
    end_page: int | None


@dataclass
class CaseRecord:
    person_name: str | None = None
    id_number: str | None = None
    unit_name: str | None = None
    uscc: str | None = None
    business_number: str | None = None
    dates: list[str] = field(default_factory=list)  # ISO dates found next to date labels
    formed_date: str | None = None  # 起止日期 end, else the latest signed / business date
    amounts: list[dict[str, str]] = field(default_factory=list)  # {"label", "value"}; value a Decimal string
    archive_number: str | None = None
    title: str | None = None
    agency: str | None = None
    retention: str | None = None
    declared_items: int | None = None
    declared_pages: int | None = None
    catalogue: list[CatalogueEntry] = field(default_factory=list)
    cover_page: int | None = None
    catalogue_page: int | None = None
    catalogue_last_page: int | None = None  # last page of a catalogue running over several pages

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Frag:
    """An OCR fragment with normalised text, split into a leading unlabelled part and label–value pairs."""

    text: str
    left: float
    right: float
    top: float
    bottom: float
    confidence: float
    lead: str = ""
    pairs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def height(self) -> float:
        return max(1.0, self.bottom - self.top)

    @property
    def cy(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def cx(self) -> float:
        return (self.left + self.right) / 2

    @property
    def starts_with_label(self) -> bool:
        return bool(self.pairs) and not self.lead


def split_labels(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``"姓名张三性别女"`` -> ``("", [("姓名", "张三"), ("性别", "女")])``; text before the first label is the lead."""
    matches = list(_LABEL_RE.finditer(text))
    if not matches:
        return text, []
    lead = text[: matches[0].start()]
    pairs = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        pairs.append((m.group(1), text[m.end() : end].strip(" :;,，；")))
    return lead.strip(" :;,，；"), pairs


def make_frags(page: PageOcr) -> list[Frag]:
    frags = []
    for line in page.lines:
        if line.confidence < MIN_CONFIDENCE:
            continue
        text = normalize(line.text)
        if not text:
            continue
        frags.append(_frag(line, text))
    return frags


def _frag(line: OcrLine, text: str) -> Frag:
    f = Frag(text, line.left, line.right, line.top, line.bottom, line.confidence)
    if _WHOLE_LABEL.match(text.rstrip(":")):
        f.pairs = [(text.rstrip(":"), "")]
    else:
        f.lead, f.pairs = split_labels(text)
    return f


def same_line(a: Frag, b: Frag) -> bool:
    overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
    return overlap >= 0.4 * min(a.height, b.height)


def _right_value(frags: list[Frag], label: Frag, page_width: float) -> tuple[str, bool]:
    """Text right of ``label`` on its line up to the next label; (text, found_a_cell)."""
    row = sorted(
        (g for g in frags if g is not label and same_line(label, g) and g.left >= label.right - 0.5 * label.height),
        key=lambda g: g.left,
    )
    parts: list[str] = []
    last_right = label.right
    for g in row:
        if g.left - last_right > 0.5 * page_width:
            break
        if parts and g.left - last_right > 1.5 * label.height:
            break
        if g.starts_with_label:
            return "".join(parts), bool(parts)
        parts.append(g.lead if g.pairs else g.text)
        last_right = g.right
        if g.pairs:  # a value fused with the next label ends the cell
            break
    return "".join(parts), bool(parts)


def _below_value(frags: list[Frag], label: Frag) -> str:
    below = [
        g
        for g in frags
        if g is not label
        and g.top >= label.cy
        and g.top - label.bottom < 2.0 * label.height
        and min(g.right, label.right + label.height) - max(g.left, label.left - label.height) > 0
    ]
    if not below:
        return ""
    g = min(below, key=lambda g: (g.top, abs(g.cx - label.cx)))
    if g.starts_with_label:
        return ""
    return g.lead if g.pairs else g.text


def page_pairs(page: PageOcr, frags: list[Frag] | None = None) -> list[tuple[str, str]]:
    """Every (label, value) on the page, values completed from the neighbouring cells."""
    frags = make_frags(page) if frags is None else frags
    out: list[tuple[str, str]] = []
    for f in frags:
        for i, (label, value) in enumerate(f.pairs):
            if not value and i == len(f.pairs) - 1:
                value, found = _right_value(frags, f, page.width or 2000)
                if not found:
                    value = _below_value(frags, f)
            out.append((label, value))
    return out


# ---- value cleaning -------------------------------------------------------------------------


def iso_dates(value: str) -> list[str]:
    out = []
    for y, m, d in _DATE.findall(value):
        try:
            out.append(date(int(y), int(m), int(d)).isoformat())
        except ValueError:
            continue
    return out


def clean_name(value: str) -> str | None:
    m = re.match(rf"[{_CJK}·]+", value)
    if not m:
        return None
    name = m.group(0)
    return name if _NAME.match(name) else None


def clean_code(value: str) -> str | None:
    compact = re.sub(r"[\s\-]", "", value.upper())
    m = re.search(r"(?<![0-9A-Z])[0-9A-Z]{18}(?![0-9A-Z])", compact)
    return m.group(0) if m else None


def clean_unit(value: str) -> str | None:
    value = value.strip(" :;,，；。")
    if not (4 <= len(value) <= 40) or re.search(r"[，。；、！？,;!?]|的", value):
        return None
    if not re.search(rf"[{_CJK}]{{3}}", value):
        return None
    return value


def clean_amount(value: str) -> str | None:
    m = _NUMBER.search(value)
    if not m or _DATE.search(value):
        return None
    try:
        return str(Decimal(m.group(0).replace(",", "")))
    except InvalidOperation:
        return None


def _pick(values: list[str], prefer=None) -> str | None:
    """The most frequent value, ties by first appearance; among ``prefer(value)`` ones if any."""
    if prefer is not None and any(prefer(v) for v in values):
        values = [v for v in values if prefer(v)]
    if not values:
        return None
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def _is_business_date_label(label: str) -> bool:
    return label in ("起止日期", "签字日期") or any(label.startswith(s) for s in BUSINESS_DATE_STEMS)


def _is_amount_label(label: str) -> bool:
    return "(元)" in label or "(人民币元)" in label or any(s in label for s in AMOUNT_STEMS)


def extract_record(pages: list[PageOcr]) -> CaseRecord:
    """The case record of one dossier from the OCR of its pages (page numbers count from 1)."""
    from archive.extract.catalogue import find_catalogue_pages, find_cover, parse_catalogue

    record = CaseRecord()
    found: dict[str, list[str]] = {}
    dates: list[tuple[str, str]] = []
    amounts: list[dict[str, str]] = []
    cover_texts: list[str] = []
    all_frags = [make_frags(p) for p in pages]

    record.cover_page = find_cover(pages)
    cat_pages = find_catalogue_pages(pages, all_frags)
    if cat_pages:
        record.catalogue_page, record.catalogue_last_page = cat_pages[0], cat_pages[-1]
        record.catalogue = parse_catalogue([pages[n - 1] for n in cat_pages], [all_frags[n - 1] for n in cat_pages])

    for n, (page, frags) in enumerate(zip(pages, all_frags, strict=True), start=1):
        if n in cat_pages:
            continue  # catalogue rows are titles, not label–value pairs
        on_cover = n == record.cover_page
        for label, value in page_pairs(page, frags):
            key = _LABEL_FIELD.get(label)
            if key == "signature":
                dates.extend(("签字日期", d) for d in iso_dates(value))
                continue
            if key == "span":
                dates.extend((label, d) for d in iso_dates(value))
                continue
            if key == "declared" and on_cover:
                cover_texts.append(value)
                continue
            if key is None:
                if label.endswith(("日期", "时间")) or label == "出生":
                    dates.extend((label, d) for d in iso_dates(value))
                elif _is_amount_label(label) and (amount := clean_amount(value)) is not None:
                    item = {"label": label, "value": amount}
                    if item not in amounts:
                        amounts.append(item)
                continue
            found.setdefault(key, []).append(value)
        if on_cover:
            cover_texts.extend(f.text for f in frags if "共" in f.text)

    names = [v for v in map(clean_name, found.get("name", [])) if v]
    record.person_name = _pick(names)

    ids = [c for c in map(clean_code, found.get("id_number", [])) if c and re.fullmatch(r"\d{17}[\dX]", c)]
    record.id_number = _pick(ids, is_valid_id_number)
    units = [v for v in map(clean_unit, found.get("unit_name", [])) if v]
    record.unit_name = _pick(units, lambda v: bool(_ORG_SUFFIX.search(v)))
    codes = [c for c in map(clean_code, found.get("uscc", [])) if c and not re.fullmatch(r"\d{17}[\dX]", c)]
    record.uscc = _pick(codes, is_valid_uscc)
    if record.id_number is None or record.uscc is None:
        found_ids = find_identifiers([t for p in pages for t in p.text_lines])
        if record.id_number is None:
            record.id_number = next(iter(found_ids.id_numbers + found_ids.invalid_id_numbers), None)
        if record.uscc is None:
            record.uscc = next(iter(found_ids.uscc + found_ids.invalid_uscc), None)

    numbers = [m.group(0) for v in found.get("business_number", []) if (m := re.match(r"[0-9A-Za-z-]{6,}", v))]
    record.business_number = _pick(numbers)
    archive = [v for v in found.get("archive_number", []) if re.search(r"\d", v) and len(v) >= 4]
    record.archive_number = _pick(archive)
    record.title = _pick([v for v in found.get("title", []) if len(v) >= 2])
    record.agency = _pick([v for v in map(clean_unit, found.get("agency", [])) if v])
    retention = [m.group(0) for v in found.get("retention", []) if (m := re.match(r"永久|长期|短期|定期|\d{1,3}年", v))]
    record.retention = _pick(retention)

    for text in cover_texts:
        m = re.search(r"(\d{1,4})件", text)
        if m and record.declared_items is None:
            record.declared_items = int(m.group(1))
        m = re.search(r"(\d{1,5})页", text)
        if m and record.declared_pages is None:
            record.declared_pages = int(m.group(1))

    seen: set[str] = set()
    for _label, iso in dates:
        if iso not in seen:
            seen.add(iso)
            record.dates.append(iso)
    # The file is formed on the last day of the cover's 起止日期; without a cover, on the latest date
    # signed under a form (经办人/审核人 … 日期), else on the latest business date by its label.
    span = [iso for label, iso in dates if label == "起止日期"]
    signed = [iso for label, iso in dates if label == "签字日期"]
    business = [iso for label, iso in dates if _is_business_date_label(label)]
    record.formed_date = max(span or signed or business) if (span or signed or business) else None
    record.amounts = amounts
    return record

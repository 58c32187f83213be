"""The dossier cover (案卷封面), the 卷内目录 and the check that they agree with the scanned pages.

Page-numbering convention (as in the development dossiers and 《社会保险业务档案管理规定（试行）》
practice of numbering every sheet of the volume): pages are numbered consecutively from the cover,
which is page 1; the 卷内目录 is page 2 (or 2…k when it runs over several pages), so the first
document listed in the catalogue starts on page k+1 and the last one ends on the last scanned page.
The cover's ``本卷共N件M页`` counts all M pages including the cover and the catalogue, and N the
catalogue's entries.  Some offices number only the documents (the first entry starts on page 1); a
catalogue whose first entry starts on page 1 is read in that convention, with the cover and
catalogue pages left out of the count.

The checks only use what was read: a catalogue row whose page column OCR could not read (missing,
garbled, low confidence) is kept with ``start_page=None`` and is skipped by the range checks, so that
OCR trouble does not raise false alarms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from statistics import median
from typing import TYPE_CHECKING

from archive.extract.fields import CatalogueEntry, Frag, make_frags, normalize
from ocr.engine import PageOcr

if TYPE_CHECKING:
    from archive.extract.fields import CaseRecord

__all__ = ["CatalogueEntry", "check_catalogue", "find_catalogue_pages", "find_cover", "parse_catalogue"]

PAGE_MIN_CONFIDENCE = 0.5  # digits in the seq / page columns read below this are not trusted

_COVER_MARKS = (("业务档案", 2), ("本卷共", 2), ("档号", 1), ("案卷题名", 1), ("立卷单位", 1), ("保管期限", 1))
_HEADER_WORDS = {
    "seq": ("序号", "顺序号", "件号"),
    "title": ("文件材料题名", "文件题名", "材料名称", "题名", "名称"),
    "page": ("页号", "页次", "页码", "起止页"),
    "other": ("文号", "责任者", "日期", "备注", "份数"),
}
_PAGE_RANGE = re.compile(r"^(\d{1,4})(?:[-~至](\d{1,4}))?$")
_TRAILING_RANGE = re.compile(r"(\d{1,4}(?:[-~至]\d{1,4})?)$")
_LEADING_SEQ = re.compile(r"^(\d{1,3})[.、,]?(?=\D)")
_FOOTER = re.compile(r"^(立卷人|检查人|审核人|填表人|编制人|说明|备注|本卷共|共\d)")
_CJK2 = re.compile(r"[\u3400-\u9fff].*[\u3400-\u9fff]")


def find_cover(pages: list[PageOcr]) -> int | None:
    """Page number (from 1) of the 案卷封面: 社会保险业务档案 / 档号 / 本卷共 …, or None for loose papers."""
    for n, page in enumerate(pages, start=1):
        text = normalize(page.text)
        if "卷内目录" in text:
            continue
        if sum(weight for mark, weight in _COVER_MARKS if mark in text) >= 3:
            return n
    return None


@dataclass
class _Header:
    columns: list[tuple[str, float]]  # (kind, x centre) sorted by x
    bottom: float

    def column(self, x: float) -> str:
        best = min(self.columns, key=lambda c: abs(c[1] - x))
        return best[0]

    def x_of(self, kind: str) -> float | None:
        return next((x for k, x in self.columns if k == kind), None)


def _find_header(frags: list[Frag]) -> _Header | None:
    """The column header row (序号 / 题名 / 页号 …), fused or in separate fragments."""
    hits: list[tuple[str, float, Frag]] = []
    for f in frags:
        text = f.text
        taken = [False] * len(text)
        for kind, words in _HEADER_WORDS.items():
            for word in words:
                start = text.find(word)
                if start < 0 or any(taken[start : start + len(word)]):
                    continue
                if kind == "title" and word == "名称" and len(text) > 4:
                    continue  # 名称 inside a title is not a header
                if len(text) > 16:
                    continue  # a long fragment is a row, not a header
                for i in range(start, start + len(word)):
                    taken[i] = True
                x = f.left + (start + len(word) / 2) / len(text) * (f.right - f.left)
                hits.append((kind, x, f))
    titles = [h for h in hits if h[0] == "title"]
    for _, _, tf in titles:
        row = [h for h in hits if abs(h[2].cy - tf.cy) < 1.5 * tf.height]
        kinds = {h[0] for h in row}
        if "seq" in kinds or "page" in kinds:
            columns = sorted({(k, x) for k, x, _ in row}, key=lambda c: c[1])
            return _Header(columns=columns, bottom=max(h[2].bottom for h in row))
    return None


def find_catalogue_pages(pages: list[PageOcr], all_frags: list[list[Frag]] | None = None) -> list[int]:
    """Page numbers of the 卷内目录 (consecutive pages when it runs over several)."""
    found: list[int] = []
    for n, page in enumerate(pages, start=1):
        frags = all_frags[n - 1] if all_frags is not None else make_frags(page)
        top = [f for f in frags if f.top < 0.3 * (page.height or 1)] or frags[:3]
        titled = any("卷内目录" in f.text for f in top[:6])
        if titled or (found and found[-1] == n - 1 and _find_header(frags) is not None):
            if found and found[-1] != n - 1:
                break  # a second catalogue further on belongs to something else
            found.append(n)
        elif found:
            break
    return found


@dataclass
class _Piece:
    kind: str  # seq | title | page
    text: str
    frag: Frag


def _pieces(frags: list[Frag], header: _Header) -> list[_Piece]:
    seq_x, title_x, page_x = header.x_of("seq"), header.x_of("title"), header.x_of("page")
    out: list[_Piece] = []
    for f in frags:
        if f.top < header.bottom - 0.3 * f.height:
            continue
        text = f.text
        kinds_spanned = {header.column(f.left + 0.5 * f.height), header.column(f.right - 0.5 * f.height)}
        kind = header.column(f.cx)
        if kind == "title" or len(kinds_spanned) > 1:
            # a fragment reaching into neighbouring columns: "1基本养老保险…申请表3", "3转移接续联系函5-6"
            if seq_x is not None and f.left < (seq_x + (title_x or seq_x)) / 2 and (m := _LEADING_SEQ.match(text)):
                out.append(_Piece("seq", m.group(1), f))
                text = text[m.end() :]
            reaches_pages = page_x is not None and f.right > (page_x + (title_x or page_x)) / 2
            m = _TRAILING_RANGE.search(text) if reaches_pages else None
            if m and (_CJK2.search(text[: m.start()]) or not text[: m.start()].strip()):
                out.append(_Piece("page", m.group(1), f))
                text = text[: m.start()]
            text = text.strip(" .、,:")
            if _CJK2.search(text):
                out.append(_Piece("title", text, f))
        elif kind in ("seq", "page"):
            out.append(_Piece(kind, text, f))
    return out


def _rows(pieces: list[_Piece]) -> list[dict[str, list[_Piece]]]:
    titles = sorted((p for p in pieces if p.kind == "title"), key=lambda p: p.frag.cy)
    rows: list[dict[str, list[_Piece]]] = []
    for p in titles:
        if rows:
            last = rows[-1]["title"][-1].frag
            gap = p.frag.top - last.bottom
            if p.frag is last or min(p.frag.bottom, last.bottom) - max(p.frag.top, last.top) >= 0.4 * min(
                p.frag.height, last.height
            ):
                rows[-1]["title"].append(p)
                continue
            if gap < 0.3 * last.height and not _FOOTER.match(p.text):
                rows[-1]["title"].append(p)  # a title wrapped onto a second line of its cell
                continue
        rows.append({"title": [p], "seq": [], "page": []})
    centres = [median(q.frag.cy for q in r["title"]) for r in rows]
    pitch = median([b - a for a, b in zip(centres, centres[1:], strict=False)]) if len(centres) > 1 else None
    for p in pieces:
        if p.kind == "title":
            continue
        if p.frag.confidence < PAGE_MIN_CONFIDENCE:
            continue
        if not rows:
            rows.append({"title": [], "seq": [], "page": []})
            centres.append(p.frag.cy)
        i = min(range(len(rows)), key=lambda k: abs(centres[k] - p.frag.cy))
        limit = max(1.0 * p.frag.height, 0.45 * pitch) if pitch else 1.5 * max(p.frag.height, 20)
        if abs(centres[i] - p.frag.cy) <= limit:
            rows[i][p.kind].append(p)
        elif p.kind == "page" and _PAGE_RANGE.match(p.text):
            # a page number whose title OCR lost: an entry of its own
            rows.append({"title": [], "seq": [], "page": [p]})
            centres.append(p.frag.cy)
    order = sorted(range(len(rows)), key=lambda k: centres[k])
    return [rows[k] for k in order]


def _page_range(text: str) -> tuple[int | None, int | None]:
    m = _PAGE_RANGE.match(text.replace(" ", ""))
    if not m:
        return None, None
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else start
    if start < 1 or end < 1:
        return None, None
    return start, end


def _entries_from_rows(rows: list[dict[str, list[_Piece]]]) -> list[CatalogueEntry]:
    entries = []
    for row in rows:
        title = "".join(p.text for p in sorted(row["title"], key=lambda p: p.frag.left))
        if _FOOTER.match(title):
            continue
        pages = "".join(p.text for p in sorted(row["page"], key=lambda p: p.frag.left))
        start, end = _page_range(pages)
        if not title and start is None:
            continue
        entries.append(CatalogueEntry(len(entries) + 1, title, start, end))
    return entries


_LINE_ROW = re.compile(r"^(\d{1,3})?[.、,]?([^\d].*?)(\d{1,4}(?:[-~至]\d{1,4})?)?$")


def _entries_from_text(page: PageOcr) -> list[CatalogueEntry]:
    """Fallback without a readable column header: one catalogue row per text line."""
    entries: list[CatalogueEntry] = []
    started = False
    for line in page.text_lines:
        text = normalize(line)
        if not started:
            started = "卷内目录" in text or ("题名" in text and len(text) <= 16)
            continue
        m = _LINE_ROW.match(text)
        if not m or not _CJK2.search(m.group(2)) or _FOOTER.match(m.group(2)):
            continue
        start, end = _page_range(m.group(3) or "")
        entries.append(CatalogueEntry(len(entries) + 1, m.group(2).strip(" .、,:"), start, end))
    return entries


def parse_catalogue(pages: list[PageOcr], all_frags: list[list[Frag]] | None = None) -> list[CatalogueEntry]:
    """The rows of the 卷内目录 page(s), in order.

    Each row is anchored on its title (题名 column); the 序号 and 页号 fragments join the nearest title
    row.  Fragments that fuse columns are cut by their leading sequence number and trailing page
    range.  Entries are numbered by their row order (OCR often misreads the 序号 column); a page
    column that cannot be read gives ``start_page = end_page = None``.
    """
    entries: list[CatalogueEntry] = []
    for i, page in enumerate(pages):
        frags = all_frags[i] if all_frags is not None else make_frags(page)
        header = _find_header(frags)
        found = _entries_from_rows(_rows(_pieces(frags, header))) if header else _entries_from_text(page)
        for e in found:
            entries.append(CatalogueEntry(len(entries) + 1, e.title, e.start_page, e.end_page))
    return entries


def _name(e: CatalogueEntry) -> str:
    return f"第{e.seq}件《{e.title}》" if e.title else f"第{e.seq}件"


def _range(e: CatalogueEntry) -> str:
    return f"{e.start_page}" if e.start_page == e.end_page else f"{e.start_page}-{e.end_page}"


def check_catalogue(record: CaseRecord, actual_pages: int) -> list[dict]:
    """``catalogue_mismatch`` problems between the cover, the 卷内目录 and the ``actual_pages`` scanned.

    See the module docstring for the numbering convention.  Nothing is reported for loose papers
    (no cover and no catalogue).
    """
    problems: list[dict] = []

    def report(detail: str) -> None:
        problems.append({"code": "catalogue_mismatch", "detail": detail})

    if record.cover_page is None and record.catalogue_page is None:
        return problems
    first_numbered = record.cover_page or record.catalogue_page or 1  # the page numbered 1
    front = (record.catalogue_last_page or record.catalogue_page or record.cover_page or 0) - first_numbered + 1
    entries = record.catalogue
    known = [i for i, e in enumerate(entries) if e.start_page is not None and e.end_page is not None]
    documents_only = bool(known) and known[0] == 0 and entries[0].start_page == 1 and front > 0
    offset = front if documents_only else 0  # pages numbered before the first document
    last = actual_pages - (first_numbered - 1) - offset  # the last page number the scan can carry
    expected_first = 1 if documents_only else front + 1

    if record.declared_pages is not None and record.cover_page is not None:
        total = actual_pages - (first_numbered - 1)
        if record.declared_pages != total and not (documents_only and record.declared_pages == last):
            report(f"封面“本卷共{record.declared_items or '?'}件{record.declared_pages}页”与实际扫描的{total}页不符")

    for i in known:
        e = entries[i]
        if e.start_page > e.end_page:
            report(f"卷内目录{_name(e)}页号{e.start_page}-{e.end_page}起止颠倒")
        elif e.end_page > last:
            report(f"卷内目录{_name(e)}页号{_range(e)}超出实际扫描的最后一页（第{last}页）")

    for i, j in zip(known, known[1:], strict=False):
        prev, nxt = entries[i], entries[j]
        if nxt.start_page <= prev.end_page:
            report(f"卷内目录{_name(nxt)}页号{_range(nxt)}与{_name(prev)}页号{_range(prev)}重叠或顺序颠倒")
        elif j == i + 1 and nxt.start_page > prev.end_page + 1:
            report(f"卷内目录{_name(prev)}与{_name(nxt)}之间第{prev.end_page + 1}-{nxt.start_page - 1}页未列入目录")
        # across rows whose page column was unreadable only the order can be checked

    if known and known[0] == 0 and entries[0].start_page not in (expected_first, 1):
        e = entries[0]
        if e.start_page > expected_first:
            report(f"卷内目录{_name(e)}从第{e.start_page}页开始，第{expected_first}-{e.start_page - 1}页未列入目录")
        else:
            report(f"卷内目录{_name(e)}页号{_range(e)}与封面、卷内目录页重叠")
    complete = record.declared_items is not None and record.declared_items == len(entries)
    if complete and known and known[-1] == len(entries) - 1 and entries[-1].end_page < last:
        e = entries[-1]
        report(f"卷内目录最后一件{_name(e)}止于第{e.end_page}页，第{e.end_page + 1}-{last}页未列入目录")
    return problems

"""Text handling shared by the search backends: normalisation, tokenisation, query parsing, snippets.

The normalised text is a sequence of *units*: one CJK character, one run of ASCII letters/digits (a
"word"), or one other non-space character.  Normalisation (NFKC, lowercase) drops every whitespace
run except a single space between two words, since OCR scatters spaces through Chinese text.

The embedded backend's token layout is in ``search.grams``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from archive.errors import Invalid

from .base import MARK_CLOSE, MARK_OPEN

UnitKind = Literal["cjk", "word", "other"]

MAX_QUERY_CHARS = 200
MAX_TERMS = 16

_CJK = re.compile("[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\U00030000-\U0003134f]")
_UNIT = re.compile(r"[0-9a-z]+|\S")
_WS = re.compile(r"\s+")
_ALNUM = re.compile(r"[0-9a-z]")
_ID_LIKE = re.compile(r"\d{17}[\dX]")
_USCC_LIKE = re.compile(r"[0-9A-HJ-NP-RTUWXY]{18}")
_NAME_LIKE = re.compile(f"{_CJK.pattern}{{2,4}}")
_QUOTES = str.maketrans({"“": '"', "”": '"', "＂": '"'})


@dataclass(frozen=True)
class Unit:
    kind: UnitKind
    text: str
    start: int
    end: int


def is_cjk(char: str) -> bool:
    return bool(_CJK.fullmatch(char))


def normalize(text: str) -> str:
    """NFKC, lowercase, whitespace kept only as one space between two ASCII words."""
    text = unicodedata.normalize("NFKC", text).lower()

    def _space(match: re.Match[str]) -> str:
        start, end = match.span()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        return " " if _ALNUM.fullmatch(before or "-") and _ALNUM.fullmatch(after or "-") else ""

    return _WS.sub(_space, text)


def normalize_code(value: str) -> str:
    """Codes (身份号码, 信用代码, 档号, 业务编号) compare NFKC, upper case, without whitespace."""
    return _WS.sub("", unicodedata.normalize("NFKC", value)).upper()


def units(norm: str) -> list[Unit]:
    """The units of already-normalised text."""
    out: list[Unit] = []
    for m in _UNIT.finditer(norm):
        piece = m.group()
        kind: UnitKind = "word" if _ALNUM.match(piece) else "cjk" if is_cjk(piece) else "other"
        out.append(Unit(kind, piece, m.start(), m.end()))
    return out


@dataclass(frozen=True)
class QueryTerm:
    """One AND-ed term of a query."""

    raw: str
    norm: str
    units: tuple[Unit, ...]
    phrase: bool
    code: str  # normalize_code(raw): compared with the keyword fields
    id_like: bool  # 17 digits + digit/X: a 公民身份号码
    uscc_like: bool  # 18 characters of the 统一社会信用代码 alphabet
    name_like: bool  # 2–4 CJK characters: may be a person's name

    @property
    def fuzzy_code(self) -> bool:
        return self.id_like or self.uscc_like


def _term(raw: str, phrase: bool) -> QueryTerm | None:
    norm = normalize(raw).strip()
    if not norm:
        return None
    code = normalize_code(raw)
    return QueryTerm(
        raw=raw,
        norm=norm,
        units=tuple(units(norm)),
        phrase=phrase,
        code=code,
        id_like=bool(_ID_LIKE.fullmatch(code)),
        uscc_like=bool(_USCC_LIKE.fullmatch(code)),
        name_like=bool(_NAME_LIKE.fullmatch(norm)),
    )


def parse_query(text: str) -> list[QueryTerm]:
    """Split on whitespace outside double quotes; a quoted part is one phrase term.

    Raises ``Invalid`` for an over-long query, an unbalanced quote or too many terms.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise Invalid("search_query_too_long", f"检索词过长（最多 {MAX_QUERY_CHARS} 个字符）")
    text = text.translate(_QUOTES)
    if text.count('"') % 2:
        raise Invalid("search_unbalanced_quote", "检索词中的引号不成对")
    terms: list[QueryTerm] = []
    for i, part in enumerate(text.split('"')):
        if i % 2:
            term = _term(part, phrase=True)
            if term is not None:
                terms.append(term)
        else:
            terms.extend(t for t in (_term(w, phrase=False) for w in part.split()) if t is not None)
    if len(terms) > MAX_TERMS:
        raise Invalid("search_too_many_terms", f"检索词过多（最多 {MAX_TERMS} 个）")
    return terms


def contains_all(norm_text: str, terms: list[QueryTerm]) -> bool:
    """Brute-force check: every term is a substring of the normalised text."""
    return all(t.norm in norm_text for t in terms)


def build_snippet(norm_text: str, needles: list[str], before: int = 20, after: int = 40) -> str:
    """A window of the page text around the first match, every match inside marked 【like this】.

    With no match (a page found through a keyword field or a fuzzy match) the page's opening.
    """
    first = min((i for i in (norm_text.find(n) for n in needles if n) if i >= 0), default=-1)
    if first < 0:
        head = norm_text[: before + after]
        return head + ("…" if len(norm_text) > len(head) else "")
    start, end = max(0, first - before), min(len(norm_text), first + after)
    return mark_window(norm_text, needles, start, end) or norm_text[start:end]


def mark_window(norm_text: str, needles: list[str], start: int, end: int) -> str | None:
    """``norm_text[start:end]`` with every match of a needle marked 【like this】 (longest first; a match
    that begins inside the window is marked whole) and "…" where text is cut off; None when no needle
    occurs in the window."""
    ordered = sorted({n for n in needles if n}, key=len, reverse=True)
    if not ordered:
        return None
    pattern = re.compile("|".join(re.escape(n) for n in ordered))
    out: list[str] = ["…" if start else ""]
    cursor = start
    for m in pattern.finditer(norm_text, start):
        if m.start() >= end:
            break
        out += [norm_text[cursor : m.start()], MARK_OPEN + m.group() + MARK_CLOSE]
        cursor = m.end()
    if len(out) == 1:
        return None
    out += [norm_text[cursor : max(end, cursor)], "…" if max(end, cursor) < len(norm_text) else ""]
    return "".join(out)

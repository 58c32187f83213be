"""Find and validate 公民身份号码 (GB 11643-1999) and 统一社会信用代码 (GB 32100-2015) in OCR text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

# 经办机构代码: the office codes batches, users and dossiers carry.
OFFICE_PATTERN = re.compile(r"[0-9A-Za-z_-]{1,32}")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# 18 characters from the USCC alphabet (which includes digits and X), not inside a longer code.
_CANDIDATE = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NP-RTUWXY]{18}(?![0-9A-Z])")


def id_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def is_valid_id_number(value: str) -> bool:
    """18-character resident ID: 17 digits, a check digit, and a real birth date."""
    value = value.upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if not (date(1890, 1, 1) <= born <= date.today()):
        return False
    return id_check_digit(value[:17]) == value[17]


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def is_valid_uscc(value: str) -> bool:
    value = value.upper()
    if len(value) != 18 or any(c not in _USCC_CHARS for c in value):
        return False
    if not value[2:8].isdigit():  # administrative division code
        return False
    return uscc_check_char(value[:17]) == value[17]


@dataclass
class Identifiers:
    id_numbers: list[str] = field(default_factory=list)
    uscc: list[str] = field(default_factory=list)
    invalid_id_numbers: list[str] = field(default_factory=list)
    invalid_uscc: list[str] = field(default_factory=list)

    def to_report(self) -> dict[str, list[str]]:
        return {"id_numbers": self.id_numbers, "uscc": self.uscc}


def _add(bucket: list[str], value: str) -> None:
    if value not in bucket:
        bucket.append(value)


def find_identifiers(lines: list[str]) -> Identifiers:
    """Valid and invalid 18-character codes, in order of first appearance.

    Each line is searched as read and with its spaces removed (OCR sometimes splits a code into
    fragments).  A candidate of digits (and a final X) is an ID number; one with letters is a USCC.
    """
    found = Identifiers()
    for line in lines:
        upper = line.upper()
        variants = [upper] if " " not in upper else [upper, re.sub(r"\s+", "", upper)]
        for text in variants:
            for match in _CANDIDATE.finditer(text):
                code = match.group(0)
                if is_valid_id_number(code):
                    _add(found.id_numbers, code)
                elif is_valid_uscc(code):
                    _add(found.uscc, code)
                elif re.fullmatch(r"\d{17}[\dX]", code):
                    _add(found.invalid_id_numbers, code)
                elif re.fullmatch(r"[0-9A-HJ-NP-RTUWXY]{2}\d{6}[0-9A-HJ-NP-RTUWXY]{10}", code):
                    _add(found.invalid_uscc, code)
    # A code read validly somewhere is not also reported as invalid from another variant.
    found.invalid_id_numbers = [c for c in found.invalid_id_numbers if c not in found.id_numbers]
    found.invalid_uscc = [c for c in found.invalid_uscc if c not in found.uscc]
    return found


def mask_id_number(value: str | None) -> str | None:
    """``120104198507151234`` → ``1201**********1234``: enough to tell people apart in a list,
    not enough to identify one.  The whole number is shown only in an opened (and logged) dossier."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def mask_numbers(text: str) -> str:
    """Every 18-character ID-number-like run in ``text`` masked as ``mask_id_number`` does."""
    return _ID_LIKE.sub(lambda m: mask_id_number(m.group(0)) or "", text)

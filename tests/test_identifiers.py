"""ID number and USCC validation and extraction, checked against independently generated codes."""

from __future__ import annotations

import random

import pytest

from archive.identifiers import find_identifiers, is_valid_id_number, is_valid_uscc
from scripts.generate_fixtures import corrupt_check_digit, valid_id_number, valid_uscc


@pytest.mark.parametrize("seed", range(20))
def test_generated_codes_validate(seed: int) -> None:
    rng = random.Random(seed)
    id_number, uscc = valid_id_number(rng), valid_uscc(rng)
    assert is_valid_id_number(id_number)
    assert not is_valid_id_number(corrupt_check_digit(id_number))
    assert is_valid_uscc(uscc)
    assert not is_valid_id_number(uscc)


def test_known_codes() -> None:
    assert is_valid_id_number("11010519491231002X")  # GB 11643 example
    assert is_valid_id_number("11010519491231002x")
    assert not is_valid_id_number("110105194912310021")
    assert not is_valid_id_number("110105194913310023")  # month 13
    assert is_valid_uscc("91350100M000100Y43")  # a published code
    assert not is_valid_uscc("91350100M000100Y44")


def test_find_in_ocr_lines() -> None:
    rng = random.Random(5)
    good, uscc = valid_id_number(rng), valid_uscc(rng)
    bad = corrupt_check_digit(valid_id_number(rng))
    lines = [
        f"姓名 张三 公民身份号码{good}",
        f"统一社会信用代码 {uscc[:9]} {uscc[9:]}",  # split by OCR into two fragments
        f"联系电话 13800138000 身份证 {bad}",
        "流水号 12345678901234567890123",  # longer digit runs are not IDs
    ]
    found = find_identifiers(lines)
    assert found.id_numbers == [good]
    assert found.uscc == [uscc]
    assert found.invalid_id_numbers == [bad]

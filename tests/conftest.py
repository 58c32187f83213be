"""Shared fixtures: the read-only development data set next to the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

DEV_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev-dossiers"


@pytest.fixture(scope="session")
def dev_data() -> Path:
    """``../shared/data/dev-dossiers`` relative to the repository root.

    Nothing is skipped when it is missing: a test that needs the data fails loudly instead.
    """
    assert DEV_DATA.is_dir(), f"development data set not found at {DEV_DATA}"
    return DEV_DATA

"""Shared fixtures of the store tests: the fixture folder and a fresh store per test, on each backend
(DuckDB and PostgreSQL; see `store_url` in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def store(store_url: str):
    from core.store import Store

    s = Store.open(store_url)
    yield s
    s.close()

"""Shared fixtures of the ingest tests: the fixture folder and a fresh DuckDB store per test."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def store(tmp_path: Path):
    from core.store import Store

    s = Store.open(str(tmp_path / "t.duckdb"))
    yield s
    s.close()

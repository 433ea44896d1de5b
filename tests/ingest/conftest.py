"""The ingest tests' store: a fresh DuckDB file per test (the readers do not depend on the backend;
tests/store runs the store itself on DuckDB and PostgreSQL). `fixtures` is in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def store(tmp_path: Path):
    from core.store import Store

    with Store.open(str(tmp_path / "t.duckdb")) as s:
        yield s

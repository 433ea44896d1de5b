"""The store tests' store: a fresh one per test, on each backend (DuckDB and PostgreSQL; see
`store_url` in tests/conftest.py, which also holds `fixtures`)."""

from __future__ import annotations

import pytest


@pytest.fixture
def store(store_url: str):
    from core.store import Store

    with Store.open(store_url) as s:
        yield s

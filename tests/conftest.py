"""Shared fixtures. One real model per test session (loading it costs seconds), as sentence-transformers does."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    """tests/fixtures: the real data subsets (built by fixtures/make_fixtures.py)."""
    return FIXTURES


@pytest.fixture(scope="session")
def bi_encoder():
    """The packaged all-MiniLM-L6-v2, loaded once per session (CPU)."""
    from core.encoders import load_bi_encoder

    return load_bi_encoder()


# ---- store backends: every store test runs on DuckDB and on a real PostgreSQL server -----------
BACKENDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


class Databases:
    """Fresh databases per test: a DuckDB file, or a database on one throw-away PostgreSQL server.

    The server (initdb + pg_ctl as an unprivileged user, core/store/pgserver.py) starts on first
    use. Without PostgreSQL the PostgreSQL tests skip with the reason, but fail under CI=true.
    """

    def __init__(self) -> None:
        self._server = None
        self._error: str | None = None

    def server(self):
        from core.store.pgserver import PostgresUnavailable, TempPostgres

        if self._server is None and self._error is None:
            try:
                self._server = TempPostgres().start()
            except PostgresUnavailable as exc:
                self._error = str(exc)
        if self._error is not None:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"CI=true needs PostgreSQL for the store tests: {self._error}")
            pytest.skip(f"PostgreSQL unavailable: {self._error}")
        return self._server

    def new(self, backend: str, directory, template: str | None = None) -> str:
        """A fresh database's --db value; `template` copies an earlier one (file or URL)."""
        if backend == "duckdb":
            path = directory / f"db-{os.urandom(4).hex()}.duckdb"
            if template:
                shutil.copyfile(template, path)
            return str(path)
        return self.server().create_database(template=template.rsplit("/", 1)[-1]
                                             if template else None)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()


@pytest.fixture(scope="session")
def databases():
    dbs = Databases()
    yield dbs
    dbs.close()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def store_url(backend: str, databases: Databases, tmp_path) -> str:
    """A fresh empty database (DuckDB file path or PostgreSQL URL) for this test's backend."""
    return databases.new(backend, tmp_path)

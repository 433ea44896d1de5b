"""Engine creation: a DuckDB file by default or a PostgreSQL URL; driver errors made readable."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, make_url

from core.types import NegauditError, StoreLockedError

DEFAULT_DB = "negaudit.duckdb"
SUPPORTED_DIALECTS = ("duckdb", "postgresql")


def resolve_url(db: str | os.PathLike | None = None, create: bool = True) -> str:
    """`--db` beats `NEGAUDIT_DB` beats ./negaudit.duckdb; a plain path means a DuckDB file.

    `create`: make a missing parent folder (a read-only open creates nothing: it names the missing file).
    """
    value = str(db) if db else os.environ.get("NEGAUDIT_DB") or DEFAULT_DB
    if "://" in value:
        # libpq's and Heroku's spelling; SQLAlchemy knows only "postgresql" ("Can't load plugin ... postgres")
        for old in ("postgres://", "postgresql://"):
            if value.startswith(old):
                return "postgresql+psycopg://" + value[len(old):]
        return value
    path = Path(value).expanduser()
    if path.is_dir():
        raise NegauditError(f"--db {path} is a folder; give a DuckDB file or a database URL")
    if not create and not path.exists():
        raise NegauditError(f"--db {path}: no such database file (check the path; commands that import "
                            f"data create it)")
    if path.parent and not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NegauditError(f"--db {path}: cannot create its folder ({exc.strerror})") from None
    return f"duckdb:///{path.resolve()}"


def duckdb_file(url: str) -> Path | None:
    """The file a `duckdb:///` URL names (None for any other URL): lock messages and backups name it."""
    return Path(url.removeprefix("duckdb:///")) if url.startswith("duckdb:///") else None


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


def locked_message(url: str, exc: BaseException) -> str:
    path = duckdb_file(url) or url
    return (
        f"The database file {path} is in use by another process (usually a running "
        f"`negaudit serve` / Streamlit app). DuckDB allows one writing process per file: "
        f"stop that process, or point this command at another file with --db, or use a "
        f"PostgreSQL URL (NEGAUDIT_DB=postgresql+psycopg://...) for several processes "
        f"(DuckDB said: {first_line(exc)})"
    )


def make_engine(url: str, read_only: bool = False) -> Engine:
    """Create the engine and connect once, so a held lock, a file that is not a database or an
    unreachable server surfaces here as one clear `NegauditError` (the CLI and the app show it)."""
    kwargs: dict = {}
    if not url.startswith(("duckdb", "postgresql", "postgres")):  # before its driver import fails obscurely
        raise NegauditError(f"cannot use database URL {shown_url(url)}: negaudit stores its data in DuckDB "
                            f"or PostgreSQL (a DuckDB file path, or postgresql+psycopg://...)")
    if url.startswith("duckdb"):
        kwargs["connect_args"] = {"read_only": True} if read_only else {}
        kwargs["pool_size"] = 8
        kwargs["max_overflow"] = 8
    else:
        kwargs["pool_pre_ping"] = True  # a server restart must not break a long-running app
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # noqa: BLE001 - unknown dialect, malformed URL, driver missing
        raise NegauditError(f"cannot use database URL {shown_url(url)}: "
                            f"{first_line(exc)}") from None
    if engine.dialect.name not in SUPPORTED_DIALECTS:  # the migrations need sequences, ...
        engine.dispose()
        raise NegauditError(f"cannot use database URL {shown_url(url)}: negaudit stores its data in "
                            f"DuckDB or PostgreSQL, not {engine.dialect.name}")
    if url.startswith("duckdb"):
        @event.listens_for(engine, "connect")
        def _set_threads(dbapi_conn, _record):
            # Keep DuckDB from fanning out to every core on the 2-core machines we target.
            dbapi_conn.execute("SET preserve_insertion_order = true")
            # DuckDB's own progress bar writes to stdout over the CLI's output on long commits.
            dbapi_conn.execute("SET enable_progress_bar = false")
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()  # reads the file: "not a database" is here
    except Exception as exc:  # noqa: BLE001 - translate driver errors into a user-facing one
        engine.dispose()
        if is_lock_error(exc):
            raise StoreLockedError(locked_message(url, exc)) from None
        if url.startswith("duckdb"):  # not a DuckDB file, missing (read-only), unreadable, ...
            raise NegauditError(f"cannot open {duckdb_file(url) or url} as a DuckDB "
                                f"database: {first_line(exc)}") from None
        raise NegauditError(f"cannot connect to {shown_url(url)}: {first_line(exc)}") from None
    if read_only and "datasets" not in tables:  # nothing migrates a read-only open
        engine.dispose()
        raise NegauditError(f"{duckdb_file(url) or shown_url(url)} holds no negaudit data "
                            f"(no datasets table); check --db or import a dataset first")
    return engine


def first_line(exc: BaseException) -> str:
    """The driver's own message (not SQLAlchemy's wrapper), first line only."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def shown_url(url: str) -> str:
    """The URL for messages, password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a message must never fail
        return url

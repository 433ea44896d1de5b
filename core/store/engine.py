"""Engine creation: a DuckDB file by default, any SQLAlchemy URL when given; lock errors made readable."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url

from core.types import NegauditError, StoreLockedError

DEFAULT_DB = "negaudit.duckdb"


def resolve_url(db: str | os.PathLike | None = None) -> str:
    """`--db` beats `NEGAUDIT_DB` beats ./negaudit.duckdb; a plain path means a DuckDB file."""
    value = str(db) if db else os.environ.get("NEGAUDIT_DB") or DEFAULT_DB
    if "://" in value:
        return value
    path = Path(value).expanduser()
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    return f"duckdb:///{path.resolve()}"


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


def locked_message(url: str, exc: BaseException) -> str:
    path = url.removeprefix("duckdb:///")
    return (
        f"The database file {path} is in use by another process (usually a running "
        f"`negaudit serve` / Streamlit app). DuckDB allows one writing process per file: "
        f"stop that process, or point this command at another file with --db, or use a "
        f"PostgreSQL URL (NEGAUDIT_DB=postgresql+psycopg://...) for several processes.\n"
        f"(DuckDB said: {str(exc).splitlines()[0]})"
    )


def make_engine(url: str, read_only: bool = False) -> Engine:
    """Create the engine and connect once, so a held DuckDB lock surfaces here as a clear error."""
    kwargs: dict = {}
    if url.startswith("duckdb"):
        kwargs["connect_args"] = {"read_only": True} if read_only else {}
        kwargs["pool_size"] = 8
        kwargs["max_overflow"] = 8
    else:
        kwargs["pool_pre_ping"] = True  # a server restart must not break a long-running app
    engine = create_engine(url, **kwargs)
    if url.startswith("duckdb"):
        @event.listens_for(engine, "connect")
        def _set_threads(dbapi_conn, _record):  # noqa: ANN001 - SQLAlchemy hook signature
            # Keep DuckDB from fanning out to every core on the 2-core machines we target.
            dbapi_conn.execute("SET preserve_insertion_order = true")
            # DuckDB's own progress bar writes to stdout over the CLI's output on long commits.
            dbapi_conn.execute("SET enable_progress_bar = false")
    try:
        with engine.connect():
            pass
    except Exception as exc:  # noqa: BLE001 - translate driver errors into a user-facing one
        engine.dispose()
        if is_lock_error(exc):
            raise StoreLockedError(locked_message(url, exc)) from None
        if "read-only" in str(exc).lower() or "does not exist" in str(exc).lower():
            raise NegauditError(f"cannot open {_shown(url)}: {str(exc).splitlines()[0]}") from None
        if not url.startswith("duckdb"):  # server unreachable, authentication, ...
            raise NegauditError(f"cannot connect to {_shown(url)}: "
                                f"{str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}") from None
        raise
    return engine


def _shown(url: str) -> str:
    """The URL for messages, password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a message must never fail
        return url

"""Schema migrations (Alembic, one history for DuckDB and PostgreSQL), run by `Store.open`.

An empty database is upgraded to head; a database made before migrations existed (tables from
`metadata.create_all`, no `alembic_version`) is stamped at the initial revision, which matches
it, then upgraded. Add a revision with
`.venv/bin/alembic revision --autogenerate -m "..." -x db=URL` in the repository root.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from core.types import NegauditError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
HEAD = "0006"  # the newest revision; a test checks it against the scripts
INITIAL = "0001"
_PG_LOCK_KEY = 7_263_354  # advisory lock: two processes opening an empty database migrate once
_LOCK = threading.Lock()


def has_column(conn: Connection, table: str, name: str) -> bool:
    """Whether ``table`` has column ``name`` in the current schema: migrations that add a column skip it on a
    stamped store that ``create_all`` already made with it. information_schema, because DuckDB has no
    pg_collation for SQLAlchemy's PostgreSQL-style inspector."""
    return conn.execute(text(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = :t AND column_name = :c"), {"t": table, "c": name}).scalar() > 0


def register_duckdb() -> None:
    """Teach Alembic the `duckdb` dialect (duckdb_engine ships no Alembic implementation)."""
    from alembic.ddl import impl

    if "duckdb" in impl._impls:
        return

    class DuckDBImpl(impl.DefaultImpl):  # defining it registers it for the dialect name
        __dialect__ = "duckdb"
        transactional_ddl = True


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def require_current(engine: Engine) -> None:
    """A read-only open of a store an older negaudit wrote: one line saying how to upgrade it, not a stack trace
    at the first column this version reads (a read-only command never migrates). Revisions are zero-padded
    numbers, so an older one sorts before HEAD; a newer one is left to the commands that can read it."""
    with engine.connect() as conn:
        rev = current_revision(conn)
        if rev is None and not inspect(conn).has_table("judgments"):
            return  # no negaudit data: the caller says so
    if rev is None or rev < HEAD:
        shown = "from before migrations" if rev is None else rev
        raise NegauditError(f"this store is at schema revision {shown}; this negaudit reads {HEAD}: upgrade it once "
                            "with any command that writes to it (e.g. `negaudit serve`, or `negaudit users add`), "
                            "then run this again")


def migrate(engine: Engine) -> str:
    """Bring the database to HEAD; returns what was done: current | upgraded | stamped."""
    with _LOCK, engine.begin() as conn:  # threads of one process (DuckDB: the only writer)
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        rev = current_revision(conn)
        if rev == HEAD:
            return "current"
        from alembic import command

        register_duckdb()
        cfg = alembic_config(conn)
        done = "upgraded"
        if rev is None and inspect(conn).has_table("judgments"):
            command.stamp(cfg, INITIAL)  # made by create_all before migrations: it is 0001
            done = "stamped"
        try:
            command.upgrade(cfg, "head")
        except Exception as exc:  # e.g. a revision written by a newer negaudit
            if "Can't locate revision" in str(exc):
                raise NegauditError(
                    f"the database is at schema revision {rev!r}, which this negaudit does not "
                    f"know (newest here: {HEAD}); upgrade negaudit") from None
            raise
        return done

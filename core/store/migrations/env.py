"""Alembic environment: the store's metadata, on the connection `core.store.migrate` hands over.

From the command line (`alembic upgrade head`, `alembic revision --autogenerate -m ...` in the
repository root) the database is `-x db=URL`, else `$NEGAUDIT_DB`, else ./negaudit.duckdb.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from core.store import migrate, schema

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=schema.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")

connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from core.store.engine import make_engine, resolve_url

    engine = make_engine(resolve_url(context.get_x_argument(as_dictionary=True).get("db")))
    migrate.register_duckdb()
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()

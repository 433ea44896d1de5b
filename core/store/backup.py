"""A consistent, self-contained copy of a DuckDB store, taken while it is in use.

DuckDB keeps recent writes in `<file>.wal` until a checkpoint, so a copy of the `.duckdb` file alone can
miss the session's judgments, and the file cannot be opened by a second process while the app holds it.
`backup` copies every table from inside the process that holds it (`COPY FROM DATABASE` into a fresh
file), so the copy holds every acknowledged write and needs no `.wal` beside it.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError

from core.store.engine import duckdb_file
from core.store.store import Store
from core.types import NegauditError, Role

if TYPE_CHECKING:
    from core.auth import User

SUFFIX = ".duckdb"


def default_backup_path(store: Store, folder: str | os.PathLike = ".negaudit/backups") -> Path:
    """`<folder>/<store file stem>-<UTC time>.duckdb`: one new file per backup, never an old one."""
    file = duckdb_file(store.url)
    stem = file.stem if file else "negaudit"
    base = Path(folder).expanduser() / f"{stem}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    path, n = base.with_name(base.name + SUFFIX), 1
    while path.exists():  # two backups in one second
        n += 1
        path = base.with_name(f"{base.name}-{n}{SUFFIX}")
    return path


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def backup(store: Store, out: str | os.PathLike, overwrite: bool = False, actor: User | None = None) -> Path:
    """Write a copy of `store` to `out` (a `.duckdb` file); returns its resolved path.

    The copy holds the accounts' password hashes, so from the app (`actor` given) it is for admins;
    `actor` None is the CLI, which holds the database file already. The copy is written beside `out`
    under a temporary name and renamed when complete, so a failure leaves no half-written backup.
    PostgreSQL stores are backed up with the server's tools.
    """
    if actor is not None:
        from core.auth import require_role

        require_role(actor, Role.ADMIN)
    if not store.is_duckdb:
        raise NegauditError("backup copies DuckDB stores; back up a PostgreSQL store with pg_dump")
    path = Path(out).expanduser()
    if path.suffix != SUFFIX:
        raise NegauditError(f"--out {path} must end in {SUFFIX} (the backup is a DuckDB file)")
    path = path.resolve()
    if path == duckdb_file(store.url).resolve():
        raise NegauditError(f"--out {path} is the database itself; pick another file")
    if path.exists() and not overwrite:
        raise NegauditError(f"{path} exists; pass --overwrite or pick another --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{SUFFIX}")
    alias = f"backup_{uuid.uuid4().hex[:12]}"
    try:
        with store.engine.connect() as conn:  # the holding process's own connection: no second lock
            source = conn.exec_driver_sql("SELECT current_database()").scalar()
            conn.exec_driver_sql(f"ATTACH {_quoted(tmp)} AS {alias} (READ_WRITE)")  # also from a read-only open
            try:
                conn.exec_driver_sql(f'COPY FROM DATABASE "{source.replace(chr(34), chr(34) * 2)}" TO {alias}')
                conn.commit()
            finally:
                conn.rollback()
                conn.exec_driver_sql(f"DETACH {alias}")
                conn.commit()
        os.replace(tmp, path)
    except DBAPIError as exc:
        raise NegauditError(f"backup to {path} failed: {str(exc.orig).splitlines()[0]}") from None
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return path

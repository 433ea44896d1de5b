"""`negaudit backup [--out FILE]` — a self-contained copy of a DuckDB store (no `.wal` needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.cli.common import DbOption, open_store


def backup(
    out: Annotated[Path | None, typer.Option(
        "--out", help="a new .duckdb file (default: .negaudit/backups/<db>-<UTC time>.duckdb)")] = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --out file"),
    db: DbOption = None,
) -> None:
    """Copy every dataset, judgment and account into one DuckDB file that needs no .wal beside it.

    A running app holds the file: use Admin -> Backup in the app then (the same copy, taken while
    annotators work)."""
    from core.store.backup import backup as write_backup
    from core.store.backup import default_backup_path
    from core.types import StoreLockedError

    try:
        store = open_store(db, read_only=True)
    except StoreLockedError:
        from core.store.engine import duckdb_file, resolve_url

        path = duckdb_file(resolve_url(db, create=False))
        raise StoreLockedError(f"{path} is in use by another process (usually the running app): back it up "
                               "there, Admin -> Backup (a consistent copy, taken while annotators work), or "
                               "stop the app and run this again") from None
    with store:
        path = write_backup(store, out or default_backup_path(store), overwrite=overwrite)
    typer.echo(f"backed up to {path} ({path.stat().st_size / 2**20:,.1f} MiB)")


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)

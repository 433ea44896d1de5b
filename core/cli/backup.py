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

    A running app holds the file: use Admin -> Review settings -> Back up in the app then."""
    from core.store.backup import backup as write_backup
    from core.store.backup import default_backup_path

    with open_store(db, read_only=True) as store:
        path = write_backup(store, out or default_backup_path(store), overwrite=overwrite)
    typer.echo(f"backed up to {path} ({path.stat().st_size / 2**20:,.1f} MiB)")


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)

"""Options and helpers shared by the command modules."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

DbOption = Annotated[
    Optional[str],
    typer.Option("--db", help="DuckDB file or SQLAlchemy URL (default: $NEGAUDIT_DB or ./negaudit.duckdb)"),
]


def open_store(db: str | None, read_only: bool = False):  # noqa: ANN201 - lazy import
    from core.store import Store

    return Store.open(db, read_only=read_only)


def console():  # noqa: ANN201
    from rich.console import Console

    return Console()

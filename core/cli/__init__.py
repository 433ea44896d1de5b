"""`negaudit` command line: a table of thin subcommands over `core` (heavy imports stay lazy)."""

from __future__ import annotations

import importlib
import sys

import typer

from core.types import NegauditError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Audit mined hard negatives for false negatives and pooling bias.",
)

# Each module registers its commands on `app` (or adds a sub-typer) when imported.
COMMAND_MODULES = ["datasets", "ingest", "pipeline", "cache", "bench", "serve", "users", "export"]


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"core.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"core.cli.{name}":
                continue  # a command group not built yet
            raise
        mod.register(app)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one clear line and exit 2, never a traceback."""
    try:
        app(args=argv, standalone_mode=True)
    except NegauditError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)

"""`negaudit` command line: a table of thin subcommands over `core` (heavy imports stay lazy)."""

from __future__ import annotations

import importlib
import os
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
        code = 0
    except SystemExit as exc:  # click's standalone mode ends every run this way
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except NegauditError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        code = 2
    if "torch" in sys.modules and argv is None:
        # Every store is closed by now. Interpreter teardown with torch loaded makes DuckDB's
        # nanobind bindings print pages of spurious "leaked" warnings; skip that teardown.
        # Only as the console script: called in-process with argv (tests), _exit would end the
        # caller — pytest would stop mid-suite with exit code 0.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)

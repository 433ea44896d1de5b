"""`negaudit` command line: a table of thin subcommands over `core` (heavy imports stay lazy)."""

from __future__ import annotations

import errno
import functools
import importlib
import os
import sys
from typing import Any

import typer
import typer.main

# typer 0.29 vendors click (pinned in pyproject); its exception classes live here.
from typer._click import exceptions as click_exc

from core.types import NegauditError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Audit mined hard negatives for false negatives and pooling bias.",
)

def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        from core.risk import SCORER_VERSION

        typer.echo(f"negaudit {version('negaudit')} (scorer {SCORER_VERSION})")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version (and the scorer's) and exit")) -> None:
    """Audit mined hard negatives for false negatives and pooling bias."""


# Each module registers its commands on `app` (or adds a sub-typer) when imported.
COMMAND_MODULES = ["datasets", "ingest", "pipeline", "cache", "bench", "serve", "users", "export", "backup"]


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"core.cli.{name}").register(app)


_register()


@functools.cache
def _command() -> Any:
    """The click command tree, built once: typer rebuilds it on every `app()` call (~70 ms).

    Flags lose the `<bool>` typer's help gives them: `--replace true` is an error, not a value."""
    cmd = typer.main.get_command(app)
    todo = [cmd]
    while todo:
        c = todo.pop()
        todo.extend((getattr(c, "commands", None) or {}).values())
        for p in c.params:
            if getattr(p, "is_flag", False):
                p.metavar = ""
    return cmd


def _error(message: str) -> int:
    typer.secho(f"error: {message}", fg="red", err=True)
    return 2


def _run(argv: list[str] | None) -> int:
    """Run one command; every user error becomes one `error: ...` line on stderr and code 2."""
    try:
        rv = _command().main(args=argv, prog_name="negaudit", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except click_exc.NoArgsIsHelpError as exc:  # bare `negaudit` / `negaudit bench`: the help
        typer.echo(exc.format_message(), err=True)
        return 2
    except click_exc.UsageError as exc:  # parse errors, out-of-range values, bad paths
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        return _error(exc.format_message().rstrip() + hint)
    except click_exc.ClickException as exc:
        return _error(exc.format_message())
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    except NegauditError as exc:
        return _error(str(exc))
    except OSError as exc:  # a path the OS refused mid-run (disk full, permissions, ...)
        if exc.errno == errno.EPIPE:
            return 1
        where = f": {exc.filename}" if exc.filename else ""
        return _error(f"{exc.strerror or exc}{where}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one clear line and exit 2, never a traceback."""
    code = _run(argv)
    if "torch" in sys.modules and argv is None:
        # Every store is closed by now. Interpreter teardown with torch loaded makes DuckDB's
        # nanobind bindings print pages of spurious "leaked" warnings; skip that teardown.
        # Only as the console script: called in-process with argv (tests), _exit would end the
        # caller — pytest would stop mid-suite with exit code 0.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)

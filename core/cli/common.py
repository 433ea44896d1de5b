"""Options, validators and helpers shared by the command modules.

Validators run while typer parses the command line (callbacks, `min=`/`max=`) or first thing in a
command body, before any store opens or model loads: a misuse costs milliseconds, and `main`
turns every one into a single `error: ...` line with exit code 2.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated

import typer

# Seeds reach numpy, random.Random and SQL hashes (BIGINT on PostgreSQL): one range for all.
SEED_MAX = 2**32 - 1
# A model folder holds one of these: modules.json (sentence-transformers) or config.json (plain HF).
MODEL_FILES = ("modules.json", "config.json")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="DuckDB file or PostgreSQL URL (default: $NEGAUDIT_DB or ./negaudit.duckdb)"),
]


OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="replace an existing output")]


def _bad(option: str, message: str) -> typer.BadParameter:
    return typer.BadParameter(message, param_hint=f"'{option}'")


def unit_interval(value: float | None) -> float | None:
    """Callback for thresholds and probabilities: a finite number in [0, 1] (FloatRange lets NaN by)."""
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise typer.BadParameter(f"{value} is not a number in [0, 1].")
    return value


def interval(lo: float, hi: float):
    """Callback factory: a finite number in [lo, hi] or nothing (FloatRange lets NaN by)."""

    def check(value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and lo <= value <= hi):
            raise typer.BadParameter(f"{value} is not a number in [{lo:g}, {hi:g}].")
        return value

    return check


def seed_list(value: str) -> str:
    """Callback for comma-separated seeds: each an integer in [0, SEED_MAX], at least one."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or not all(p.isascii() and p.isdigit() and int(p) <= SEED_MAX for p in parts):
        raise typer.BadParameter(f"{value!r} is not a comma-separated list of seeds "
                                 f"(integers in [0, {SEED_MAX}]).")
    return value


def choice_list(allowed: tuple[str, ...]):
    """Callback factory for comma-separated names that must all come from `allowed`."""

    def check(value: str) -> str:
        names = [p.strip() for p in value.split(",") if p.strip()]
        unknown = [n for n in names if n not in allowed]
        if not names:
            raise typer.BadParameter(f"give at least one of {', '.join(allowed)}.")
        if unknown:
            raise typer.BadParameter(f"{', '.join(unknown)} is not one of {', '.join(allowed)}.")
        return value

    return check


def model_folder(value: str | None) -> str | None:
    """Callback for `--model`: a local sentence-transformers folder, checked without loading it."""
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.exists():
        raise typer.BadParameter(f"{value} does not exist (models load from local folders only).")
    if not path.is_dir():
        raise typer.BadParameter(f"{value} is a file; give a sentence-transformers model folder.")
    found = [path / f for f in MODEL_FILES if (path / f).is_file()]
    if not found:
        raise typer.BadParameter(f"{value} is not a model folder (it has neither "
                                 f"{' nor '.join(MODEL_FILES)}).")
    for f in found:
        try:
            json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise typer.BadParameter(f"{f} is not valid JSON ({exc}).") from None
    return value


def _nearest_existing(path: Path) -> Path:
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def check_output(path: Path, option: str = "--out", *, overwrite: bool = False,
                 folder: bool = False) -> None:
    """Refuse an output that exists (unless --overwrite) or cannot be created, before any work.

    `folder`: the output is a directory (an existing empty one is fine); otherwise a file.
    Missing parent folders are fine: the writers create them.
    """
    if path.exists():
        if folder and not path.is_dir():
            raise _bad(option, f"{path} is a file; this format writes a folder.")
        if not folder and path.is_dir():
            raise _bad(option, f"{path} is a folder; give a file name.")
        if not overwrite and (not folder or any(path.iterdir())):
            raise _bad(option, f"{path} exists; pass --overwrite or pick another path.")
        if not os.access(path, os.W_OK):
            raise _bad(option, f"{path} is not writable.")
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise _bad(option, f"cannot create {path}: {base} is a file, not a folder.")
    if not os.access(base, os.W_OK | os.X_OK):
        raise _bad(option, f"cannot create {path}: {base} is not writable.")


def open_store(db: str | None, read_only: bool = False):
    from core.store import Store

    return Store.open(db, read_only=read_only)


def console():
    """Rich output; into a pipe or file (no terminal to fit) tables get 160 columns, not rich's 80, so
    `negaudit datasets > list.txt` keeps names and headers whole. $COLUMNS still wins."""
    import os
    import sys

    from rich.console import Console

    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    return Console(width=160) if piped else Console()

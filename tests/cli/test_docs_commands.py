"""Every `negaudit ...` command line in README.md and docs/ names commands and options the CLI has.

A newcomer copies these lines first; one that fails with "No such option" (docs/benchmarks.md once
showed `negaudit bench mining --orders both`, an option only `python -m core.bench.mining` had) is
a broken first page. Values are not checked (paths, data), only the command path and option names.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from core.cli import _command

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SPAN = re.compile(r"`([^`\n]+)`")
SEPARATORS = re.compile(r";|&&|\|\||\|(?![^{]*\})")


def _code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) of fenced code lines (continuations joined) and of inline code spans."""
    out: list[tuple[int, str]] = []
    fenced, pending, start = False, "", 0
    for no, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced, pending = not fenced, ""
            continue
        if fenced:
            if not pending:
                start = no
            pending += line.rstrip().removesuffix("\\") + " "
            if not line.rstrip().endswith("\\"):
                out.append((start, pending))
                pending = ""
        else:
            out += [(no, m.group(1)) for m in SPAN.finditer(line)]
    return out


def _commands(text: str) -> list[tuple[int, list[str]]]:
    """Each `negaudit` invocation as its argument tokens, comments and shell glue removed."""
    found = []
    for no, line in _code_lines(text):
        line = re.sub(r"\s#.*$", "", line)
        for part in SEPARATORS.split(line):
            words = part.split()
            while words and (re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]) or words[0] in ("time", "uv", "run")):
                words.pop(0)  # ENV=value prefixes
            if not words or words[0] not in ("negaudit", ".venv/bin/negaudit"):
                continue
            try:
                tokens = shlex.split(" ".join(words[1:]))
            except ValueError:
                tokens = words[1:]
            found.append((no, tokens))
    return found


def _check(tokens: list[str]) -> str | None:
    """None if the command path and every option exist, else what is wrong."""
    cmd = _command()  # typer's click tree (typer vendors click: duck-typed below)
    path = ["negaudit"]
    rest = list(tokens)
    while hasattr(cmd, "commands") and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        if name.startswith("{") or name in ("…", "...", "COMMAND"):
            return None  # a placeholder for several commands
        sub = cmd.commands.get(name)
        if sub is None:
            return f"`{' '.join(path)}` has no command {name!r}"
        cmd, path = sub, path + [name]
    known = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)} | {"--help"}
    for tok in rest:
        tok = tok.strip("[]()")
        if tok.startswith("--") and len(tok) > 2:
            name = tok.split("=", 1)[0]
            if name not in known:
                return f"`{' '.join(path)}` has no option {name}"
    return None


def _doc_commands() -> list[tuple[str, list[str]]]:
    cases = []
    for doc in DOCS:
        for no, tokens in _commands(doc.read_text(encoding="utf-8")):
            cases.append((f"{doc.relative_to(ROOT)}:{no}", tokens))
    return cases


CASES = _doc_commands()


def test_the_docs_show_commands() -> None:
    """The scan finds the README's command block and the benchmark commands (else it checks nothing)."""
    where = {w.split(":")[0] for w, _ in CASES}
    assert "README.md" in where and "docs/benchmarks.md" in where
    assert len(CASES) >= 40


@pytest.mark.parametrize(("where", "tokens"), CASES, ids=[w for w, _ in CASES])
def test_documented_command_exists(where: str, tokens: list[str]) -> None:
    problem = _check(tokens)
    assert problem is None, f"{where}: `negaudit {' '.join(tokens)}`: {problem}"


def test_the_check_catches_a_wrong_option_and_command() -> None:
    assert _check(["bench", "mining", "data/scifact", "--no-such-flag"]) is not None
    assert _check(["bench", "no-such-bench"]) is not None
    assert _check(["export", "--name", "x", "--format", "triplet", "--out", "o.parquet"]) is None

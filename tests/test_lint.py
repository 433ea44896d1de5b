"""The tree stays ruff-clean with the pinned ruff and the rules in pyproject.toml ([tool.ruff])."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = Path(sys.executable).with_name("ruff")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("ruff")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ruff missing under CI=true (`make test` installs the dev extras)", pytrace=False)
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    return [found]


def test_ruff_finds_nothing() -> None:
    out = subprocess.run([*_ruff(), "check", "--output-format", "concise", str(ROOT)], check=False,
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_would_catch_a_finding(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")  # unused import: F401
    cfg = ROOT / "pyproject.toml"
    out = subprocess.run([*_ruff(), "check", "--config", str(cfg), str(bad)], check=False,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "F401" in out.stdout, out.stdout + out.stderr

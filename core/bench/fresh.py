"""One variant per fresh process, the way the encoder benches (throughput, onnx) measure.

A fresh process has no warm caches and its own thread pools, so each figure is that variant's alone.
The bench module runs itself as the child (``python -m core.bench.X --<variant option> ...
--result-json F``) and the parent collects the JSON; this module is that round trip and the
command line both sides share.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def bench_parser(doc: str, default_dir: Path) -> argparse.ArgumentParser:
    """The options every such bench has: the BEIR folder (positional or ``--beir-dir``), the
    child's ``--result-json`` and the parent's ``--json`` copy of the result."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("beir_dir", nargs="?", default=str(default_dir))
    p.add_argument("--beir-dir", dest="beir_dir_opt")
    p.add_argument("--result-json")
    p.add_argument("--json", dest="json_out")
    return p


def bench_main(parser: argparse.ArgumentParser, argv: list[str] | None, variant: str,
               child: Callable[[argparse.Namespace], dict[str, Any]],
               parent: Callable[[argparse.Namespace], dict[str, Any]]) -> None:
    """Child when ``--<variant>`` is given (one variant, result to ``--result-json``), else parent."""
    args = parser.parse_args(argv)
    args.beir_dir = args.beir_dir_opt or args.beir_dir
    if getattr(args, variant):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        Path(args.result_json).write_text(json.dumps(child(args)))
        return
    result = parent(args)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))


def run_fresh(module: str, options: list[str], what: str) -> dict[str, Any]:
    """``python -m module *options`` offline in a fresh process: its result, plus the 1-minute load
    average just before (``load_1m_before``) and just after (``load_1m_after``)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    cmd = [sys.executable, "-m", module, *options, "--result-json", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    before = os.getloadavg()[0]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{what} failed:\n{proc.stderr[-3000:]}")
        res = json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)
    res["load_1m_before"], res["load_1m_after"] = before, os.getloadavg()[0]
    return res

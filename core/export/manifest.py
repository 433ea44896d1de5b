"""The provenance written beside every export: what went in, which choices, what came out."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_entries(paths: list[Path], root: Path) -> list[dict[str, Any]]:
    """path (relative to `root`), bytes and sha256 of each written file."""
    return [{"path": p.relative_to(root).as_posix(), "bytes": p.stat().st_size,
             "sha256": sha256_file(p)} for p in sorted(paths)]


def manifest_path(out: Path) -> Path:
    """A folder export holds `manifest.json`; a file export gets `<file>.manifest.json` beside it."""
    return out / MANIFEST_NAME if out.is_dir() else out.with_name(f"{out.name}.{MANIFEST_NAME}")


def utc_timestamp() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest, with the BM25 tokeniser (stemmer) identity: same data, same scores."""
    from core.export.atomic import atomic_file
    from core.mining.bm25 import TOKENIZER_ID

    manifest = {**manifest, "bm25_tokenizer": TOKENIZER_ID}
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n",
                       encoding="utf-8")


def verify_manifest(path: Path) -> list[str]:
    """Files whose sha256 no longer matches the manifest (empty when the export is intact)."""
    m = json.loads(Path(path).read_text(encoding="utf-8"))
    root = Path(path).parent
    bad = []
    for entry in m.get("files", []):
        f = root / entry["path"]
        if not f.exists() or sha256_file(f) != entry["sha256"]:
            bad.append(entry["path"])
    return bad

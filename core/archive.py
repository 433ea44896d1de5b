"""An export on the server as bytes a browser can download: the file itself, or a zip of a folder."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from core.types import NegauditError

MIME = {".parquet": "application/vnd.apache.parquet", ".jsonl": "application/jsonl",
        ".json": "application/json", ".csv": "text/csv", ".tsv": "text/tab-separated-values",
        ".zip": "application/zip"}
# A fixed timestamp: the same folder always zips to the same bytes.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _files(root: Path) -> list[Path]:
    """Regular files under root, sorted; symlinked files and folders are not followed."""
    out: list[Path] = []
    for dirpath, _dirs, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        out += [d / f for f in filenames if (d / f).is_file() and not (d / f).is_symlink()]
    return sorted(out)


def zip_folder(folder: str | Path) -> bytes:
    """Every regular file under `folder` (paths relative to it, sorted), deflated.

    Symlinks are left out: an export folder holds only what the writers made, and a link could
    point anywhere on the server.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NegauditError(f"{root}: not a folder")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in _files(root):
            info = zipfile.ZipInfo(p.relative_to(root).as_posix(), date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, p.read_bytes())
    return buf.getvalue()


def download(path: str | Path) -> tuple[bytes, str, str]:
    """(data, file name, mime type) for an export: a file as is, a folder as `<name>.zip`."""
    p = Path(path)
    if p.is_dir():
        return zip_folder(p), f"{p.name}.zip", MIME[".zip"]
    if p.is_file():
        return p.read_bytes(), p.name, MIME.get(p.suffix.lower(), "application/octet-stream")
    raise NegauditError(f"{p}: no such export")

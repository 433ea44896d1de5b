"""Export downloads: a file as is, a folder as a deterministic zip without symlinks."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from core.archive import download, zip_folder
from core.types import NegauditError


def test_folder_zips_files_only_and_deterministically(tmp_path):
    out = tmp_path / "beir"
    (out / "qrels").mkdir(parents=True)
    (out / "corpus.jsonl").write_text('{"_id": "1"}\n')
    (out / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("server secret")
    os.symlink(secret, out / "link.txt")
    os.symlink(tmp_path, out / "loop")
    data, name, mime = download(out)
    assert name == "beir.zip" and mime == "application/zip"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["corpus.jsonl", "qrels/test.tsv"]
        assert zf.read("corpus.jsonl") == b'{"_id": "1"}\n'
    assert zip_folder(out) == data


def test_file_and_missing(tmp_path):
    f = tmp_path / "t.parquet"
    f.write_bytes(b"PAR1")
    assert download(f) == (b"PAR1", "t.parquet", "application/vnd.apache.parquet")
    with pytest.raises(NegauditError, match="no such export"):
        download(tmp_path / "nope")

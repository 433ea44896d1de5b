"""Issue 13: the export manifest records which BM25 tokeniser (stemmer) the scores came from."""

from __future__ import annotations

import json

from core.export.manifest import write_manifest
from core.mining import TOKENIZER_ID
from core.risk import SCORER_VERSION


def test_manifest_and_scorer_version_name_the_stemmer(tmp_path):
    path = tmp_path / "manifest.json"
    write_manifest(path, {"negaudit_manifest": 1, "scorer_versions": [SCORER_VERSION]})
    man = json.loads(path.read_text())
    assert man["bm25_tokenizer"] == TOKENIZER_ID
    assert "PyStemmer-" in TOKENIZER_ID and "snowball-english" in TOKENIZER_ID
    assert SCORER_VERSION.endswith(f"+{TOKENIZER_ID}")

"""`negaudit cache info|clear` on a real cache: embeddings from the fixture export and a real BM25 index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core import encoders as MO
from core import mining as M
from core.encoders.cache import cache_usage, export_model_id
from tests.cli.test_misuse import assert_misuse, negaudit

FX = Path(__file__).resolve().parents[1] / "fixtures" / "mining"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A cache root holding one model's vectors (seeded from the fixture's export) and one BM25 index."""
    root = tmp_path / "cache"
    monkeypatch.setenv("NEGAUDIT_CACHE", str(root))
    MO.seed_cache(FX / "embeddings.npz", root)
    docs = [json.loads(line) for line in (FX / "corpus.jsonl").read_text().splitlines()]
    M.Bm25Index.cached([d["text"] for d in docs])  # the default root: $NEGAUDIT_CACHE/bm25
    return root


def test_info_names_every_folder_with_what_it_holds(cache):
    rows = {r["folder"]: r for r in cache_usage(cache)}
    mid = export_model_id(FX / "embeddings.npz")
    model_folder = MO.EmbeddingCache(cache).folder(mid).name
    assert rows[model_folder]["kind"] == "embeddings"
    assert rows[model_folder]["entries"] == MO.EmbeddingCache(cache).count(mid) == len(MO.load_embeddings(
        FX / "embeddings.npz").ids)
    assert rows["bm25"] == {"folder": "bm25", "kind": "bm25 indexes", "entries": 1,
                            "bytes": sum(f.stat().st_size for f in (cache / "bm25").rglob("*") if f.is_file())}
    res = negaudit("cache", "info")
    assert res.code == 0, res.err
    assert str(cache) in res.out and model_folder in res.out and "bm25 indexes" in res.out and "total" in res.out


def test_clear_says_what_would_go_and_removes_only_with_yes(cache):
    mid_folder = next(r["folder"] for r in cache_usage(cache) if r["kind"] == "embeddings")
    dry = negaudit("cache", "clear", "--bm25")
    assert dry.code == 0 and "would remove" in dry.out and "--yes" in dry.out
    assert (cache / "bm25").is_dir()
    done = negaudit("cache", "clear", "--bm25", "--yes")
    assert done.code == 0 and "freed" in done.out
    assert not (cache / "bm25").exists() and (cache / mid_folder).is_dir()  # the vectors stay
    assert negaudit("cache", "clear", "--bm25", "--yes").out.startswith("nothing to clear")
    negaudit("cache", "clear", "--model", mid_folder, "--yes")
    assert cache_usage(cache) == []
    assert "empty" in negaudit("cache", "info").out


def test_clear_misuse_names_the_choices(cache):
    assert_misuse(negaudit("cache", "clear"), "--bm25", "--model")
    mid_folder = next(r["folder"] for r in cache_usage(cache) if r["kind"] == "embeddings")
    assert_misuse(negaudit("cache", "clear", "--model", "bm25", "--yes"), "'bm25'", mid_folder)
    assert_misuse(negaudit("cache", "clear", "--model", "../..", "--yes"), "'../..'")
    assert (cache / "bm25").is_dir() and np.load(next((cache / mid_folder).glob("*.keys.npy"))).size


def test_import_of_a_bad_file_names_it_and_adds_nothing(cache, tmp_path):
    """Empty, truncated or foreign files: one error line naming the file (numpy's EOFError on an empty file
    once surfaced as a bare "aborted"), and the cache is as it was."""
    before = cache_usage(cache)
    good = (FX / "embeddings.npz").read_bytes()
    for name, data in (("empty.npz", b""), ("head.npz", b"PK\x03\x04"), ("cut.npz", good[:len(good) // 2]),
                       ("text.npz", b"ids,vectors\n")):
        (tmp_path / name).write_bytes(data)
        assert_misuse(negaudit("cache", "import", tmp_path / name), name, "is not an embedding export")
    assert cache_usage(cache) == before

"""The embedding cache alone: keys and arrays on disk, no model (core/encoders/cache.py)."""

from __future__ import annotations

import numpy as np

from core.encoders import cache as C


def test_cache_keeps_digests_that_end_in_nul_bytes(tmp_path):
    """Regression: numpy's |S32 strips trailing NULs, which lost ~1 in 256 keys."""
    texts = [t for t in (f"text {i}" for i in range(5000)) if C.text_key(t)[-1] == 0][:3]
    texts += ["plain", "other"]
    vecs = np.random.default_rng(0).normal(size=(len(texts), 8)).astype(np.float32)
    cache = C.EmbeddingCache(tmp_path)
    cache.put("m", [C.text_key(t) for t in texts], vecs)
    hit, got = C.EmbeddingCache(tmp_path).lookup("m", [C.text_key(t) for t in texts])
    assert hit.all() and np.array_equal(got, vecs)
    path = C.write_embeddings(tmp_path / "e.npz", "m", list("abcde"), [C.text_key(t) for t in texts], vecs)
    assert C.load_embeddings(path).text_sha256 == [C.text_key(t) for t in texts]


def test_compact_merges_shards_and_keeps_every_vector(tmp_path):
    rng = np.random.default_rng(1)
    cache = C.EmbeddingCache(tmp_path)
    keys = [C.text_key(f"t{i}") for i in range(30)]
    vecs = rng.normal(size=(30, 4)).astype(np.float32)
    for start in range(0, 30, 10):
        cache.put("m", keys[start : start + 10], vecs[start : start + 10])
    assert len(list((tmp_path / "m").glob("shard-*.keys.npy"))) == 3
    assert cache.compact("m") == 30
    assert len(list((tmp_path / "m").glob("shard-*.keys.npy"))) == 1
    hit, got = C.EmbeddingCache(tmp_path).lookup("m", keys[::-1])
    assert hit.all() and np.array_equal(got, vecs[::-1])


def test_the_cache_imports_no_encoder():
    """The encoders call the cache, never the reverse."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(C.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m.startswith("core.")} - {"core.types"}

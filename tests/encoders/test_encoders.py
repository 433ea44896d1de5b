"""Model loading, model ids, encoding through the embedding cache: the real packaged MiniLM, a few short texts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import encoders as M

FIXTURE = Path(__file__).parents[1] / "fixtures" / "mining" / "embeddings.npz"
TEXTS = [
    "Vitamin D deficiency is associated with higher fracture risk.",
    "Statins lower LDL cholesterol.",
    "Green tea contains catechins.",
    "Vitamin D deficiency is associated with higher fracture risk.",  # duplicate
    "Aspirin reduces the risk of a second heart attack.",
    "",
]


def test_doc_text_follows_beir_convention():
    assert M.doc_text("Title", "Body") == "Title Body"
    assert M.doc_text("", "Body") == "Body"
    assert M.doc_text(None, "Body") == "Body"
    assert M.doc_text("  ", "Body") == "Body"


def test_model_id_is_the_same_for_default_path_and_loaded_model(bi_encoder):
    mid = M.model_id(None, encoder="torch")
    assert mid.startswith("all-MiniLM-L6-v2-")
    assert M.model_id(str(M.default_model_path()), encoder="torch") == mid
    assert M.model_id(bi_encoder) == mid
    assert M.DEFAULT_ENCODER == "auto" and M.model_id(None) == f"{mid}-{M.default_encoder()}"  # issue 16


def test_model_id_changes_with_the_config(tmp_path):
    src = M.default_model_path()
    dst = tmp_path / "minilm-128"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.safetensors"))
    (dst / "model.safetensors").symlink_to(src / "model.safetensors")
    (dst / "sentence_bert_config.json").write_text(
        '{"max_seq_length": 128, "do_lower_case": false}'
    )
    assert M.model_id(dst) != M.model_id(None)


def test_missing_model_path_says_offline(tmp_path):
    with pytest.raises(FileNotFoundError, match="local folders only"):
        M.load_bi_encoder(tmp_path / "nope")


def test_encode_texts_dedups_caches_and_matches_the_model(bi_encoder, tmp_path):
    emb, stats = M.encode_texts_with_stats(bi_encoder, TEXTS, cache=tmp_path)
    assert emb.shape == (len(TEXTS), 384) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert (stats.requested, stats.unique, stats.cache_hits, stats.encoded) == (6, 5, 0, 5)
    assert np.array_equal(emb[0], emb[3])
    direct = bi_encoder.encode(TEXTS[:3], normalize_embeddings=True)
    assert np.allclose(emb[:3], direct, atol=1e-5)

    again, stats = M.encode_texts_with_stats(bi_encoder, TEXTS, cache=tmp_path)
    assert stats.encoded == 0 and stats.cache_hits == 5
    assert np.array_equal(again, emb)
    assert np.array_equal(M.encode_texts(bi_encoder, TEXTS, cache=tmp_path), emb)

    # a fresh cache object (another process) sees the same shards; only the new text is encoded
    more, stats = M.encode_texts_with_stats(None, TEXTS + ["Coffee and sleep."],
                                            cache=M.EmbeddingCache(tmp_path), encoder="torch")
    assert stats.encoded == 1
    assert np.allclose(more[:6], emb)


def test_cache_disabled_encodes_every_time(bi_encoder):
    M.encode_texts(bi_encoder, TEXTS[:2], cache=False)
    _, stats = M.encode_texts_with_stats(bi_encoder, TEXTS[:2], cache=False)
    assert stats.encoded == 2


def test_float16_export_roundtrip_seeds_the_cache(bi_encoder, tmp_path):
    texts = TEXTS[:3] + TEXTS[4:5]
    emb = M.encode_texts(bi_encoder, texts, cache=False)
    path = M.save_embeddings(
        tmp_path / "emb.npz", ["a", "b", "c", "d"], texts, emb, model=bi_encoder
    )
    ef = M.load_embeddings(path)
    assert ef.ids == ["a", "b", "c", "d"] and ef.model_id == M.model_id(None, encoder="torch")
    assert ef.embeddings.dtype == np.float32
    assert np.abs(ef.embeddings - emb).max() < 2e-3
    assert (ef.embeddings * emb).sum(1).min() > 0.9999

    cache = tmp_path / "cache"
    assert M.seed_cache(path, cache) == 4
    assert M.seed_cache(path, cache) == 0  # idempotent
    got, stats = M.encode_texts_with_stats(bi_encoder, texts, cache=cache)
    assert stats.encoded == 0
    assert np.abs(got - emb).max() < 2e-3


def test_fully_cached_run_never_imports_torch(tmp_path):
    """A cached re-run must be cheap: no model load, no torch import."""
    code = f"""
import sys
from core import encoders as M
ef = M.load_embeddings({str(FIXTURE)!r})
M.seed_cache({str(FIXTURE)!r}, {str(tmp_path)!r})
import json
texts = [json.loads(l)["text"] for l in open({str(FIXTURE.parent / "queries.jsonl")!r})]
emb, stats = M.encode_texts_with_stats(None, texts, cache={str(tmp_path)!r}, encoder="torch")
assert stats.encoded == 0, stats
assert emb.shape == (20, 384)
assert "torch" not in sys.modules and "sentence_transformers" not in sys.modules
import core.mining
import core.pipeline
assert "torch" not in sys.modules
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])

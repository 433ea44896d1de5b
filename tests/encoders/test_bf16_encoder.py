"""The machine's default encoder: torch in bf16 autocast where the CPU has AMX bf16, else int8 ONNX.

bf16 runs anywhere (emulated without native units, only slower), so its parity test runs on every
machine; which encoder `auto` picks is checked against /proc/cpuinfo's flags as the code reads them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core import encoders as models
from core.demo import demo_embedding_exports, demo_encoder
from core.encoders.encode import LazyEncoder

FIXTURE = Path(__file__).parents[1] / "fixtures" / "beir_scifact"
AMX = "flags\t\t: fpu vme sse4_2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
NO_AMX = "flags\t\t: fpu vme sse4_2 avx512f avx512_bf16 avx512_vnni\n"


@pytest.fixture(scope="module")
def texts() -> list[str]:
    rows = [json.loads(line) for line in (FIXTURE / "corpus.jsonl").read_text().splitlines()[:24]]
    queries = [json.loads(line)["text"] for line in (FIXTURE / "queries.jsonl").read_text().splitlines()[:8]]
    return [models.doc_text(r.get("title"), r["text"]) for r in rows] + queries


def test_native_bf16_reads_the_amx_flag_only() -> None:
    assert models.native_bf16(AMX)
    assert not models.native_bf16(NO_AMX)  # avx512_bf16 alone: not measured faster, not chosen
    assert not models.native_bf16("")
    assert not models.native_bf16("model name\t: amx_bf16 lookalike\n")  # flags lines only


def test_auto_picks_bf16_only_with_amx(monkeypatch) -> None:
    with open("/proc/cpuinfo") as fh:
        native = models.native_bf16(fh.read())
    expected = "torch-bf16" if native else "onnx-int8-mixed"
    monkeypatch.delenv("NEGAUDIT_ENCODER", raising=False)
    assert models.default_encoder() == expected
    base = models.model_id(None, encoder="torch")
    assert models.model_id(None) == f"{base}-{expected}" == models.model_id(None, encoder="auto")
    monkeypatch.setenv("NEGAUDIT_ENCODER", "onnx-int8-mixed")  # a pinned encoder wins on every machine
    assert models.default_encoder() == "onnx-int8-mixed"


def test_bf16_vectors_are_torch_vectors(bi_encoder, texts) -> None:
    torch_emb = models.encode_texts(bi_encoder, texts, cache=False)
    enc = models.load_encoder(None, "torch-bf16")
    emb = models.encode_texts(enc, texts, cache=False)
    assert emb.dtype == np.float32 and emb.shape == torch_emb.shape
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    cos = (emb * torch_emb).sum(1)
    assert cos.min() > 0.999 and cos.mean() > 0.9999  # measured 0.99996 / 0.99998 on NFCorpus docs
    assert models.model_id(enc) == f"{models.model_id(None, encoder='torch')}-torch-bf16"  # cached apart
    assert enc.encode([]).shape == (0, 0)


def test_encoder_of_reads_the_id_suffix() -> None:
    base = models.model_id(None, encoder="torch")
    for enc in models.ENCODERS:
        assert models.encoder_of(models.model_id(None, encoder=enc)) == enc
    assert models.encoder_of(base) == "torch"
    assert models.encoder_of("supplied-e5-large") is None and models.encoder_of(f"{base}-tensorrt") is None


def test_lazy_encoder_loads_nothing_when_all_is_cached(tmp_path, texts) -> None:
    cache = models.EmbeddingCache(tmp_path)
    models.encode_texts(None, texts[:4], cache=cache, encoder="torch-bf16")
    lazy = LazyEncoder(None, "torch-bf16")
    _, stats = models.encode_texts_with_stats(lazy, texts[:4], cache=cache)
    assert stats.encoded == 0 and lazy._model is None  # every vector from the cache: no runtime loaded
    _, stats = models.encode_texts_with_stats(lazy, texts[:6], cache=cache)
    assert stats.encoded == 2 and lazy._model is not None


def test_the_demo_runs_the_encoder_its_committed_vectors_came_from() -> None:
    exports = demo_embedding_exports()
    assert exports, "data/ holds the demo's embedding export"
    mid = models.load_embeddings(exports[0]).model_id
    assert demo_encoder() == models.encoder_of(mid) == "onnx-int8-mixed"

"""The onnxruntime encoder (torch.onnx.export of the packaged MiniLM): parity with torch, cache keyed on the variant."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from core import encoders as models
from core.encoders import onnx as onnx_encoder

FIXTURE = Path(__file__).parents[1] / "fixtures" / "beir_scifact"


@pytest.fixture(scope="module")
def texts() -> list[str]:
    rows = [json.loads(line) for line in (FIXTURE / "corpus.jsonl").read_text().splitlines()[:24]]
    queries = [json.loads(line)["text"] for line in (FIXTURE / "queries.jsonl").read_text().splitlines()[:8]]
    return [models.doc_text(r.get("title"), r["text"]) for r in rows] + queries


@pytest.fixture(scope="module")
def onnx_root(tmp_path_factory):
    """Exports land under $NEGAUDIT_CACHE/onnx: one export (and int8 quantisation) for the module."""
    root = tmp_path_factory.mktemp("onnx-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("NEGAUDIT_CACHE", str(root))
    mp.delenv("NEGAUDIT_ONNX_DIR", raising=False)
    yield root
    mp.undo()
    onnx_encoder.clear_loaded()


@pytest.fixture(scope="module")
def torch_emb(bi_encoder, texts):
    return models.encode_texts(bi_encoder, texts, cache=False)


def test_onnx_fp32_matches_torch(onnx_root, texts, torch_emb):
    enc = models.load_encoder(None, encoder="onnx")
    assert enc.path.is_relative_to(onnx_root)
    emb = models.encode_texts(enc, texts, cache=False)
    assert emb.dtype == np.float32 and emb.shape == torch_emb.shape
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert (emb * torch_emb).sum(1).min() > 0.9999


def test_onnx_int8_stays_close_to_torch(onnx_root, texts, torch_emb):
    emb = models.encode_texts(None, texts, cache=False, encoder="onnx-int8")
    cos = (emb * torch_emb).sum(1)
    assert cos.mean() > 0.99 and cos.min() > 0.97  # per-channel int8 (per-tensor gave 0.94 mean)
    mixed = models.encode_texts(None, texts, cache=False, encoder="onnx-int8-mixed")
    cos_mixed = (mixed * torch_emb).sum(1)
    # the feed-forward output projections in fp32 halve the distance to torch (issue 16)
    assert cos_mixed.mean() > 0.995 and 1 - cos_mixed.mean() < 0.75 * (1 - cos.mean())


def test_mixed_int8_keeps_only_the_down_projections_fp32(onnx_root) -> None:
    import onnx

    enc = models.load_encoder(None, encoder="onnx-int8-mixed")
    fp32 = enc.path.with_name(onnx_encoder.VARIANTS["onnx"])
    kept = onnx_encoder.down_projections(fp32)
    assert len(kept) == 6 and all("/output/dense/" in n and "/attention/" not in n for n in kept)
    ops = [n.op_type for n in onnx.load(str(enc.path)).graph.node]
    assert ops.count("MatMulInteger") == 30  # 6 layers x (Q, K, V, attention output, FFN input)


def test_batching_and_order_do_not_change_vectors(onnx_root, texts):
    enc = models.load_encoder(None, encoder="onnx")
    a = enc.encode(texts, batch_size=64)
    b = enc.encode(texts[::-1], batch_size=5)[::-1]
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_token_batches_bound_padded_tokens_and_texts() -> None:
    lengths = np.array([256, 250, 200, 40, 12, 12, 11, 9, 9, 8, 3])  # sorted longest first
    batches = onnx_encoder.token_batches(lengths, max_texts=6, max_tokens=512)
    assert [(b.start, b.stop) for b in batches] == [(0, 2), (2, 4), (4, 10), (10, 11)]
    for b in batches:  # a batch pads to its first text
        assert (b.stop - b.start) * lengths[b.start] <= 512 and b.stop - b.start <= 6
    assert [(b.start, b.stop) for b in onnx_encoder.token_batches(np.array([300]), 4, 100)] == [(0, 1)]


def test_portable_encoder_is_int8_and_short_texts_batch_together(onnx_root, texts, torch_emb) -> None:
    enc = models.load_encoder(None, "onnx-int8-mixed")  # the default without AMX bf16 (issue 16)
    assert enc.path.name == "model.int8-mixed.onnx" and enc.int8
    queries = texts[-8:]
    one_by_one = np.vstack([enc.encode([q]) for q in queries])
    # dynamic int8 scales activations per batch, so a text's vector moves slightly with its batch
    # (measured cosine >= 0.99); the cache keeps the first one, so a dataset's vectors are stable
    assert (enc.encode(queries, batch_size=2) * one_by_one).sum(1).min() > 0.98
    assert (enc.encode(texts) * torch_emb).sum(1).min() > 0.97


def test_cache_keys_on_the_encoder_variant(onnx_root, texts, monkeypatch):
    base = models.model_id(None, encoder="torch")
    assert models.model_id(None, encoder="onnx-int8") == f"{base}-onnx-int8"
    assert models.model_id(None, encoder="onnx-int8-mixed") == f"{base}-onnx-int8-mixed"  # never all-int8's
    monkeypatch.setenv("NEGAUDIT_ENCODER", "onnx-int8")
    assert models.model_id(None) == f"{base}-onnx-int8"
    cache = models.EmbeddingCache(onnx_root / "emb")
    _, stats = models.encode_texts_with_stats(None, texts[:5], cache=cache)
    assert stats.encoded == 5
    assert cache.count(f"{base}-onnx-int8") == 5 and cache.count(base) == 0
    _, stats = models.encode_texts_with_stats(None, texts[:5], cache=cache, encoder="torch")
    assert stats.encoded == 5  # torch vectors are not served from int8's
    _, stats = models.encode_texts_with_stats(None, texts[:5], cache=cache)
    assert stats.encoded == 0


def test_unknown_encoder_is_a_clear_error(monkeypatch):
    with pytest.raises(ValueError, match="unknown encoder"):
        models.load_encoder(None, encoder="tensorrt")
    monkeypatch.setenv("NEGAUDIT_ENCODER", "fp8")
    with pytest.raises(ValueError, match="unknown encoder"):
        models.default_encoder()


def test_batches_side_by_side_encode_the_same_vectors(onnx_root, texts) -> None:
    enc = models.load_encoder(None, "onnx-int8-mixed")
    one = onnx_encoder.OnnxEncoder(enc.path, models.default_model_path(), "one-thread", threads=1)
    two = onnx_encoder.OnnxEncoder(enc.path, models.default_model_path(), "two-threads", threads=2)
    assert one.workers == 1 and two.workers == 2
    a, b = one.encode(texts, batch_size=4), two.encode(texts, batch_size=4)  # 8 batches, in input order
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[3:4], one.encode(texts, batch_size=4)[3:4])


def test_encoding_reports_progress_batch_by_batch_without_changing_a_vector(onnx_root, texts, tmp_path) -> None:
    """A 100k-doc corpus sat at '0% embedding documents' for an hour: the encoder now reports each batch,
    on two threads as on one, and the vectors are the ones it gave without the hook."""
    enc = models.load_encoder(None, "onnx-int8-mixed")
    two = onnx_encoder.OnnxEncoder(enc.path, models.default_model_path(), "two-threads", threads=2)
    heard: list[int] = []
    with_hook = two.encode(texts, batch_size=4, progress=heard.append)
    np.testing.assert_array_equal(with_hook, two.encode(texts, batch_size=4))
    assert heard == sorted(heard) and heard[-1] == len(texts) and len(heard) == 8  # one per batch
    seen: list[tuple[int, int]] = []
    models.encode_texts_with_stats(two, texts, cache=tmp_path / "c", batch_size=4,
                                   on_progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(texts), len(texts)) and len(seen) > 2
    seen.clear()
    models.encode_texts_with_stats(two, texts, cache=tmp_path / "c", on_progress=lambda d, t: seen.append((d, t)))
    assert seen == []  # all from the cache: nothing encoded, nothing to report


def test_the_quantiser_leaves_root_logging_as_it_was(capsys):
    """onnxruntime's quantiser warns through `logging.warning`, which installs a root handler: the warning
    and every library's debug lines after it (bm25s logs at DEBUG) reached `negaudit mine`'s output."""
    import logging

    from core.encoders.onnx import _root_logging_untouched

    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    with _root_logging_untouched():
        logging.warning("Please consider to run pre-processing before quantization.")  # noqa: LOG015 - as onnxruntime does
    assert (list(root.handlers), root.level) == before
    logging.getLogger("bm25s").debug("Building index from IDs")
    err = capsys.readouterr().err
    assert "pre-processing" not in err and "Building index" not in err

"""Bounded-memory faiss kNN (core.mining.knn) on real MiniLM vectors of SciFact (the demo export):
exact in chunks equals the numpy miner, IVF's recall is measured and exact when every list is
probed, ``auto`` switches at its threshold (small here, so the approximate path runs on small data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.encoders import load_embeddings
from core.mining import dense_topk, mine_dense
from core.mining.knn import KNN_METHODS, KnnConfig, knn_topk, recall_at_k
from core.types import NegauditError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def vectors() -> tuple[np.ndarray, np.ndarray]:
    """(queries, docs): the 1,109 SciFact queries and 5,183 docs of data/scifact.minilm.emb.f16.npz."""
    ef = load_embeddings(ROOT / "data" / "scifact.minilm.emb.f16.npz")
    is_q = np.array([i.startswith("query:") for i in ef.ids])
    return ef.embeddings[is_q], ef.embeddings[~is_q]


def _same_ranking(a: list[np.ndarray], sa: list[np.ndarray], b: list[np.ndarray],
                  sb: list[np.ndarray]) -> None:
    """Equal rankings up to float near-ties (BLAS and numpy round the 7th digit differently)."""
    for ia, xa, ib, xb in zip(a, sa, b, sb):
        assert len(ia) == len(ib)
        np.testing.assert_allclose(xa, xb, atol=1e-5)  # the k-th best score, position by position
        differ = ia != ib
        assert np.all(np.abs(xa[differ] - xb[differ]) < 1e-5)  # only tied docs may swap


def test_exact_in_small_chunks_equals_numpy(vectors) -> None:
    q, d = vectors
    ks = np.where(np.arange(len(q)) % 3 == 0, 30, 12)  # per-query k, as mining asks (top_k + positives)
    a, sa = dense_topk(q, d, ks)
    b, sb = knn_topk(q, d, ks, "exact", KnnConfig(doc_chunk=700, query_chunk=97))
    assert [len(x) for x in b] == ks.tolist()
    _same_ranking(a, sa, b, sb)


def test_exact_reads_a_float16_memory_map(tmp_path: Path, vectors) -> None:
    q, d = vectors
    np.save(tmp_path / "d.npy", d.astype(np.float16))
    mm = np.load(tmp_path / "d.npy", mmap_mode="r")
    b, sb = knn_topk(q[:50], mm, [10] * 50, "exact", KnnConfig(doc_chunk=1000))
    d16 = np.asarray(mm, dtype=np.float32)
    a, sa = dense_topk(q[:50], d16, 10)
    _same_ranking(a, sa, b, sb)


def test_ivf_recall_is_measured_and_exact_when_every_list_is_probed(vectors) -> None:
    q, d = vectors
    exact, _ = KNN_METHODS["exact"](q, d, 30, KnnConfig())
    few = KnnConfig(nlist=64, nprobe=2)
    approx, scores = KNN_METHODS["ivf"](q, d, 30, few)
    r = recall_at_k(approx, exact, 30)
    assert 0.3 < r < 0.98  # approximate: finds most, not all (measured 0.6-0.7 here)
    assert np.all(np.diff(scores, axis=1)[approx[:, 1:] >= 0] <= 1e-6)  # best first
    allp, _ = KNN_METHODS["ivf"](q, d, 30, KnnConfig(nlist=64, nprobe=64))
    assert recall_at_k(allp, exact, 30) > 0.999  # every list probed = exact search
    more, _ = KNN_METHODS["ivf"](q, d, 30, KnnConfig(nlist=64, nprobe=16))
    assert recall_at_k(more, exact, 30) > r  # more probes, better recall


def test_auto_is_exact_up_to_the_threshold_and_ivf_above(vectors) -> None:
    q, d = vectors
    cfg = KnnConfig(nlist=64, nprobe=2)
    exact, _ = KNN_METHODS["exact"](q[:100], d, 20, cfg)
    ivf, _ = KNN_METHODS["ivf"](q[:100], d, 20, cfg)
    above, _ = KNN_METHODS["auto"](q[:100], d, 20, KnnConfig(exact_max_docs=len(d) - 1, nlist=64,
                                                             nprobe=2, recall_target=0))  # unchecked
    below, _ = KNN_METHODS["auto"](q[:100], d, 20, KnnConfig(exact_max_docs=len(d), nlist=64,
                                                             nprobe=2))
    assert (above == ivf).all() and (below == exact).all() and not (ivf == exact).all()


def test_dense_miner_backend_and_env_threshold(vectors, monkeypatch) -> None:
    q, d = vectors
    qids, dids = [f"q{i}" for i in range(60)], [f"d{i}" for i in range(len(d))]
    positives = {"q0": {"d5", "d9"}, "q1": {"d1"}}
    ref = mine_dense(qids, q[:60], dids, d, positives, top_k=10)
    got = mine_dense(qids, q[:60], dids, d, positives, top_k=10, backend="auto")
    assert len(got) == len(ref) == 600
    np.testing.assert_allclose(got.score, ref.score, atol=1e-5)
    assert not set(got[got.query_id == "q0"].doc_id) & {"d5", "d9"}  # positives never candidates
    monkeypatch.setenv("NEGAUDIT_KNN_EXACT_MAX", "100")  # the approximate path on small data
    monkeypatch.setenv("NEGAUDIT_KNN_NPROBE", "1")
    monkeypatch.setenv("NEGAUDIT_KNN_RECALL", "0")  # unchecked (test_knn_recall.py checks it)
    approx = mine_dense(qids, q[:60], dids, d, positives, top_k=10, backend="auto")
    assert len(approx) == 600 and (approx.score.to_numpy() != ref.score.to_numpy()).any()
    monkeypatch.setenv("NEGAUDIT_KNN_NPROBE", "many")
    with pytest.raises(NegauditError, match="NEGAUDIT_KNN_NPROBE must be an integer, got 'many'"):
        mine_dense(qids, q[:60], dids, d, positives, top_k=10, backend="auto")


def test_unknown_method_is_one_clear_error(vectors) -> None:
    q, d = vectors
    with pytest.raises(NegauditError, match="unknown kNN method 'hnsw'; choose from exact, ivf, auto"):
        knn_topk(q[:2], d, [3, 3], "hnsw")

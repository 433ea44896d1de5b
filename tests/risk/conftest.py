from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.risk import RiskInputs, pair_arrays


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def feedback_arrays_row_order_free(inputs: RiskInputs, q: np.ndarray, d: np.ndarray, keys: tuple[str, ...],
                                   perm_seed: int, **tol: float) -> dict[str, np.ndarray]:
    """``pair_arrays(feedback=True)`` over rows (q, d), asserting that the ``keys`` arrays come out the same for
    the rows in a seeded random order (``tol``: assert_allclose's); the arrays in the given order."""
    a = pair_arrays(inputs, q, d, feedback=True)
    perm = np.random.default_rng(perm_seed).permutation(len(q))
    b = pair_arrays(inputs, q[perm], d[perm], feedback=True)
    for k in keys:
        np.testing.assert_allclose(a[k][perm], b[k], **tol)
    return a


def make_inputs(n_docs: int = 60, n_queries: int = 8, seed: int = 0) -> tuple[RiskInputs, pd.DataFrame]:
    """A tiny synthetic collection: topics -> queries and docs nearby; one labelled positive per query."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(4, 16))
    dt = rng.integers(0, 4, n_docs)
    docs = _unit(topics[dt] + 0.8 * rng.normal(size=(n_docs, 16)))
    qt = np.arange(n_queries) % 4
    queries = _unit(topics[qt] + 0.5 * rng.normal(size=(n_queries, 16)))
    doc_ids = [f"d{i}" for i in range(n_docs)]
    query_ids = [f"q{i}" for i in range(n_queries)]
    positives = {q: {doc_ids[int(np.flatnonzero(dt == qt[i])[i % 3])]} for i, q in enumerate(query_ids)}
    bm = rng.random((n_queries, n_docs)) * (dt[None, :] == qt[:, None]) * 5
    inputs = RiskInputs(query_ids, queries, doc_ids, docs, positives, bm25=lambda rows: bm[list(rows)],
                        pu_sample=40, graph_k=3)
    rows = []
    for i, q in enumerate(query_ids):
        s = docs @ queries[i]
        order = [j for j in np.argsort(-s) if doc_ids[j] not in positives[q]][:5]
        rows += [(q, doc_ids[j], "dense", r + 1, float(s[j])) for r, j in enumerate(order)]
    return inputs, pd.DataFrame(rows, columns=["query_id", "doc_id", "miner", "rank", "score"])


@pytest.fixture(scope="session")
def tiny() -> tuple[RiskInputs, pd.DataFrame]:
    return make_inputs()


NFCORPUS_SMALL = Path(__file__).parents[1] / "fixtures" / "risk" / "nfcorpus_small"


@pytest.fixture(scope="session")
def nfcorpus_small() -> tuple[RiskInputs, pd.DataFrame]:
    """20 real NFCorpus queries over 800 docs, stored MiniLM vectors, real BM25 and LSA, one kept positive each,
    and their dense top-30 candidates."""
    from core.bench.fn_detection import _bm25_rows, embed, load_beir, sparsify_qrels
    from core.mining import mine_dense, topic_queries

    doc_ids, doc_texts, queries, qrels = load_beir(NFCORPUS_SMALL)
    kept, _ = sparsify_qrels(qrels, 1, 0)
    qids = [q for q in sorted(kept) if q in queries]
    texts = [queries[q] for q in qids]
    q_emb, d_emb = embed(texts, doc_texts, str(NFCORPUS_SMALL / "emb"), qids, doc_ids)
    bm25, fb, cov, lsa = _bm25_rows(doc_texts, texts)
    sparse = {q: kept[q] for q in qids}
    inputs = RiskInputs(qids, q_emb, doc_ids, d_emb, sparse, bm25=bm25, bm25_feedback=fb, coverage=cov, lsa=lsa,
                        topic=topic_queries(texts))
    cands = mine_dense(qids, q_emb, doc_ids, d_emb, sparse, top_k=30)[["query_id", "doc_id", "miner", "rank", "score"]]
    return inputs, cands

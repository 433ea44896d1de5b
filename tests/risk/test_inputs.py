"""The doc graph of core/risk/inputs.py: faiss top-k without the doc itself, computed once per doc."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.mining.knn import KnnConfig
from core.risk.inputs import doc_neighbours
from tests.risk.conftest import make_inputs


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _brute(D: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    sims = D[rows] @ D.T
    sims[np.arange(len(rows)), rows] = -np.inf
    return -np.sort(-sims, axis=1)[:, :k]  # the k best similarities, best first


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 80), k=st.integers(1, 12), seed=st.integers(0, 10_000))
def test_neighbours_are_the_k_most_similar_other_docs(n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    D = _unit(rng.normal(size=(n, 8)))
    rows = rng.permutation(n)[: max(1, n // 2)]
    nb = doc_neighbours(D, rows, k)
    kk = min(k, n - 1)
    assert nb.shape == (len(rows), kk)
    assert not (nb == rows[:, None]).any()  # never the doc itself
    assert ((nb >= 0) & (nb < n)).all()
    assert all(len(set(r)) == kk for r in nb.tolist())
    got = np.sort(np.einsum("rd,rkd->rk", D[rows], D[nb]), axis=1)[:, ::-1]
    np.testing.assert_allclose(got, _brute(D, rows, kk), atol=1e-5)
    # row order does not matter
    perm = rng.permutation(len(rows))
    np.testing.assert_array_equal(doc_neighbours(D, rows[perm], k), nb[perm])


def test_duplicate_docs_never_list_themselves():
    """Ten identical vectors: each doc's neighbours are the other nine, whichever ties the index returns first."""
    D = _unit(np.ones((10, 4)))
    nb = doc_neighbours(D, np.arange(10), 9)
    for r, row in enumerate(nb.tolist()):
        assert sorted(row) == [i for i in range(10) if i != r]


def test_the_approximate_index_above_the_exact_bound_still_drops_the_doc_itself():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(20, 16))
    D = _unit(centres[rng.integers(0, 20, 2_000)] + 0.3 * rng.normal(size=(2_000, 16)))
    rows = np.arange(0, 2_000, 7)
    cfg = KnnConfig(exact_max_docs=100, recall_sample=50)  # IVF (self-checked) on a small corpus
    nb = doc_neighbours(D, rows, 10, cfg)
    assert not (nb == rows[:, None]).any() and ((nb >= 0) & (nb < len(D))).all()
    got = np.sort(np.einsum("rd,rkd->rk", D[rows], D[nb]), axis=1)[:, ::-1]
    hits = (got >= _brute(D, rows, 10)[:, -1:] - 1e-6).mean()
    assert hits >= 0.9  # the recall the self-check asks for (0.95 on its sample)


def test_inputs_compute_each_docs_neighbours_once_and_keep_them():
    inputs, _ = make_inputs()
    a = inputs.neighbours(np.array([5, 1, 5, 9]))
    np.testing.assert_array_equal(a, doc_neighbours(inputs.doc_emb, np.array([5, 1, 5, 9]), inputs.graph_k))
    done = np.flatnonzero(inputs._nbr[:, 0] >= 0)
    assert done.tolist() == [1, 5, 9]  # only what was asked for
    before = inputs._nbr.copy()
    b = inputs.neighbours(np.array([9, 2]))
    np.testing.assert_array_equal(b[0], a[3])
    np.testing.assert_array_equal(inputs._nbr[[1, 5, 9]], before[[1, 5, 9]])  # kept, not recomputed
    assert np.flatnonzero(inputs._nbr[:, 0] >= 0).tolist() == [1, 2, 5, 9]


def test_blocks_shrink_on_a_big_corpus_and_never_change_the_arrays():
    import dataclasses

    from core.risk.inputs import BLOCK_CELLS, pair_arrays

    inputs, cands = make_inputs(n_docs=60, n_queries=8)
    assert inputs.query_block == inputs.chunk  # a small corpus: the whole chunk
    big = dataclasses.replace(inputs, doc_ids=[f"d{i}" for i in range(4 * BLOCK_CELLS // 256)])
    assert big.query_block == 64
    q, d = inputs.qrow(cands.query_id.tolist()), inputs.drow(cands.doc_id.tolist())
    whole = pair_arrays(inputs, q, d, ranks=True)
    small = pair_arrays(dataclasses.replace(inputs, chunk=3), q, d, ranks=True)
    assert whole.keys() == small.keys()
    for k in whole:
        np.testing.assert_allclose(small[k], whole[k], rtol=1e-6, atol=1e-6, err_msg=k)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), graph_k=st.integers(1, 8))
def test_graph_signals_weigh_the_nearest_docs_most(seed: int, graph_k: int) -> None:
    """graph_dense / graph_bm25 against a brute force: the neighbours' z-scores over the corpus, the r-th nearest
    of k weighing k + 1 - r (not a plain mean: the nearest docs say most about a doc's neighbourhood)."""
    import dataclasses

    from core.risk.inputs import graph_weights, pair_arrays

    base, _ = make_inputs(seed=seed % 50)
    inputs = dataclasses.replace(base, graph_k=graph_k)
    w = graph_weights(graph_k)
    assert np.isclose(w.sum(), 1) and (np.diff(w) < 0).all() and np.allclose(np.diff(w, 2), 0)
    rng = np.random.default_rng(seed)
    q = rng.integers(0, len(inputs.query_ids), 12)
    d = rng.integers(0, len(inputs.doc_ids), 12)
    a = pair_arrays(inputs, q, d)
    B = inputs.bm25(list(range(len(inputs.query_ids))))
    for i in range(len(q)):
        nb = np.argsort(-(inputs.doc_emb @ inputs.doc_emb[d[i]]), kind="stable")
        nb = [j for j in nb if j != d[i]][:graph_k]
        for key, row in (("graph_dense", inputs.doc_emb @ inputs.query_emb[q[i]]), ("graph_bm25", B[q[i]])):
            z = (row - row.mean()) / row.std()
            want = (z[nb] * np.arange(graph_k, 0, -1)).sum() / (graph_k * (graph_k + 1) / 2)
            assert np.isclose(a[key][i], want, atol=1e-4), (key, a[key][i], want)

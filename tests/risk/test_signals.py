"""Every registered signal on tiny inline arrays."""

from __future__ import annotations

import numpy as np
import pytest

from core.risk.signals import SIGNALS, compute_signals, learned_names

A = {
    "dense": np.array([0.8, 0.4]), "dense_mean": np.array([0.2, 0.2]), "dense_std": np.array([0.1, 0.0]),
    "bm25": np.array([10.0, 0.0]), "bm25_max": np.array([20.0, 0.0]), "bm25_mean": np.array([1.0, 0.0]),
    "bm25_std": np.array([3.0, 0.0]), "graph_bm25": np.array([1.5, -0.2]), "graph_dense": np.array([2.0, 0.1]),
    "neighbour_label": np.array([0.9, 0.0]), "pos_score": np.array([0.8, 0.0]), "pos_sim": np.array([0.7, 0.0]),
    "dense_rank": np.array([2.0, 40.0]), "bm25_rank": np.array([3.0, 0.0]), "rank": np.array([1.0, 0.0]),
    "fb_bm25": np.array([0.9, 0.1]), "fb_bm25_mean": np.array([0.1, 0.1]), "fb_bm25_std": np.array([0.2, 0.0]),
}
EXPECTED = {
    "dense_score": [0.8, 0.4], "inverse_rank": [1.0, 0.0], "pos_ratio": [1.0, 0.0], "dense_z": [6.0, 0.0],
    "bm25_score": [10.0, 0.0], "bm25_norm": [0.5, 0.0], "bm25_z": [3.0, 0.0],
    "rrf": [1 / 62 + 1 / 63, 1 / 100], "graph_bm25": [1.5, -0.2], "graph_dense": [2.0, 0.1],
    "neighbour_label": [0.9, 0.0], "pos_similarity": [0.7, 0.0], "bm25_rm3_z": [4.0, 0.0],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_signal_values_and_reason(name: str) -> None:
    sig = SIGNALS[name]
    np.testing.assert_allclose(sig.fn(A), EXPECTED[name])
    raw = {k: float(v[0]) for k, v in A.items()}
    assert isinstance(sig.reason(float(sig.fn(A)[0]), raw), str) and sig.reason(float(sig.fn(A)[0]), raw)


def test_every_signal_is_tested_and_learned_ones_are_leak_free() -> None:
    assert set(SIGNALS) == set(EXPECTED)
    assert "pos_similarity" not in learned_names() and "pos_ratio" not in learned_names()
    assert "bm25_rm3_z" not in learned_names()  # a lone labelled positive cannot expand its own query
    assert set(compute_signals(A)) == set(SIGNALS)


def test_pos_ratio_reason_reads_like_nv_retriever() -> None:
    assert SIGNALS["pos_ratio"].reason(0.96, {"dense": 0.71}) == "dense score 0.71 is 96% of the positive's"

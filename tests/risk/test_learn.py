"""The learning queue's pure functions: leave-one-out evidence, the static order until judgments, gains."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from core.risk.learn import judgment_evidence, learning_features, rerank


def _world(seed: int, n_q: int = 12, per_q: int = 40):
    """Per query a relevant cluster and a non-relevant one; the static score is only weakly informative."""
    rng = np.random.default_rng(seed)
    dim = 16
    rows_q, rows_d, y, emb = [], [], [], []
    for qi in range(n_q):
        rel, non = rng.normal(size=dim), rng.normal(size=dim)
        for _ in range(per_q):
            lab = int(rng.random() < 0.3)
            v = (rel if lab else non) + 0.6 * rng.normal(size=dim)
            emb.append(v / np.linalg.norm(v))
            rows_q.append(qi)
            rows_d.append(len(emb) - 1)
            y.append(lab)
    y = np.array(y)
    static = 0.5 * y + rng.normal(size=len(y))
    return np.array(rows_q), np.array(rows_d), y, np.array(emb, dtype=np.float32), static


def test_static_order_stands_without_two_classes() -> None:
    _, _, y, _, static = _world(0)
    judged = np.zeros(len(y), bool)
    np.testing.assert_array_equal(rerank(static, None, judged, y), static)
    judged[np.flatnonzero(y == 1)[:5]] = True  # one class only
    np.testing.assert_array_equal(rerank(static, None, judged, y), static)


def test_evidence_leaves_the_row_itself_out() -> None:
    q, d, y, emb, _ = _world(1)
    j = np.arange(0, len(y), 3)
    ev = judgment_evidence(emb, q, d, q[j], d[j], y[j])
    flipped = y.copy()
    flipped[j[0]] = 1 - flipped[j[0]]
    ev2 = judgment_evidence(emb, q, d, q[j], d[j], flipped[j])
    np.testing.assert_allclose(ev[j[0]], ev2[j[0]])  # its own label never reaches its own evidence
    assert (np.abs(ev) <= 1 + 1e-6).all()


def test_judgments_improve_the_rest_of_the_queue() -> None:
    q, d, y, emb, static = _world(2)
    judged = np.zeros(len(y), bool)
    judged[np.argsort(-static)[:120]] = True
    j = np.flatnonzero(judged)
    ev = judgment_evidence(emb, q, d, q[j], d[j], y[j])
    z = rerank(static, learning_features(static, static, ev), judged, y)
    un = ~judged
    assert average_precision_score(y[un], z[un]) > average_precision_score(y[un], static[un]) + 0.1


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), perm_seed=st.integers(0, 1000))
def test_rerank_is_row_order_free(seed: int, perm_seed: int) -> None:
    q, d, y, emb, static = _world(seed % 7)
    judged = np.random.default_rng(seed).random(len(y)) < 0.3
    j = np.flatnonzero(judged)
    Z = learning_features(static, 0.8 * static, judgment_evidence(emb, q, d, q[j], d[j], y[j]))
    a = rerank(static, Z, judged, y)
    p = np.random.default_rng(perm_seed).permutation(len(y))
    b = rerank(static[p], Z[p], judged[p], y[p])
    np.testing.assert_allclose(a[p], b, rtol=1e-5, atol=1e-6)
    assert np.isfinite(a).all()

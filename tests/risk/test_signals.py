"""Every registered signal on tiny inline arrays."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.risk.signals import SIGNALS, compute_signals, learned_names

A = {
    "dense": np.array([0.8, 0.4]), "dense_mean": np.array([0.2, 0.2]), "dense_std": np.array([0.1, 0.0]),
    "bm25": np.array([10.0, 0.0]), "bm25_max": np.array([20.0, 0.0]), "bm25_mean": np.array([1.0, 0.0]),
    "bm25_std": np.array([3.0, 0.0]), "graph_bm25": np.array([1.5, -0.2]), "graph_dense": np.array([2.0, 0.1]),
    "neighbour_label": np.array([0.9, 0.0]), "pos_score": np.array([0.8, 0.0]), "pos_sim": np.array([0.7, 0.0]),
    "dense_rank": np.array([2.0, 40.0]), "bm25_rank": np.array([3.0, 0.0]), "rank": np.array([1.0, 0.0]),
    "fb_bm25": np.array([0.9, 0.1]), "fb_bm25_mean": np.array([0.1, 0.1]), "fb_bm25_std": np.array([0.2, 0.0]),
    "late_maxsim": np.array([0.74, 0.31]), "late_query_mean": np.array([0.52, 0.52]),
    "coverage_query_mean": np.array([0.71, 0.71]), "topic_query": np.array([1.0, 0.0]),
    "pos_query_mean": np.array([0.44, 0.44]), "dense_nqc": np.array([0.61, 0.61]),
    "lsa_fb": np.array([1.3, -0.4]), "lsa_graph": np.array([0.8, -1.1]), "co_candidates": np.array([0.6, -0.2]),
}
EXPECTED = {
    "dense_score": [0.8, 0.4], "inverse_rank": [1.0, 0.0], "pos_ratio": [1.0, 0.0], "dense_z": [6.0, 0.0],
    "bm25_score": [10.0, 0.0], "bm25_norm": [0.5, 0.0], "bm25_z": [3.0, 0.0],
    "rrf": [1 / 62 + 1 / 63, 1 / 100], "graph_bm25": [1.5, -0.2], "graph_dense": [2.0, 0.1],
    "neighbour_label": [0.9, 0.0], "pos_similarity": [0.7, 0.0], "bm25_rm3_z": [4.0, 0.0],
    "late_maxsim": [0.74, 0.31], "late_query_mean": [0.52, 0.52], "coverage_query_mean": [0.71, 0.71],
    "topic_query": [1.0, 0.0], "pos_query_mean": [0.44, 0.44], "dense_nqc": [0.61, 0.61],
    "lsa_feedback": [1.3, -0.4], "graph_lsa": [0.8, -1.1], "co_candidates": [0.6, -0.2],
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
    assert "lsa_feedback" not in learned_names() and "graph_lsa" not in learned_names()  # nor move its own query
    assert "co_candidates" not in learned_names()  # written after the view, from its output
    assert set(compute_signals(A)) == set(SIGNALS)


def test_pos_ratio_reason_reads_like_nv_retriever() -> None:
    assert SIGNALS["pos_ratio"].reason(0.96, {"dense": 0.71}) == (
        "scores like the labelled positive (dense score 0.71 is 96% of the positive's)")
    # an off-topic labelled positive: say so rather than "1433% of the positive's"
    assert SIGNALS["pos_ratio"].reason(14.33, {"dense": 0.32, "pos_score": 0.022}) == (
        "scores far above the labelled positive, which scores low itself (dense score 0.32 is 14x the positive's 0.02)")


@pytest.mark.parametrize("name", sorted(SIGNALS))
@pytest.mark.parametrize("v", [-1.0, 0.0, 0.3, 0.75, 0.95, 2.5, 5.0, 12.0])
def test_every_reason_is_words_then_numbers_and_words_only_where_the_value_bears_them(name: str, v: float) -> None:
    """The card shows a reason's plain words (core.render.plain_reason), the numbers go to the hover text; a
    value too low for the words gets none (the annotator regression pass: "shares many of the query's words"
    at BM25 6% of the query's best, "documents like it match the query's words" at -0.7 sd)."""
    from core.render import plain_reason

    raw = {"dense": 0.5, "pos_score": 0.5, "dense_rank": 50.0, "bm25_rank": 50.0, "bm25": 0.5}
    text = SIGNALS[name].reason(v, raw | {"fb_dense": 0.6, "fb_bm25": 0.6})
    words = plain_reason(text)
    assert not any(ch.isdigit() for ch in words), (name, text)
    assert words == text or text.startswith(f"{words} (" if words else "("), (name, text)
    if v <= 0 and name not in ("topic_query",):
        assert words == "", (name, text)  # nothing low or negative is said in words


@pytest.mark.parametrize("name", ["late_maxsim", "late_query_mean", "coverage_query_mean", "pos_query_mean",
                                  "dense_nqc", "lsa_feedback", "graph_lsa", "co_candidates"])
def test_optional_signals_are_zero_where_not_computed(name: str) -> None:
    a = {k: v for k, v in A.items() if k not in ("late_maxsim", "late_query_mean", "coverage_query_mean",
                                                  "pos_query_mean", "dense_nqc", "lsa_fb", "lsa_graph",
                                                  "co_candidates")}
    assert not SIGNALS[name].fn(a).any()
    # query-level: one labelled positive per query cannot weigh them
    assert "late_query_mean" not in learned_names() and "coverage_query_mean" not in learned_names()
    assert "pos_query_mean" not in learned_names() and "dense_nqc" not in learned_names()


def test_topic_gate_is_one_where_no_query_texts_and_never_learned() -> None:
    a = {k: v for k, v in A.items() if k != "topic_query"}
    np.testing.assert_array_equal(SIGNALS["topic_query"].fn(a), [1.0, 1.0])  # the term applies, as before the gate
    assert "topic_query" not in learned_names()
    assert SIGNALS["topic_query"].reason(0.0, {}) == "the query reads as a sentence"


def _late_matrix(inputs) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.uniform(0.2, 0.9, (len(inputs.query_ids), len(inputs.doc_ids)))


def test_late_maxsim_is_learned_only_when_given_and_never_sees_labels() -> None:
    """The late-interaction signal enters the combiner only with ``inputs.late``; labels never reach it."""
    from dataclasses import replace

    from core.risk import pair_arrays, train_combiner
    from tests.risk.conftest import make_inputs

    inputs, cands = make_inputs(seed=3)
    M = _late_matrix(inputs)
    late = replace(inputs, late=lambda q, d: M[q, d])
    q, d = inputs.qrow(cands.query_id.tolist()), inputs.drow(cands.doc_id.tolist())
    np.testing.assert_array_equal(SIGNALS["late_maxsim"].fn(pair_arrays(late, q, d)), M[q, d])
    assert not SIGNALS["late_maxsim"].fn(pair_arrays(inputs, q, d)).any()
    assert "late_maxsim" in train_combiner(late, choose=False).names
    assert "late_maxsim" not in train_combiner(inputs, choose=False).names
    other = {k: set(list(inputs.doc_ids)[:2]) for k in inputs.query_ids}  # other labels: same values
    relabelled = replace(late, positives=other)
    np.testing.assert_array_equal(SIGNALS["late_maxsim"].fn(pair_arrays(relabelled, q, d)), M[q, d])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), top_k=st.integers(1, 12), name=st.sampled_from(["late_query_mean", "coverage_query_mean"]))
def test_query_means_are_the_querys_top_docs_mean_and_label_free(seed: int, top_k: int, name: str) -> None:
    """Per row: the mean of the pair values over its query's dense top ``top_k`` corpus docs — in their range,
    the same whatever the rows' order or which docs are labelled (no label, hidden or kept, reaches it)."""
    from dataclasses import replace

    from core.risk import pair_arrays
    from tests.risk.conftest import make_inputs

    inputs, cands = make_inputs(seed=3)
    rng = np.random.default_rng(seed)
    M = rng.uniform(0.2, 0.9, (len(inputs.query_ids), len(inputs.doc_ids)))
    if name == "late_query_mean":
        given_ = replace(inputs, late=lambda q, d: M[q, d], top_k=top_k)
    else:
        given_ = replace(inputs, coverage=lambda q, docs: M[np.asarray(q)[:, None], docs], top_k=top_k)
    q, d = inputs.qrow(cands.query_id.tolist()), inputs.drow(cands.doc_id.tolist())
    got = SIGNALS[name].fn(pair_arrays(given_, q, d))
    top = np.argsort(-(inputs.query_emb @ inputs.doc_emb.T), axis=1)[:, :top_k]
    want = np.take_along_axis(M, top, axis=1).mean(1)[q]
    np.testing.assert_allclose(got, want)
    assert ((got >= M.min()) & (got <= M.max())).all()
    other = "coverage_query_mean" if name == "late_query_mean" else "late_query_mean"
    assert not SIGNALS[other].fn(pair_arrays(given_, q, d)).any()  # each from its own source only
    perm = rng.permutation(len(q))
    fresh = replace(given_, positives={k: set(rng.choice(list(inputs.doc_ids), 2)) for k in inputs.query_ids})
    np.testing.assert_allclose(SIGNALS[name].fn(pair_arrays(fresh, q[perm], d[perm])), got[perm])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), top_k=st.integers(1, 12))
def test_positive_mean_is_the_top_unlabelled_docs_closeness_to_the_positive(seed: int, top_k: int) -> None:
    """Per row: the mean, over its query's dense top ``top_k`` docs that are not its labelled positives, of the
    cosine to the nearest positive; 0 for a query without one; the same whatever the rows' order; only the
    query's own (sparse) labels reach it — changing another query's positives leaves it alone."""
    from dataclasses import replace

    from core.risk import pair_arrays
    from tests.risk.conftest import make_inputs

    inputs, cands = make_inputs(seed=3)
    rng = np.random.default_rng(seed)
    inputs = replace(inputs, top_k=top_k)
    q, d = inputs.qrow(cands.query_id.tolist()), inputs.drow(cands.doc_id.tolist())
    got = SIGNALS["pos_query_mean"].fn(pair_arrays(inputs, q, d))
    S = inputs.query_emb @ inputs.doc_emb.T
    pos = inputs.positive_rows()
    want = np.zeros(len(inputs.query_ids))
    for qi, p in enumerate(pos):
        if len(p):
            row = S[qi].astype(float).copy()
            row[p] = -np.inf
            top = np.argsort(-row, kind="stable")[:top_k]
            want[qi] = (inputs.doc_emb[top] @ inputs.doc_emb[p].T).max(1).mean()
    np.testing.assert_allclose(got, want[q], atol=1e-6)
    assert ((got >= -1 - 1e-6) & (got <= 1 + 1e-6)).all()
    perm = rng.permutation(len(q))
    np.testing.assert_allclose(SIGNALS["pos_query_mean"].fn(pair_arrays(replace(inputs), q[perm], d[perm])), got[perm])
    first = inputs.query_ids[0]
    moved = {k: (v if k == first else set(rng.choice(list(inputs.doc_ids), 1))) for k, v in inputs.positives.items()}
    again = SIGNALS["pos_query_mean"].fn(pair_arrays(replace(inputs, positives=moved), q, d))
    np.testing.assert_allclose(again[q == 0], got[q == 0], atol=1e-6)
    none = SIGNALS["pos_query_mean"].fn(pair_arrays(replace(inputs, positives={}), q, d))
    assert not none.any()


@pytest.mark.parametrize("name,plain,words", [("dense_z", "dense", "query moved toward its positives"),
                                               ("bm25_z", "bm25", "query expanded with its positives' terms")])
def test_z_reason_says_when_the_query_was_fed_back(name: str, plain: str, words: str) -> None:
    """The card's z-score is the fed-back query's (score.py ranks with it): the reason says so, and only then."""
    reason = SIGNALS[name].reason
    assert words not in reason(2.0, {plain: 0.5})  # no feedback arrays (training, a bench baseline)
    assert words not in reason(2.0, {plain: 0.5, f"fb_{plain}": 0.5})  # no positive moved the query
    assert words in reason(2.0, {plain: 0.5, f"fb_{plain}": 0.6})


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), top_k=st.integers(1, 12))
def test_dense_nqc_is_the_spread_of_the_querys_top_z_scores_and_label_free(seed: int, top_k: int) -> None:
    """Per row: the sd of its query's dense top ``top_k`` corpus docs' z-scores (NQC) — nonnegative, the same
    whatever the rows' order or which docs are labelled (no label, hidden or kept, reaches it)."""
    from dataclasses import replace

    from core.risk import pair_arrays
    from tests.risk.conftest import make_inputs

    inputs, cands = make_inputs(seed=3)
    rng = np.random.default_rng(seed)
    inputs = replace(inputs, top_k=top_k)
    q, d = inputs.qrow(cands.query_id.tolist()), inputs.drow(cands.doc_id.tolist())
    got = SIGNALS["dense_nqc"].fn(pair_arrays(inputs, q, d))
    S = (inputs.query_emb @ inputs.doc_emb.T).astype(float)
    z = (S - S.mean(1, keepdims=True)) / S.std(1, keepdims=True)
    want = (-np.sort(-z, axis=1))[:, : max(2, top_k)].std(1)  # one doc has no spread: at least two
    np.testing.assert_allclose(got, want[q], rtol=1e-5, atol=1e-6)
    assert (got >= 0).all() and np.ptp(got) > 0
    perm = rng.permutation(len(q))
    fresh = replace(inputs, positives={k: set(rng.choice(list(inputs.doc_ids), 2)) for k in inputs.query_ids})
    np.testing.assert_allclose(SIGNALS["dense_nqc"].fn(pair_arrays(fresh, q[perm], d[perm])), got[perm])
    np.testing.assert_allclose(SIGNALS["dense_nqc"].fn(pair_arrays(replace(inputs, positives={}), q, d)), got)

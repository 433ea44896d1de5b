"""The LSA closeness to the labelled positives' topic (``lsa_feedback``): the arrays, the labels they may see, and
the view's fused term — on synthetic spaces, and on a real NFCorpus subset."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.mining.lsa import LsaSpace
from core.risk import RiskInputs, pair_arrays, score_false_negatives, train_combiner
from core.risk.inputs import LSA_FEEDBACK, LSA_FEEDBACK_WEIGHT, LSA_GRAPH, with_feedback
from core.risk.select import LSA_GRAPH_SIGNAL, LSA_SIGNAL, LSA_WEIGHT
from core.risk.signals import SIGNALS
from tests.risk.conftest import feedback_arrays_row_order_free, make_inputs


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n > 0, n, 1)


def _with_space(seed: int) -> tuple[RiskInputs, object]:
    """The tiny synthetic collection with an LSA space near its topics (the arrays, not how they were fitted)."""
    inputs, cands = make_inputs(seed=seed)
    rng = np.random.default_rng(seed + 100)
    docs = _unit(inputs.doc_emb[:, :8] + 0.5 * rng.normal(size=(len(inputs.doc_ids), 8))).astype(np.float32)
    queries = _unit(inputs.query_emb[:, :8] + 0.5 * rng.normal(size=(len(inputs.query_ids), 8))).astype(np.float32)
    inputs.lsa = LsaSpace(queries, docs)
    return inputs, cands


def _brute(inputs: RiskInputs, qi: int, di: int, graph: bool = False) -> float:
    """The value written out once more: the query moved half way to its other positives' mean, its cosines
    z-scored over the corpus, then against the z-scores of the query's dense top ``top_k`` docs; ``graph``: that
    value (for the same moved query) averaged over the doc's nearest docs."""
    pos = inputs.positive_rows()[qi]
    fb = pos[pos != di]
    v = inputs.lsa.query[qi].astype(np.float64)
    if len(fb):
        c = _unit(inputs.lsa.doc[fb].astype(np.float64).mean(0))
        v = _unit((1 - LSA_FEEDBACK_WEIGHT) * v + LSA_FEEDBACK_WEIGHT * c)
    s = inputs.lsa.doc.astype(np.float64) @ v
    z = (s - s.mean()) / s.std()
    top = np.argsort(-(inputs.doc_emb @ inputs.query_emb[qi]), kind="stable")[: inputs.top_k]
    t = (z - z[top].mean()) / z[top].std()
    if not graph:
        return float(t[di])
    nb = inputs.neighbours(np.array([di]))[0]  # nearest first; the r-th of k weighs k + 1 - r
    w = np.arange(len(nb), 0, -1, dtype=np.float64)
    return float((t[nb] * w).sum() / w.sum())


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 4), perm_seed=st.integers(0, 10_000))
def test_lsa_feedback_matches_a_brute_force_and_is_row_order_free(seed: int, perm_seed: int) -> None:
    inputs, cands = _with_space(seed)
    q, d = inputs.qrow(cands.query_id.tolist()), inputs.drow(cands.doc_id.tolist())
    a = feedback_arrays_row_order_free(inputs, q, d, (LSA_FEEDBACK, LSA_GRAPH), perm_seed, rtol=1e-6, atol=1e-6)
    for i in range(len(q)):
        assert abs(a[LSA_FEEDBACK][i] - _brute(inputs, int(q[i]), int(d[i]))) < 1e-4
        assert abs(a[LSA_GRAPH][i] - _brute(inputs, int(q[i]), int(d[i]), graph=True)) < 1e-4
    assert np.isfinite(SIGNALS[LSA_SIGNAL].fn(a)).all() and np.isfinite(SIGNALS[LSA_GRAPH_SIGNAL].fn(a)).all()


def test_lsa_feedback_sees_only_the_querys_own_labels_never_a_positive_itself() -> None:
    inputs, _ = _with_space(1)
    qi, pos = 0, inputs.positive_rows()[0]
    others = np.setdiff1d(np.arange(len(inputs.doc_ids)), pos)
    rows = np.concatenate([pos, others])
    a = pair_arrays(inputs, np.full(len(rows), qi), rows, feedback=True)
    # a lone labelled positive is scored by the plain query: its own vector never moves the query
    none = RiskInputs(inputs.query_ids, inputs.query_emb, inputs.doc_ids, inputs.doc_emb,
                      {**inputs.positives, inputs.query_ids[qi]: set()}, lsa=inputs.lsa)
    plain = pair_arrays(none, np.full(len(rows), qi), rows, feedback=True)
    assert len(pos) == 1 and np.allclose(a[LSA_FEEDBACK][:1], plain[LSA_FEEDBACK][:1], atol=1e-6)
    assert not np.allclose(a[LSA_FEEDBACK][1:], plain[LSA_FEEDBACK][1:])  # the others see the moved query
    hidden = dict(inputs.positives)  # another query's labels never reach this query's values
    hidden[inputs.query_ids[1]] = set(hidden[inputs.query_ids[1]]) | {inputs.doc_ids[int(others[0])]}
    c = pair_arrays(dataclasses.replace(inputs, positives=hidden), np.full(len(rows), qi), rows, feedback=True)
    np.testing.assert_allclose(a[LSA_FEEDBACK], c[LSA_FEEDBACK])
    np.testing.assert_allclose(a[LSA_GRAPH], c[LSA_GRAPH])
    assert LSA_FEEDBACK not in pair_arrays(inputs, np.full(len(rows), qi), rows)  # computed when ranking only
    inputs.lsa = None
    off = pair_arrays(inputs, np.full(len(rows), qi), rows, feedback=True)
    assert LSA_FEEDBACK not in off and not SIGNALS[LSA_SIGNAL].fn(off).any()
    assert LSA_GRAPH not in off and not SIGNALS[LSA_GRAPH_SIGNAL].fn(off).any()


def test_on_real_nfcorpus_the_view_fuses_it_at_its_weight_and_the_card_says_so(nfcorpus_small) -> None:

    from core.risk.select import QUERY_WEIGHT
    from core.risk.signals import compute_signals

    inputs, cands = nfcorpus_small
    model = train_combiner(inputs)
    view = model.view
    # the topic term's factor (P(two or more relevant per query)) sets both weights
    assert view.name.endswith("+lsa") and view.score.query is not None
    assert view.score.lsa == pytest.approx(LSA_WEIGHT * view.score.query[0] / QUERY_WEIGHT, rel=1e-9)
    q, d = inputs.qrow(cands.query_id.tolist()), inputs.drow(cands.doc_id.tolist())
    a = pair_arrays(inputs, q, d, ranks=True, feedback=True)
    a["rank"] = a["dense_rank"]
    sig = compute_signals(a)
    sig.update(compute_signals(with_feedback(a), model.names))  # as the scorer ranks (core/risk/score.py)
    X = np.column_stack([sig[n] for n in model.names])
    without = {k: v for k, v in sig.items() if k != LSA_SIGNAL}
    # the closeness and its doc-graph mean, both at the view's LSA weight (pu-view-13)
    assert view.score.lsa_graph
    np.testing.assert_allclose(view.score(X, sig) - view.score(X, without),
                               view.score.lsa * (sig[LSA_SIGNAL] + sig[LSA_GRAPH_SIGNAL]))
    no_graph = {k: v for k, v in sig.items() if k != LSA_GRAPH_SIGNAL}
    np.testing.assert_allclose(view.score(X, sig) - view.score(X, no_graph), view.score.lsa * sig[LSA_GRAPH_SIGNAL])
    assert train_combiner(dataclasses.replace(inputs, lsa=None)).view.score.lsa is None
    out = score_false_negatives(cands, inputs, model=model)
    sig = np.array([json.loads(s)[LSA_SIGNAL] for s in out.signals])
    graph = np.array([json.loads(s)[LSA_GRAPH_SIGNAL] for s in out.signals])
    assert np.isfinite(sig).all() and sig.std() > 0.3  # standardised against each query's top docs
    assert np.isfinite(graph).all() and graph.std() > 0
    assert out.fn_risk.between(0.01, 0.99).all()
    said = out.reasons.str.contains("LSA", regex=False).to_numpy()
    high = (model.view.score.lsa * sig >= 0.5) | (model.view.score.lsa * graph >= 0.5)
    assert (out.reasons.str.contains("its nearest docs' LSA", regex=False).to_numpy()
            == (model.view.score.lsa * graph >= 0.5)).all()
    assert high.any() and (said == high).all()  # named exactly where its term adds half a sd or more

"""Local PU region, the held-out view choice and the bounded probability (before judgments: never 0 or 1)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.risk import score_false_negatives, train_combiner
from core.risk.region import region_pairs
from core.risk.select import MODEL_VIEWS
from core.risk.views import P_MAX, P_MIN, View
from tests.risk.conftest import make_inputs


@pytest.fixture(scope="module")
def medium():
    return make_inputs(n_docs=160, n_queries=40, seed=3)


@settings(max_examples=50, deadline=None)
@given(a=st.floats(0.01, 20), b=st.floats(-20, 20), c=st.floats(0.001, 0.999), prior=st.floats(0, 1),
       n=st.integers(0, 10_000), s=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=30))
def test_probability_bounded_and_monotone(a, b, c, prior, n, s) -> None:
    v = View("global_linear", lambda X, sig: X, (a, b), c, prior, n)
    s = np.sort(np.array(s))
    p = v.probability(s)
    assert ((p >= P_MIN) & (p <= P_MAX)).all()
    assert (np.diff(p) >= -1e-12).all()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60), k=st.integers(1, 8))
def test_equal_weights_reads_no_label_and_no_row_order(seed, n, k) -> None:
    """The label-free half of the global view: the same fit whatever the labels and the row order, each
    column standardised on the rows it was fitted on (a constant column adds nothing)."""
    from core.risk.views import make_model, model_score

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k)) * rng.uniform(0.1, 10, k) + rng.normal(size=k)
    X[:, 0] = 3.0
    a = make_model("equal_weights").fit(X, rng.integers(0, 2, n))
    b = make_model("equal_weights").fit(X[rng.permutation(n)], np.zeros(n))
    Xs = rng.normal(size=(5, k))
    np.testing.assert_allclose(model_score(a, Xs), model_score(b, Xs), atol=1e-9)
    np.testing.assert_allclose(model_score(a, X).mean(), 0.0, atol=1e-9)
    Xs2 = Xs.copy()
    Xs2[:, 0] += 100.0  # the constant column
    np.testing.assert_allclose(model_score(a, Xs2), model_score(a, Xs), atol=1e-9)
    if k > 1:
        up = Xs.copy()
        up[:, 1] += 1.0  # every learned signal counts upward ...
        assert (model_score(a, up) > model_score(a, Xs)).all()
        skip = make_model("equal_weights", (1,)).fit(X)  # ... but a column left out (the fused MaxSim)
        np.testing.assert_allclose(model_score(skip, up), model_score(skip, Xs), atol=1e-9)


def test_default_view_averages_the_pu_regression_and_the_equal_weights(medium) -> None:
    from core.risk import select

    inputs, _ = medium
    view = train_combiner(inputs).view
    assert view.name == select.DEFAULT_VIEW
    assert set(view.score.models) == set(view.score.norm) == set(select.GLOBAL_PARTS)
    assert {"global_linear", "equal_weights", select.DEFAULT_VIEW} <= set(view.heldout)
    X = np.random.default_rng(1).normal(size=(6, len(train_combiner(inputs).names)))
    from core.risk.views import model_score
    parts = sum((model_score(view.score.models[k], X) - m) / sd for k, (m, sd) in view.score.norm.items())
    m, sd = view.score.centre
    np.testing.assert_allclose(view.score(X, {}), (parts - m) / sd)
    # reasons read the view's own per-signal terms: they add up to its score, up to one constant
    gap = view.score.contributions(X).sum(axis=1) - view.score(X, {})
    np.testing.assert_allclose(gap, gap[0], atol=1e-9)


def test_region_rows_are_each_labelled_querys_top_docs(medium) -> None:
    inputs, _ = medium
    q, d, y = region_pairs(inputs, depth=25, max_queries=1000)
    pos = inputs.positive_rows()
    assert set(np.unique(q)) == {i for i, p in enumerate(pos) if len(p)}
    for qi in np.unique(q)[:5]:
        rows = q == qi
        top = np.argsort(-(inputs.doc_emb @ inputs.query_emb[qi]))[:25]
        assert set(d[rows]) == set(top)
        np.testing.assert_array_equal(y[rows], np.isin(d[rows], pos[qi]).astype(int))
    q2, _, _ = region_pairs(inputs, depth=25, max_queries=7)
    assert len(np.unique(q2)) == 7


@pytest.mark.parametrize("min_region", [10, 10_000])
def test_view_chosen_and_risk_never_certain(medium, monkeypatch, min_region) -> None:
    """Both paths: the local boosted view competes (enough labelled docs in the regions) or is skipped."""
    from core.risk import select

    monkeypatch.setattr(select, "MIN_REGION_POSITIVES", min_region)
    inputs, cands = medium
    model = train_combiner(inputs)
    assert model.view is not None and model.view.name in MODEL_VIEWS
    assert ("region_gbm" in model.view.heldout) == (min_region == 10)
    assert "global_linear" in model.view.heldout and "equal_weights" in model.view.heldout
    out = score_false_negatives(cands, inputs, model=model)
    assert out.fn_risk.between(P_MIN, P_MAX).all()
    perm = score_false_negatives(cands.sample(frac=1.0, random_state=1), inputs, model=model)
    a = out.set_index(["query_id", "doc_id"]).fn_risk.sort_index()
    pd.testing.assert_series_equal(a, perm.set_index(["query_id", "doc_id"]).fn_risk.sort_index())


def test_late_interaction_is_fused_into_the_view(medium) -> None:
    """With late interaction the chosen view adds the standardised MaxSim at LATE_WEIGHT: a candidate's risk
    rises with its MaxSim, stays in [P_MIN, P_MAX] and does not depend on row order; without it, no fusion."""
    from dataclasses import replace

    from core.risk import select

    inputs, cands = medium
    rng = np.random.default_rng(7)
    n_q = len(inputs.query_ids)
    # a tenth of the queries have candidates that cover them better: a query-level term that fires somewhere
    M = rng.uniform(0.2, 0.6, (n_q, len(inputs.doc_ids))) + 0.3 * (rng.random(n_q) < 0.1)[:, None]
    late = replace(inputs, late=lambda q, d: M[q, d])
    model = train_combiner(late)
    assert model.view.name.split("+")[0] in MODEL_VIEWS and model.view.name.split("+")[1:] == ["late", "query"]
    w, mean, sd = model.view.score.late
    assert w == select.LATE_WEIGHT and sd > 0
    wq, qnorm = model.view.score.query  # the query-level term: weighed by the relevant docs expected per query
    assert 0 < wq < select.QUERY_WEIGHT and list(qnorm) == ["late_query_mean"]  # no coverage given here
    qmean, qsd = qnorm["late_query_mean"]
    assert qsd > 0
    out = score_false_negatives(cands, late, model=model)
    assert out.fn_risk.between(P_MIN, P_MAX).all()
    perm = score_false_negatives(cands.sample(frac=1.0, random_state=1), late, model=model)
    a = out.set_index(["query_id", "doc_id"]).fn_risk.sort_index()
    pd.testing.assert_series_equal(a, perm.set_index(["query_id", "doc_id"]).fn_risk.sort_index())
    high = (np.array([json.loads(v)["late_maxsim"] for v in out.signals]) - mean) / sd >= 1.0
    assert high.any() and not high.all()
    assert out.reasons[high].str.contains("token MaxSim").all()  # the card says what ranked it
    qhigh = wq * (np.array([json.loads(v)["late_query_mean"] for v in out.signals]) - qmean) / qsd >= 0.5
    assert qhigh.any() and not qhigh.all()
    assert out.reasons[qhigh].str.contains("mean token MaxSim").all()
    assert out.reasons[qhigh].str.contains("likely to hold several relevant docs").all()
    assert not out.reasons[~qhigh].str.contains("likely to hold several relevant docs").any()
    X = np.zeros((2, len(model.names)))
    lo, hi = model.view.score(X, {"late_maxsim": np.array([0.3, 0.8]), "late_query_mean": np.array([0.5, 0.5])})
    assert hi - lo == pytest.approx(w * 0.5 / sd)  # the same model input: only the MaxSim term differs
    lo, hi = model.view.score(X, {"late_maxsim": np.array([0.5, 0.5]), "late_query_mean": np.array([0.4, 0.6])})
    assert hi - lo == pytest.approx(wq * 0.2 / qsd)  # ... only the query's mean MaxSim differs
    with pytest.raises(ValueError, match="late_maxsim"):
        model.view.score(X, None)
    with pytest.raises(ValueError, match="late_query_mean"):
        model.view.score(X, {"late_maxsim": np.array([0.3, 0.8])})
    plain = train_combiner(inputs).view.score
    assert plain.late is None and plain.query is None  # not fused without late interaction (nor coverage)


def test_no_view_without_enough_labels(tiny) -> None:
    inputs, cands = tiny  # 8 labelled positives: too few to hold some out
    model = train_combiner(inputs)
    assert model.view is None
    assert score_false_negatives(cands, inputs, model=model).fn_risk.between(P_MIN, P_MAX).all()


def test_query_weight_grows_with_the_relevant_docs_expected_per_query() -> None:
    """Rows whose scores sit among the labelled positives' count as likely relevant: many per query -> a weight
    near QUERY_WEIGHT; unlabelled rows far below the positives -> near 0 (about one relevant doc per query)."""
    from core.risk import select

    rng = np.random.default_rng(0)
    q = np.repeat(np.arange(40), 31)
    y = np.tile(np.r_[1, np.zeros(30)], 40).astype(int)
    pos = rng.normal(2.0, 0.5, len(q))
    rich = np.where(y == 1, pos, np.where(np.tile(np.arange(31), 40) < 10, pos, rng.normal(-2, 0.5, len(q))))
    poor = np.where(y == 1, pos, rng.normal(-4.0, 0.5, len(q)))
    def weight(score, y, q):
        return select.QUERY_WEIGHT * select.several_share(score, y, q)  # the topic term's weight in choose_view

    w_rich, w_poor = weight(rich, y, q), weight(poor, y, q)
    assert 0.7 * select.QUERY_WEIGHT < w_rich < select.QUERY_WEIGHT
    assert 0 <= w_poor < 0.1 * select.QUERY_WEIGHT
    perm = rng.permutation(len(q))
    assert weight(rich[perm], y[perm], q[perm]) == pytest.approx(w_rich)


def test_term_coverage_alone_is_fused_as_the_query_level_term(medium) -> None:
    """Without late interaction the query's mean term coverage is the query-level term: risk rises with it for
    the same candidate features, the card names it where it lifts a row, and the probability map is the same
    as without it (fitted before the term joins)."""
    from dataclasses import replace

    inputs, cands = medium
    C = np.random.default_rng(5).uniform(0.0, 1.0, (len(inputs.query_ids), len(inputs.doc_ids)))
    C[0] = 1.0  # one query whose top docs hold all its terms
    cov = replace(inputs, coverage=lambda q, docs: C[np.asarray(q)[:, None], docs])
    model, plain = train_combiner(cov), train_combiner(inputs)
    assert model.view.name == plain.view.name + "+query"
    wq, qnorm = model.view.score.query
    assert list(qnorm) == ["coverage_query_mean"] and 0 < wq < 1
    X = np.random.default_rng(0).normal(size=(5, len(model.names)))
    m, sd = qnorm["coverage_query_mean"]
    at_mean = model.view.probability(model.view.score(X, {"coverage_query_mean": np.full(5, m)}))
    np.testing.assert_allclose(at_mean, plain.view.probability(plain.view.score(X, {})), rtol=2e-3)  # same map
    out = score_false_negatives(cands, cov, model=model)
    assert out.fn_risk.between(P_MIN, P_MAX).all()
    qhigh = wq * (np.array([json.loads(v)["coverage_query_mean"] for v in out.signals]) - m) / sd >= 0.5
    assert qhigh.any() and not qhigh.all() and out.reasons[qhigh].str.contains("hold most of its terms").all()
    assert not out.reasons[~qhigh].str.contains("hold most of its terms").any()
    X = np.zeros((2, len(model.names)))
    lo, hi = model.view.score(X, {"coverage_query_mean": np.array([0.2, 0.6])})
    assert hi - lo == pytest.approx(wq * 0.4 / sd)


def test_the_query_level_term_is_fused_for_topic_queries_only(medium) -> None:
    """Sentence queries (topic 0) get no query-level term: their score is the view's alone, while topic
    queries keep it; with no topic query at all the view fuses no term (and names none)."""
    from dataclasses import replace

    inputs, cands = medium
    n = len(inputs.query_ids)
    C = np.random.default_rng(5).uniform(0.0, 1.0, (n, len(inputs.doc_ids)))
    cov = lambda q, docs: C[np.asarray(q)[:, None], docs]
    topic = np.zeros(n)
    topic[::2] = 1.0
    mixed = train_combiner(replace(inputs, coverage=cov, topic=topic))
    assert mixed.view.name.split("+")[1:] == ["query", "sentence", "nqc"]
    X = np.zeros((2, len(mixed.names)))
    sig = {"coverage_query_mean": np.array([0.9, 0.9]), "topic_query": np.array([1.0, 0.0])}
    at_topic, at_sentence = mixed.view.score(X, sig)
    wq, qnorm = mixed.view.score.query
    m, sd = qnorm["coverage_query_mean"]
    assert at_topic - at_sentence == pytest.approx(wq * (0.9 - m) / sd)
    assert at_sentence == pytest.approx(mixed.view.score(X, {"coverage_query_mean": np.full(2, m)})[0])
    none = train_combiner(replace(inputs, coverage=cov, topic=np.zeros(n)))
    assert "query" not in none.view.name.split("+") and none.view.score.query is None
    out = score_false_negatives(cands, replace(inputs, coverage=cov, topic=topic), model=mixed)
    gate = np.array([json.loads(v)["topic_query"] for v in out.signals])
    assert set(gate) == {0.0, 1.0}  # stored beside the other signals
    assert not out.reasons[gate == 0].str.contains("hold most of its terms").any()


def test_the_sentence_term_lifts_sentence_queries_only(medium) -> None:
    """Sentence queries (topic 0) get the closeness of their top docs to their labelled positive at
    SENTENCE_WEIGHT (standardised on the region's top rows); topic queries do not; with no sentence query the
    view fuses no such term; rows stored before the signal existed get none."""
    from dataclasses import replace

    from core.risk import select

    inputs, _ = medium
    n = len(inputs.query_ids)
    topic = np.zeros(n)
    topic[::2] = 1.0
    mixed = train_combiner(replace(inputs, topic=topic))
    assert mixed.view.name.endswith("+sentence+nqc")
    w, m, sd = mixed.view.score.sentence
    assert w == select.SENTENCE_WEIGHT and sd > 0
    X = np.zeros((2, len(mixed.names)))
    base = mixed.view.score(X, {"pos_query_mean": np.full(2, m), "topic_query": np.array([1.0, 0.0])})
    up = mixed.view.score(X, {"pos_query_mean": np.full(2, m + sd), "topic_query": np.array([1.0, 0.0])})
    assert up[0] == pytest.approx(base[0]) and up[1] - base[1] == pytest.approx(w)
    np.testing.assert_allclose(mixed.view.score(X, {}), base)  # older rows: no signal, no term
    topics = train_combiner(replace(inputs, topic=np.ones(n)))
    assert topics.view.score.sentence is None and "sentence" not in topics.view.name.split("+")


def test_the_nqc_term_lifts_sentence_queries_whose_top_docs_spread(medium) -> None:
    """Sentence queries (topic 0) get the spread of their top docs' dense z-scores (NQC) at NQC_WEIGHT x the
    chance a query holds two or more unlabelled relevant docs (the topic term's factor), standardised on the
    region's top rows; topic queries do not; with no sentence query no such term; rows stored before the signal
    existed get none; the card names it in the query-level clause where it adds half a standard deviation."""
    from dataclasses import replace

    from core.risk import select
    from core.risk.score import _fused_high

    inputs, cands = medium
    n = len(inputs.query_ids)
    topic = np.zeros(n)
    topic[::2] = 1.0
    mixed = replace(inputs, topic=topic)
    model = train_combiner(mixed)
    w, m, sd = model.view.score.nqc
    assert model.view.name.endswith("+nqc") and sd > 0
    assert 0 < w <= select.NQC_WEIGHT
    X = np.zeros((2, len(model.names)))
    gate = np.array([1.0, 0.0])
    base = model.view.score(X, {"dense_nqc": np.full(2, m), "topic_query": gate})
    up = model.view.score(X, {"dense_nqc": np.full(2, m + sd), "topic_query": gate})
    assert up[0] == pytest.approx(base[0]) and up[1] - base[1] == pytest.approx(w)
    np.testing.assert_allclose(model.view.score(X, {"topic_query": gate}), base)  # older rows: no signal, no term
    sig = {"dense_nqc": np.full(2, m + 0.6 * sd / w), "topic_query": gate}
    assert _fused_high(model, sig)["dense_nqc"].tolist() == [False, True]
    out = score_false_negatives(cands, mixed, model=model)
    assert out.fn_risk.between(P_MIN, P_MAX).all()
    nqc = np.array([json.loads(v)["dense_nqc"] for v in out.signals])
    assert np.ptp(nqc) > 0 and (nqc >= 0).all()  # stored beside the other signals
    sentence = np.array([json.loads(v)["topic_query"] for v in out.signals]) == 0
    high = sentence & (w * (nqc - m) / sd >= 0.5)
    named = out.reasons.str.contains("commits to some of the query's top docs")
    assert (named == high).all() and out.reasons[high].str.contains("likely to hold several relevant docs").all()
    topics = train_combiner(replace(inputs, topic=np.ones(n)))
    assert topics.view.score.nqc is None and "nqc" not in topics.view.name.split("+")

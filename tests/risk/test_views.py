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
    assert "global_linear" in model.view.heldout
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
    M = np.random.default_rng(7).uniform(0.2, 0.9, (len(inputs.query_ids), len(inputs.doc_ids)))
    late = replace(inputs, late=lambda q, d: M[q, d])
    model = train_combiner(late)
    assert model.view.name.endswith("+late") and model.view.name[: -len("+late")] in MODEL_VIEWS
    w, mean, sd = model.view.score.late
    assert w == select.LATE_WEIGHT and sd > 0
    out = score_false_negatives(cands, late, model=model)
    assert out.fn_risk.between(P_MIN, P_MAX).all()
    perm = score_false_negatives(cands.sample(frac=1.0, random_state=1), late, model=model)
    a = out.set_index(["query_id", "doc_id"]).fn_risk.sort_index()
    pd.testing.assert_series_equal(a, perm.set_index(["query_id", "doc_id"]).fn_risk.sort_index())
    high = (np.array([json.loads(v)["late_maxsim"] for v in out.signals]) - mean) / sd >= 1.0
    assert high.any() and not high.all()
    assert out.reasons[high].str.contains("token MaxSim").all()  # the card says what ranked it
    X = np.zeros((2, len(model.names)))
    lo, hi = model.view.score(X, {"late_maxsim": np.array([0.3, 0.8])})
    assert hi - lo == pytest.approx(w * 0.5 / sd)  # the same model input: only the MaxSim term differs
    with pytest.raises(ValueError, match="late_maxsim"):
        model.view.score(X, None)
    assert train_combiner(inputs).view.score.late is None  # not fused without late interaction


def test_no_view_without_enough_labels(tiny) -> None:
    inputs, cands = tiny  # 8 labelled positives: too few to hold some out
    model = train_combiner(inputs)
    assert model.view is None
    assert score_false_negatives(cands, inputs, model=model).fn_risk.between(P_MIN, P_MAX).all()

"""core.labels: consensus, agreement (checked against scikit-learn and a published example) and the
one false-negative-rate estimator (Wilson interval checked against scipy)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from core import labels as L


def _cur(rows: list[tuple]) -> pd.DataFrame:
    """Current-label rows (query, doc, annotator, label, action); ids in order."""
    return pd.DataFrame([(q, d, a, lab, act, i) for i, (q, d, a, lab, act) in enumerate(rows)],
                        columns=["query_id", "doc_id", "annotator", "label", "action", "id"])


def test_consensus_majority_tie_single_and_adjudication():
    cur = _cur([("q", "a", "ann", "negative", "label"), ("q", "a", "bob", "negative", "label"),
                ("q", "a", "cat", "false_negative", "label"),
                ("q", "b", "ann", "negative", "label"), ("q", "b", "bob", "partial", "label"),
                ("q", "c", "ann", "unsure", "label"),
                ("q", "d", "ann", "negative", "label"), ("q", "d", "bob", "partial", "label"),
                ("q", "d", "boss", "partial", "adjudicate"),
                ("q", "d", "boss", "false_negative", "adjudicate")])
    c = L.consensus_from_labels(cur).set_index("doc_id")
    assert (c.loc["a", "label"], c.loc["a", "status"], c.loc["a", "n"]) == ("negative", "majority", 3)
    assert c.loc["b", "status"] == "disagreement" and pd.isna(c.loc["b", "label"])
    assert c.loc["c", "status"] == "single"
    assert (c.loc["d", "label"], c.loc["d", "status"]) == ("false_negative", "adjudicated")
    assert L.consensus_from_labels(cur.iloc[0:0]).columns.tolist() == L.CONSENSUS_COLUMNS


def test_cohen_kappa_matches_sklearn():
    a = ["n", "n", "f", "p", "n", "f", "u", "n", "f", "n"]
    b = ["n", "f", "f", "p", "n", "n", "u", "n", "f", "p"]
    assert L.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    assert L.cohen_kappa(["x", "y"], ["x", "y"]) == pytest.approx(1.0)
    assert math.isnan(L.cohen_kappa(["x", "x"], ["x", "x"]))  # one category: undefined
    assert math.isnan(L.cohen_kappa(["x"], []))


def test_krippendorff_alpha_reference():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal example: 0.743.
    rows = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = [[str(r[i]) for r in rows if r[i] is not None] for i in range(12)]
    assert L.krippendorff_alpha(units) == pytest.approx(0.743, abs=1e-3)
    a, b = ["n", "n", "f", "f", "n", "p"], ["n", "f", "f", "f", "n", "p"]
    alpha = L.krippendorff_alpha([[x, y] for x, y in zip(a, b)])
    assert alpha == pytest.approx(cohen_kappa_score(a, b), abs=0.1)


def test_agreement_from_labels_leaves_adjudications_out():
    pa = ["negative", "false_negative", "negative", "negative", "partial", "negative"]
    pb = ["negative", "false_negative", "false_negative", "negative", "partial", "partial"]
    rows = [(f"q{i}", "d", "ann", x, "label") for i, x in enumerate(pa)]
    rows += [(f"q{i}", "d", "bob", x, "label") for i, x in enumerate(pb)]
    rows += [("q2", "d", "boss", "negative", "adjudicate")]
    ag = L.agreement_from_labels(_cur(rows))
    assert ag["items_multi"] == 6 and len(ag["pairs"]) == 1
    assert ag["pairs"].kappa[0] == pytest.approx(cohen_kappa_score(pa, pb))
    assert not math.isnan(ag["alpha"])


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 500), st.data())
def test_wilson_matches_scipy(n, data):
    from scipy.stats import binomtest

    k = data.draw(st.integers(0, n))
    ref = binomtest(k, n).proportion_ci(0.95, method="wilson")
    lo, hi = L.wilson_interval(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-9) and hi == pytest.approx(ref.high, abs=1e-9)
    assert lo <= k / n <= hi
    assert (lo == 0.0) == (k == 0) or lo < 1e-12


def test_table_by_rank_bucket():
    items = pd.DataFrame({
        "query_id": list("abcdefgh"), "doc_id": "x",
        "rank": [1, 2, 3, 7, 8, 30, 150, None],
        "label": ["false_negative", "negative", "partial", "false_negative", "negative",
                  "unsure", "negative", None]})
    t = L.fn_rate_table(items).set_index("bucket")
    assert list(t.index) == ["all", "1-5", "6-10", "21-50", "101+", "unranked"]
    assert t.loc["all", "n"] == 6 and t.loc["all", "false_negative"] == 2
    assert t.loc["all", "excluded"] == 2  # unsure + tie
    assert t.loc["1-5", "fn_rate"] == pytest.approx(1 / 3)  # partial is not a false negative...
    assert t.loc["1-5", "fn_or_partial_rate"] == pytest.approx(2 / 3)  # ...but counted apart
    assert math.isnan(t.loc["21-50", "fn_rate"])  # only an unsure item there
    assert L.rank_bucket(5) == "1-5" and L.rank_bucket(101) == "101+"
    assert L.rank_bucket(None) == "unranked" and L.rank_bucket(float("nan")) == "unranked"
    cats = L.rank_buckets(pd.Series([150, 1, 12]))
    assert list(cats) == ["101+", "1-5", "11-20"] and cats.ordered


def test_random_prefix_tolerates_few_gaps():
    order = pd.DataFrame({"query_id": "q", "doc_id": [f"d{i}" for i in range(10)]})
    judged = pd.DataFrame({"query_id": "q", "doc_id": [f"d{i}" for i in (0, 1, 2, 3, 4, 5, 8)],
                           "label": "negative"})
    sample, info = L.random_prefix(order, judged, min_coverage=1.0)
    assert info["prefix"] == 6 and len(sample) == 6 and info["gaps"] == 0
    sample, info = L.random_prefix(order, judged, min_coverage=0.8)
    assert info["prefix"] == 6 and info["gaps"] == 0 and len(sample) == 6  # d6 at 6/7 is a gap nobody reached
    skipped = judged.assign(doc_id=[f"d{i}" for i in (0, 1, 2, 3, 4, 5, 7)])  # d6 skipped, d7 judged
    sample, info = L.random_prefix(order, skipped, min_coverage=0.8)
    assert info["prefix"] == 8 and info["gaps"] == 1 and len(sample) == 7


def test_estimate_fn_rate_random_prefix_and_all():
    order = pd.DataFrame({"query_id": "q", "doc_id": [f"d{i}" for i in range(30)]})
    ranks = order.assign(rank=range(1, 31))
    judged = [(f"d{i}", "false_negative" if i % 5 == 1 else "negative") for i in range(21) if i != 7]
    judged += [("d25", "false_negative")]  # beyond the prefix: not in the random sample
    cons = pd.DataFrame({"query_id": "q", "doc_id": [d for d, _ in judged],
                         "label": [lab for _, lab in judged]})
    table, info = L.estimate_fn_rate(order, cons, ranks)
    overall = table.iloc[0]
    # 20 of the first 21 items are judged (95.2% >= 95%; d7 skipped): one gap, with the rate's bounds
    assert (info["prefix"], info["gaps"], info["judged_in_prefix"]) == (21, 1, 20)
    assert info["fn_rate_if_gaps_all_negative"] == pytest.approx(4 / 21)
    assert info["fn_rate_if_gaps_all_fn"] == pytest.approx(5 / 21)
    assert (overall["n"], overall["false_negative"]) == (20, 4)
    assert L.format_rate(overall["fn_rate"], overall["ci_low"], overall["ci_high"]) == (
        "20.0% [8.1%, 41.6%]")  # Wilson 4/20
    # without d20 the prefix would end on the gap d20 (20 of 21 judged): it ends at d19 instead
    _, short = L.estimate_fn_rate(order, cons[cons.doc_id != "d20"], ranks)
    assert (short["prefix"], short["gaps"], short["judged_in_prefix"]) == (20, 1, 19)
    everything, meta = L.estimate_fn_rate(None, cons, ranks)
    assert everything.iloc[0]["n"] == 21 and meta["judged"] == 21 and "warning" in meta
    assert L.format_rate(float("nan"), 0, 0) == "n/a"

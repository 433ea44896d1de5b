"""Pooling bias: Judged@k checked against ir_measures; rank-bucket FN rates; risk histogram."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.risk import fn_rate_by_rank, query_pooling_bias, risk_distribution

RUN = {"q1": ["a", "b", "c", "d", "e"], "q2": ["x", "y", "z", "a", "b"]}
QRELS = {"q1": {"a": 1, "c": 0, "e": 2}, "q2": {"z": 1}}


def test_judged_at_k_matches_ir_measures() -> None:
    ir_measures = pytest.importorskip("ir_measures")
    from ir_measures import Judged

    qrels = [ir_measures.Qrel(q, d, r) for q, ds in QRELS.items() for d, r in ds.items()]
    run = [ir_measures.ScoredDoc(q, d, float(10 - i)) for q, ds in RUN.items() for i, d in enumerate(ds)]
    labelled = {q: set(ds) for q, ds in QRELS.items()}
    positives = {q: {d for d, r in ds.items() if r > 0} for q, ds in QRELS.items()}
    for k in (1, 3, 5):
        ours = query_pooling_bias(RUN, {}, labelled, positives, k=k).set_index("query_id").judged_at_k
        ref = {m.query_id: m.value for m in ir_measures.iter_calc([Judged @ k], qrels, run)}
        for q in RUN:
            assert ours[q] == pytest.approx(ref[q])


def test_pooling_bias_columns_and_range() -> None:
    out = query_pooling_bias(RUN, {"q1": ["a", "b"], "q2": ["q"]}, {q: set(d) for q, d in QRELS.items()},
                             {"q1": {"a", "e"}, "q2": {"z"}}, k=5)
    assert list(out.columns) == ["query_id", "n_positives", "judged_at_k", "lexical_overlap",
                                 "positive_rank", "pooling_bias_risk"]
    assert out.pooling_bias_risk.between(0, 1).all()
    row = out.set_index("query_id").loc["q2"]
    assert row.positive_rank == 3 and row.lexical_overlap == 0
    assert out.set_index("query_id").pooling_bias_risk["q2"] > out.set_index("query_id").pooling_bias_risk["q1"]


def test_fn_rate_by_rank_and_distribution() -> None:
    scored = pd.DataFrame({"query_id": ["q"] * 4, "doc_id": list("abcd"), "miner": "dense",
                           "rank": [1, 2, 8, 25], "fn_risk": [0.9, 0.5, 0.2, 0.05]})
    j = pd.DataFrame({"query_id": ["q"], "doc_id": ["a"], "label": ["false_negative"]})
    t = fn_rate_by_rank(scored, j).set_index("bucket")
    assert t.loc["1-5", "est_fn_rate"] == pytest.approx(0.7) and t.loc["1-5", "judged_fn_rate"] == 1.0
    assert t.n.sum() == 4
    d = risk_distribution(scored)
    assert d.n.sum() == 4 and np.isclose(d.expected_fn.sum(), 1.65)

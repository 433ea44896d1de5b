"""The fn-detection bench on a small real subset (NFCorpus, 20 queries, stored embeddings)."""

from __future__ import annotations

from pathlib import Path

import pytest

FIX = Path(__file__).parents[1] / "fixtures" / "risk" / "nfcorpus_small"


def test_sparsify_keeps_one_and_hides_rest() -> None:
    import pandas as pd

    from core.bench.fn_detection import sparsify_qrels

    q = pd.DataFrame({"query_id": ["q"] * 3 + ["r"], "doc_id": ["a", "b", "c", "d"], "relevance": [1, 2, 0, 1]})
    kept, hidden = sparsify_qrels(q, 1, 0)
    assert len(kept["q"]) == 1 and kept["q"] | hidden["q"] == {"a", "b"} and hidden["r"] == set()


@pytest.mark.slow
def test_bench_runs_on_small_real_subset() -> None:
    from core.bench.fn_detection import format_tables, run_fn_detection

    r = run_fn_detection(FIX, embeddings=str(FIX / "emb"), judgments=(0, 50, 100), verbose=False)
    assert r["n_queries"] == 20 and r["n_candidates"] == 600
    for name in ("fn_risk", "1/rank", "dense score", "NV-Retriever ratio", "BM25", "RRF(dense,BM25)",
                 "sim. to kept positive", "BM25 + RM3 feedback"):
        m = r["detection"][name]
        assert 0 <= m["AP"] <= 1 and 0 <= m["P@50"] <= 1 and 0 <= m["P@100"] <= 1
    lo, hi = r["fn_risk_range"]
    assert 0.01 <= lo <= hi <= 0.99  # before any judgment: never 0% or 100%
    curve = r["learning_curve"]
    assert [row["judgments"] for row in curve] == [0, 50, 100]
    assert curve[0]["static"] == curve[0]["learned"]  # nothing judged: the static order
    assert curve[2]["remaining"] == 500 and curve[2]["found_static"] <= 100
    assert "learning curve" in format_tables(r) and "P@50" in format_tables(r)


@pytest.mark.slow
def test_bench_token_maxsim_static_by_default_contextual_on_flag_off_on_request() -> None:
    from core.bench.fn_detection import format_tables, run_fn_detection

    kw = {"embeddings": str(FIX / "emb"), "judgments": (0,), "verbose": False}
    static = run_fn_detection(FIX, **kw)
    ctx = run_fn_detection(FIX, late_interaction=True, **kw)
    off = run_fn_detection(FIX, static_maxsim=False, **kw)
    assert (static["maxsim"], ctx["maxsim"], off["maxsim"]) == ("static", "contextual", None)
    for r in (static, ctx):
        assert "late_maxsim" in r["combiner"] and r["late_interaction_s"] > 0
        assert r["view"]["fused"]["late_maxsim"] == 0.5 and "late_maxsim fused at 0.50" in format_tables(r)
        alone = r["evidence"]["token MaxSim alone"]
        assert 0 <= alone["AP"] <= 1 and "(new evidence, not a baseline)" in format_tables(r)
    assert "late_maxsim" not in off["combiner"] and off["late_interaction_s"] is None and off["evidence"] == {}
    assert "late_maxsim" not in off["view"]["fused"] and "token MaxSim" not in format_tables(off)
    assert "token MaxSim (static word pieces)" in format_tables(static)
    assert "token MaxSim (contextual, a second model pass)" in format_tables(ctx)
    assert static["evidence"] != ctx["evidence"]  # two different token tables
    assert static["n_candidates"] == ctx["n_candidates"] == off["n_candidates"]

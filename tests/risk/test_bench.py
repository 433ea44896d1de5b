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
    from core.bench.fn_detection import run_fn_detection

    r = run_fn_detection(FIX, embeddings=str(FIX / "emb"), n_judgments=50, verbose=False)
    assert r["n_queries"] == 20 and r["n_candidates"] == 600
    for name in ("fn_risk", "1/rank", "dense score", "NV-Retriever ratio", "BM25", "RRF(dense,BM25)",
                 "sim. to kept positive"):
        assert 0 <= r["detection"][name]["AP"] <= 1
    assert set(r["recalibration"]) == {"before", "after"}

"""The retrain bench: pure pieces fast; the whole protocol on the SciFact fixture (slow)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.bench.retrain import RetrainConfig, eval_subset, format_table, run_retrain, summarize

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "beir_scifact"


def test_eval_subset_keeps_every_test_positive_and_is_seeded():
    ids = [f"d{i}" for i in range(100)]
    sub = eval_subset(ids, {"d3", "d97"}, 20, seed=0)
    assert len(sub) == 20 and {"d3", "d97"} <= set(sub)
    assert sub == eval_subset(ids, {"d3", "d97"}, 20, seed=0)
    assert sub == sorted(sub, key=ids.index)


def test_summary_and_table():
    per_seed = pd.DataFrame({"model": ["raw", "cleaned"] * 3, "seed": [0, 0, 1, 1, 2, 2],
                             "nDCG@10": [0.60, 0.62, 0.61, 0.63, 0.59, 0.62],
                             "R@100": [0.9, 0.91, 0.9, 0.9, 0.88, 0.9]})
    pq = {"raw": pd.DataFrame({"nDCG@10": [0.5, 0.6, 0.7, 0.4], "R@100": [1, 1, 1, 0.5]}),
          "cleaned": pd.DataFrame({"nDCG@10": [0.6, 0.6, 0.8, 0.5], "R@100": [1, 1, 1, 1.0]})}
    s = summarize(per_seed, pq)
    assert s["table"]["cleaned"]["nDCG@10"]["mean"] == pytest.approx(0.62333, abs=1e-4)
    t = s["paired_cleaned_vs_raw"]["nDCG@10"]["t_over_seeds"]
    assert t["mean_diff"] == pytest.approx(0.02333, abs=1e-4) and 0 < t["p"] < 1
    result = {"base": {"nDCG@10": 0.6, "R@100": 0.9}, "summary": s}
    assert "(b) risk-cleaned" in format_table(result)


@pytest.mark.slow
def test_bench_runs_end_to_end_on_the_fixture(tmp_path):
    r = run_retrain(RetrainConfig(beir_dir=str(FIXTURE), seeds=(0,), top_k=10, max_steps=1,
                                  batch_size=4, eval_docs=100, cache=str(tmp_path / "cache"),
                                  out_dir=str(tmp_path / "runs")), verbose=False)
    assert [row["model"] for row in r["per_seed"]] == ["base", "raw", "cleaned"]
    assert all(0 <= row["nDCG@10"] <= 1 for row in r["per_seed"])
    assert r["eval"]["docs"] == 100

"""Smoke runs of the throughput and ONNX benches on the SciFact fixture (they print figures; nothing is timed here)."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "beir_scifact"


@pytest.mark.slow
def test_throughput_bench_runs_each_path_in_its_own_process():
    from core.bench.throughput import format_report, run_throughput_bench

    r = run_throughput_bench(FIXTURE, n=12, paths=("raw", "ours"), verbose=False)
    assert [x["path"] for x in r["runs"]] == ["raw", "ours"]
    assert all(x["n"] == 12 and x["passages_per_s"] > 0 for x in r["runs"])
    assert r["runs"][1]["encoded"] == 12  # an empty cache: every passage encoded
    assert "best of each path / raw encode" in format_report(r)


@pytest.mark.slow
def test_onnx_bench_reports_parity_on_the_fixture(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from core.bench.onnx import format_report, run_onnx_bench

    monkeypatch.setenv("NEGAUDIT_CACHE", str(tmp_path / "cache"))  # ONNX exports go here
    r = run_onnx_bench(FIXTURE, variants=("torch", "onnx-int8"), cache=tmp_path / "bench", verbose=False)
    torch_row, int8 = r["variants"]
    assert torch_row["docs"] == 150 and torch_row["encoded"] == 150
    assert 0 < torch_row["ndcg@10"] <= 1
    assert abs(int8["delta_ndcg@10"]) < 0.05 and int8["cosine_to_torch_mean"] > 0.99
    assert "nDCG@10" in format_report(r)

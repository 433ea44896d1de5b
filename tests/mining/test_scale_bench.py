"""`python -m core.bench.scale` end to end on small synthetic data: both steps run as processes,
the mined rows and the recall against exact search are reported (slow: two subprocesses)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_scale_bench_reports_wall_rss_and_recall(tmp_path) -> None:
    from core.bench.scale import format_report, run_scale_bench

    r = run_scale_bench(docs=3_000, queries=200, dim=32, top_k=10, sample=50, data="clustered",
                        method="ivf", n_clusters=20, work_dir=tmp_path, verbose=False)
    assert r["mine"]["rows"] == 200 * 10 and r["exact"]["queries"] == 50
    assert r["mine"]["process_peak_rss_mb"] > 0 and r["mine"]["process_wall_s"] > 0
    assert 0.5 < r["recall@10"] <= 1.0  # clustered vectors: IVF finds most exact neighbours
    exact = run_scale_bench(docs=3_000, queries=200, dim=32, top_k=10, sample=50, data="random",
                            method="exact", work_dir=tmp_path / "e", verbose=False)
    assert exact["recall@10"] > 0.999  # the exact method against itself
    assert "recall@10" in format_report(r)

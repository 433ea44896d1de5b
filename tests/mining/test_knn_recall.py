"""``auto`` kNN checks its own recall (issue 16): on structureless vectors a fixed IVF nprobe finds a
third of the true neighbours at 1M docs, so the approximate index measures recall@k on a query
sample, doubles nprobe until the target is met, and falls back to exact search when it cannot win.
Generated unit vectors (i.i.d. Gaussian: no structure, the hard case; clustered: the easy one) and
the real MiniLM vectors of SciFact. Timing-driven choices are pinned with ``ivf_max_cost`` (0: IVF
never wins, inf: cost never vetoes) so each path is reached deterministically."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.mining.knn import (
    KNN_METHODS,
    KnnConfig,
    knn_summary,
    knn_topk,
    recall_at_k,
    recall_sample_rows,
)
from core.types import NegauditError

ROOT = Path(__file__).resolve().parents[2]


def _unit(rng: np.random.Generator, n: int, dim: int, centres: np.ndarray | None = None) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    if centres is not None:
        x = centres[rng.integers(0, len(centres), n)] + 0.3 * x / np.sqrt(dim)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def structureless() -> tuple[np.ndarray, np.ndarray]:
    """(queries, docs): 400 and 8,000 i.i.d. unit vectors in 32-d (IVF needs many probes here)."""
    rng = np.random.default_rng(7)
    return _unit(rng, 400, 32), _unit(rng, 8_000, 32)


def _ranking_equal(a: np.ndarray, sa: np.ndarray, b: np.ndarray, sb: np.ndarray) -> None:
    """Same top-k up to float near-ties (BLAS batch sizes round the 7th digit differently)."""
    np.testing.assert_allclose(sa, sb, atol=1e-5)
    differ = a != b
    assert np.all(np.abs(sa[differ] - sb[differ]) < 1e-5)


def test_recall_check_raises_nprobe_on_structureless_data(structureless) -> None:
    q, d = structureless
    cfg = KnnConfig(exact_max_docs=0, nlist=64, nprobe=2, recall_sample=100,
                    ivf_max_cost=math.inf)
    stats: dict = {}
    got, _ = KNN_METHODS["auto"](q, d, 20, cfg, stats)
    probes = [t["nprobe"] for t in stats["tried"]]
    assert probes[0] == 2 and len(probes) >= 3  # 2 probes of 64 lists find far too few
    assert probes == [min(64, 2 * 2**i) for i in range(len(probes))]  # doubling, capped at nlist
    assert stats["tried"][0]["recall"] < 0.5  # what a fixed small nprobe would have returned
    assert stats["method"] == "ivf" and stats["recall"] >= 0.95 and stats["nprobe"] == probes[-1]
    assert all(t["recall"] < 0.95 for t in stats["tried"][:-1])  # stopped at the first good one
    exact, _ = KNN_METHODS["exact"](q, d, 20, cfg)
    assert recall_at_k(got, exact, 20) > 0.9  # the chosen nprobe holds on all 400 queries
    fixed, _ = KNN_METHODS["ivf"](q, d, 20, cfg)  # the old behaviour: nprobe 2, unchecked
    assert recall_at_k(fixed, exact, 20) < 0.5
    assert "recall@20 vs exact on 100 sampled queries" in knn_summary(stats)


def test_falls_back_to_exact_when_ivf_cannot_win(structureless) -> None:
    q, d = structureless
    stats: dict = {}
    got, sg = KNN_METHODS["auto"](q, d, 20, KnnConfig(exact_max_docs=0, nlist=64, nprobe=2,
                                                      recall_sample=100, ivf_max_cost=0.0), stats)
    exact, se = KNN_METHODS["exact"](q, d, 20, KnnConfig())
    assert stats["method"] == "exact" and len(stats["tried"]) == 1  # vetoed at the first estimate
    assert stats["exact_est_s"] > 0 and stats["tried"][0]["est_s"] > 0
    _ranking_equal(got, sg, exact, se)  # sample rows reused from the check, the rest searched
    assert "no faster than exact search" in knn_summary(stats)


def test_unreachable_target_ends_in_exact_search(structureless) -> None:
    q, d = structureless
    stats: dict = {}
    # a target above 1 cannot be met even with every list probed: exact search, never a short IVF
    cfg = KnnConfig(exact_max_docs=0, nlist=16, nprobe=4, recall_sample=50, ivf_max_cost=math.inf,
                    recall_target=1.01)
    got, sg = KNN_METHODS["auto"](q, d, 10, cfg, stats)
    assert [t["nprobe"] for t in stats["tried"]] == [4, 8, 16] and stats["method"] == "exact"
    assert "every list probed" in stats["reason"]
    exact, se = KNN_METHODS["exact"](q, d, 10, KnnConfig())
    _ranking_equal(got, sg, exact, se)


def test_clustered_data_keeps_a_small_nprobe() -> None:
    rng = np.random.default_rng(3)
    centres = _unit(rng, 20, 32)
    q, d = _unit(rng, 300, 32, centres), _unit(rng, 6_000, 32, centres)
    stats: dict = {}
    KNN_METHODS["auto"](q, d, 10, KnnConfig(exact_max_docs=0, nlist=64, nprobe=8, recall_sample=100,
                                            ivf_max_cost=math.inf), stats)
    assert stats["method"] == "ivf" and stats["recall"] >= 0.95 and stats["nprobe"] <= 32


def test_exact_below_the_threshold_and_when_queries_fit_the_sample(structureless) -> None:
    q, d = structureless
    exact, se = KNN_METHODS["exact"](q[:80], d, 15, KnnConfig())
    for cfg in (KnnConfig(exact_max_docs=len(d)), KnnConfig(exact_max_docs=0, recall_sample=80)):
        stats: dict = {}
        got, sg = KNN_METHODS["auto"](q[:80], d, 15, cfg, stats)
        assert stats["method"] == "exact" and "nlist" not in stats  # no index was built
        _ranking_equal(got, sg, exact, se)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_docs=st.integers(60, 600), n_q=st.integers(12, 80), dim=st.integers(2, 24),
       k=st.integers(1, 12), target=st.sampled_from([0.5, 0.9, 0.99]),
       cost=st.sampled_from([0.0, 1.0, math.inf]), seed=st.integers(0, 2**16))
def test_reported_recall_is_true_and_exact_means_exact(n_docs, n_q, dim, k, target, cost, seed) -> None:
    """Whatever it chooses: ``exact`` returns exact search's top-k, ``ivf`` returns results whose
    recall on the reported sample is the reported figure, at least the target."""
    rng = np.random.default_rng(seed)
    q, d = _unit(rng, n_q, dim), _unit(rng, n_docs, dim)
    cfg = KnnConfig(exact_max_docs=0, recall_sample=10, recall_target=target, ivf_max_cost=cost,
                    nprobe=1, seed=seed)
    stats: dict = {}
    got, sg = KNN_METHODS["auto"](q, d, k, cfg, stats)
    exact, se = KNN_METHODS["exact"](q, d, k, cfg)
    if stats["method"] == "exact":
        _ranking_equal(got, sg, exact, se)
    else:
        rows = recall_sample_rows(n_q, cfg)
        assert stats["recall"] == pytest.approx(recall_at_k(got[rows], exact[rows], min(k, n_docs)))
        assert stats["recall"] >= target and cost > 0


def test_recall_knobs_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("NEGAUDIT_KNN_RECALL", "0.99")
    monkeypatch.setenv("NEGAUDIT_KNN_RECALL_SAMPLE", "500")
    cfg = KnnConfig.from_env()
    assert (cfg.recall_target, cfg.recall_sample) == (0.99, 500)
    for bad, msg in (("1.5", "must be in \\[0, 1\\], got '1.5'"), ("high", "must be a number")):
        monkeypatch.setenv("NEGAUDIT_KNN_RECALL", bad)
        with pytest.raises(NegauditError, match=f"NEGAUDIT_KNN_RECALL {msg}"):
            knn_topk(np.ones((1, 2), np.float32), np.ones((3, 2), np.float32), [1])


def test_cli_mine_prints_the_method_nprobe_and_measured_recall(tmp_path: Path) -> None:
    """Supplied SciFact vectors (150 docs, 60 queries), threshold lowered so the check runs."""
    import json

    from core.encoders import load_embeddings

    fix = ROOT / "tests" / "fixtures" / "beir_scifact"
    ef = load_embeddings(ROOT / "data" / "scifact.minilm.emb.f16.npz")
    pos = {rid: i for i, rid in enumerate(ef.ids)}
    arrays = {}
    for kind, file in (("doc", "corpus.jsonl"), ("query", "queries.jsonl")):
        ids = [json.loads(line)["_id"] for line in (fix / file).read_text().splitlines()]
        arrays[f"{kind}_ids"] = np.array(ids)
        arrays[f"{kind}_vectors"] = ef.embeddings[[pos[f"{kind}:{i}"] for i in ids]]
    np.savez(tmp_path / "sf.npz", model=np.array("all-MiniLM-L6-v2"), **arrays)
    db = str(tmp_path / "c.duckdb")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "NEGAUDIT_CACHE": str(tmp_path / "c"),
           "NEGAUDIT_KNN_EXACT_MAX": "100", "NEGAUDIT_KNN_RECALL_SAMPLE": "20"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True,
                              text=True, env=env, timeout=300, check=False, cwd=ROOT)

    assert cli("ingest", "beir", str(fix), "--name", "sf", "--db", db).returncode == 0
    assert cli("ingest", "embeddings", str(tmp_path / "sf.npz"), "--into", "sf", "--db", db
               ).returncode == 0
    r = cli("mine", "--name", "sf", "--db", db, "--top-k", "5", "--miner", "dense")
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[-1]
    assert line.startswith("dense kNN over 150 docs: "), r.stdout
    assert "vs exact on 20 sampled queries" in line and "at nprobe 12" in line, line  # 12 lists

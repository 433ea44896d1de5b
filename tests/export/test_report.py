"""FN-rate report: Wilson interval vs scipy, the random-queue prefix, CSV neutralisation, CLI."""

from __future__ import annotations

import csv
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from toy_data import DS

from core.report import (
    fn_rate_figure,
    fn_rate_report,
    fn_rate_table,
    neutralise_cell,
    random_order,
    random_prefix,
    rank_bucket,
    wilson_interval,
    write_report_csv,
)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 500), st.data())
def test_wilson_matches_scipy(n, data):
    from scipy.stats import binomtest

    k = data.draw(st.integers(0, n))
    ref = binomtest(k, n).proportion_ci(0.95, method="wilson")
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-9) and hi == pytest.approx(ref.high, abs=1e-9)
    assert lo <= k / n <= hi


def test_table_by_rank_bucket():
    items = pd.DataFrame({
        "query_id": list("abcdefgh"), "doc_id": "x",
        "rank": [1, 2, 3, 7, 8, 30, 150, None],
        "label": ["false_negative", "negative", "partial", "false_negative", "negative",
                  "unsure", "negative", None]})
    t = fn_rate_table(items).set_index("bucket")
    assert list(t.index) == ["all", "1-5", "6-10", "21-50", "101+", "unranked"]
    assert t.loc["all", "n"] == 6 and t.loc["all", "false_negative"] == 2
    assert t.loc["all", "excluded"] == 2  # unsure + tie
    assert t.loc["1-5", "fn_rate"] == pytest.approx(1 / 3)
    assert t.loc["1-5", "fn_or_partial_rate"] == pytest.approx(2 / 3)
    assert math.isnan(t.loc["21-50", "fn_rate"])  # only an unsure item there
    assert rank_bucket(5) == "1-5" and rank_bucket(101) == "101+" and rank_bucket(None) == "unranked"


def test_random_prefix_tolerates_few_gaps():
    order = pd.DataFrame({"query_id": "q", "doc_id": [f"d{i}" for i in range(10)]})
    judged = pd.DataFrame({"query_id": "q", "doc_id": [f"d{i}" for i in (0, 1, 2, 3, 4, 5, 8)],
                           "label": "negative"})
    sample, info = random_prefix(order, judged, min_coverage=1.0)
    assert info["prefix"] == 6 and len(sample) == 6 and info["gaps"] == 0
    sample, info = random_prefix(order, judged, min_coverage=0.8)
    assert info["prefix"] == 7 and info["gaps"] == 1 and len(sample) == 6


def test_report_on_random_queue(store):
    order = random_order(store, DS, seed=7)
    assert len(order) == 16  # the queue shows scored items
    from core.review import Mode, QueueSpec, next_keys

    seen = next_keys(store, "fresh", QueueSpec(DS, Mode.RANDOM, status="unreviewed", seed=7),
                     limit=3)  # what a new annotator is shown first: the order's head
    assert list(zip(seen.query_id, seen.doc_id)) == list(zip(order.query_id, order.doc_id))[:3]
    existing = {(q, d) for q, d in zip(store.current_labels(DS).query_id,
                                       store.current_labels(DS).doc_id)}
    for i, (q, d) in enumerate(zip(order.query_id[:8], order.doc_id[:8])):
        if (q, d) not in existing:
            store.add_judgment(DS, q, d, "rnd", "false_negative" if i % 4 == 0 else "negative")
    table, meta = fn_rate_report(store, DS, sample="random", seed=7)
    assert meta["prefix"] >= 8 and meta["coverage"] >= 0.95
    assert table.iloc[0]["bucket"] == "all" and 0 < table.iloc[0]["n"] <= meta["prefix"]
    lo, hi = table.iloc[0][["ci_low", "ci_high"]]
    assert 0 <= lo <= table.iloc[0]["fn_rate"] <= hi <= 1
    everything, meta_all = fn_rate_report(store, DS, sample="all")
    assert everything.iloc[0]["n"] + everything.iloc[0]["excluded"] == meta_all["judged"]
    fig = fn_rate_figure(table)
    assert fig.data[0].error_y.array is not None and fig.layout.yaxis.tickformat == ".0%"


def test_csv_neutralises_formulas_but_keeps_numbers(tmp_path):
    assert neutralise_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert neutralise_cell("@SUM") == "'@SUM" and neutralise_cell("ok") == "ok"
    assert neutralise_cell(-0.5) == -0.5
    t = pd.DataFrame({"bucket": ["=cmd|' /C calc'!A0", "+1", "-2", "1-5"], "fn_rate": [-0.1, 0.2,
                                                                                      0.3, 0.4]})
    path = write_report_csv(t, tmp_path / "r.csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows[1:]] == ["'=cmd|' /C calc'!A0", "'+1", "'-2", "1-5"]
    assert rows[1][1] == "-0.1"


def test_cli_report(toy_db, tmp_path):
    from typer.testing import CliRunner

    from core.cli import app

    db = tmp_path / "r.duckdb"
    db.write_bytes(toy_db.read_bytes())
    res = CliRunner().invoke(app, ["report", "--name", DS, "--db", str(db), "--sample", "all",
                                   "--out", str(tmp_path / "r.csv")])
    assert res.exit_code == 0, res.output
    assert "FN rate" in res.output and (tmp_path / "r.csv").exists()

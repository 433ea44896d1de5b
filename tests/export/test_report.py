"""FN-rate report on a real store: the random-queue prefix, CSV neutralisation, CLI (the estimator
itself is tested in tests/test_labels.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from toy_data import DS

from core import plots
from core.report import fn_rate_report, neutralise_cell, random_order, write_report_csv


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
    fig = plots.fn_rate_by_rank(pd.DataFrame(), table)
    assert fig.data[0].error_y.array is not None and fig.layout.shapes  # interval + overall line
    assert all(t.startswith("n=") for t in fig.data[0].text)  # each judged point says how many items it rests on


def test_csv_neutralises_formulas_but_keeps_numbers(tmp_path):
    assert neutralise_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert neutralise_cell("@SUM") == "'@SUM" and neutralise_cell("ok") == "ok"
    assert neutralise_cell(-0.5) == -0.5
    t = pd.DataFrame({"bucket": ["=cmd|' /C calc'!A0", "+1", "-2", "1-5"], "fn_rate": [-0.1, 0.2,
                                                                                      0.3, 0.4]})
    path = write_report_csv(t, tmp_path / "r.csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows[1:]] == ["'=cmd|' /C calc'!A0", "'+1", "'-2", "ranks 1-5"]  # not 5 January
    assert rows[1][1] == "-0.1"
    path = write_report_csv(t.iloc[[3]], tmp_path / "m.csv",
                            {"dataset": "d", "sample": "all", "miner": None, "coverage": float("nan"),
                             "warning": "biased"})
    back = pd.read_csv(path)  # each row says what it was computed from; None / nan are left out
    assert back.columns.tolist() == ["bucket", "fn_rate", "dataset", "sample", "warning"]
    assert back.iloc[0].tolist() == ["ranks 1-5", 0.4, "d", "all", "biased"]


def test_cli_report(toy_db, tmp_path):
    from typer.testing import CliRunner

    from core.cli import app

    db = tmp_path / "r.duckdb"
    db.write_bytes(toy_db.read_bytes())
    res = CliRunner().invoke(app, ["report", "--name", DS, "--db", str(db), "--sample", "all",
                                   "--out", str(tmp_path / "r.csv")])
    assert res.exit_code == 0, res.output
    assert "FN rate" in res.output and (tmp_path / "r.csv").exists()
    assert "has no candidates" not in res.output and "nothing judged yet" not in res.output  # it has both
    assert "None" not in res.output and "nan" not in res.output  # unset facts are left out, not printed raw
    fresh = CliRunner().invoke(app, ["report", "--name", DS, "--db", str(db), "--seed", "7"])
    assert fresh.exit_code == 0 and "nan" not in fresh.output and "None" not in fresh.output, fresh.output
    assert "opens the random audit queue of seed 7" in fresh.output  # n=0 says why
    assert "coverage: n/a" in fresh.output and "min_coverage: 95.0%" in fresh.output
    back = pd.read_csv(tmp_path / "r.csv")
    assert set(back["sample"]) == {"all"} and set(back["dataset"]) == {DS} and back["warning"].notna().all()
    miners = CliRunner().invoke(app, ["report", "--name", DS, "--db", str(db), "--miner", "bm25"])
    assert miners.exit_code == 0 and "miner: bm25" in miners.output, miners.output
    nope = CliRunner().invoke(app, ["report", "--name", DS, "--db", str(db), "--miner", "nope"])
    assert nope.exit_code != 0 and "its miners: " in str(nope.exception), nope.output


def test_report_figures_are_one_offline_page(toy_db, tmp_path):
    """`report --figures`: the Insights figures (core.figures, the page's own assembly) in one HTML file
    with plotly.js inlined once and no script fetched from elsewhere."""
    import re

    from typer.testing import CliRunner

    from core.cli import app
    from core.figures import FIGURES

    db = tmp_path / "f.duckdb"
    db.write_bytes(toy_db.read_bytes())
    page = tmp_path / "insights.html"
    res = CliRunner().invoke(app, ["report", "--name", DS, "--db", str(db), "--figures", str(page)])
    assert res.exit_code == 0, res.output
    text = page.read_text()
    assert [m for m in FIGURES if f'id="{m}"' in text] == list(FIGURES)
    assert text.count("plotly.js v") == 1  # the library once, not six times
    assert re.search(r"Drawn \d{4}-\d\d-\d\d \d\d:\d\d UTC from \d+ judged items", text)  # dated, tied to the labels
    assert not re.findall(r"<script[^>]+src=", text)  # nothing to fetch when opened offline
    again = CliRunner().invoke(app, ["report", "--name", DS, "--db", str(db), "--figures", str(page)])
    assert again.exit_code != 0  # an existing page needs --overwrite
    bad = CliRunner().invoke(app, ["report", "--name", DS, "--db", str(db), "--figures", str(tmp_path / "f.png")])
    assert bad.exit_code != 0 and not (tmp_path / "f.png").exists()
    # the agreement figure has its number (it said "alpha over 3 items" with none)
    assert re.search(r"Krippendorff&#x27;s alpha (-?\d\.\d\d|n/a) over \d+ items|no item has two votes yet", text), text[:3000]
    one = tmp_path / "x.html"
    same = CliRunner().invoke(app, ["report", "--name", DS, "--db", str(db), "--out", str(one), "--figures", str(one)])
    assert same.exit_code == 2 and "two files" in same.output and not one.exists()  # the CSV overwrote the page
    other = CliRunner().invoke(app, ["report", "--name", DS, "--db", str(db), "--miner", "bm25",
                                     "--figures", str(tmp_path / "m.html")])
    assert other.exit_code == 0 and "draws the Insights view" in " ".join(other.output.split()), other.output


def test_report_says_why_it_has_nothing_to_estimate(tmp_path):
    """A dataset never mined, and one never judged: an all-n/a table with exit 0 said nothing of why."""
    from typer.testing import CliRunner

    from core.cli import app

    db = str(tmp_path / "e.duckdb")
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "beir_nfcorpus"
    assert CliRunner().invoke(app, ["ingest", "beir", str(fixtures), "--name", "raw", "--db", db]).exit_code == 0
    res = CliRunner().invoke(app, ["report", "--name", "raw", "--db", db])
    assert res.exit_code == 0 and "has no candidates to estimate from: run `negaudit mine`" in res.output, res.output
    sf = Path(__file__).resolve().parents[1] / "fixtures"
    assert CliRunner().invoke(app, ["ingest", "beir", str(sf / "beir_scifact"), "--name", "sf", "--db", db]).exit_code == 0
    assert CliRunner().invoke(app, ["ingest", "trec-run", str(sf / "trec" / "run.txt"), "--into", "sf",
                                    "--db", db]).exit_code == 0
    for sample in ("random", "all"):
        res = CliRunner().invoke(app, ["report", "--name", "sf", "--db", db, "--sample", sample])
        said = " ".join(res.output.split())
        assert res.exit_code == 0 and "nothing judged yet" in said and "has no candidates" not in said, said

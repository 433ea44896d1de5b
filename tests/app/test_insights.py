"""Insights through AppTest: the app and `negaudit report` show the same false-negative rate."""

from __future__ import annotations

import re

import pytest

from core import cli
from core.report import random_order
from core.store import Store

DS = "mini"  # the dataset conftest seeds
RATE = re.compile(r"\d+\.\d% \[\d+\.\d%, \d+\.\d%\]")


def test_app_and_cli_show_the_same_fn_rate_and_interval(db, app, capsys, monkeypatch):
    with Store.open(str(db)) as s:  # judge the head of the random-audit queue (seed 0)
        order = random_order(s, DS, seed=0)
        head = list(zip(order.query_id, order.doc_id))[:10]
        for i, (q, d) in enumerate(head):
            s.add_judgment(DS, q, d, "ann", "false_negative" if i % 3 == 0 else "negative")
        s.add_judgment(DS, *head[1], "bob", "partial")  # a tie: excluded from the rate
    monkeypatch.setenv("COLUMNS", "200")  # rich: no wrapping inside the table's cells
    with pytest.raises(SystemExit) as done:
        cli.main(["report", "--name", DS, "--db", str(db), "--seed", "0"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    cli_all = next(line for line in out.splitlines() if re.search(r"\ball\b", line))
    cli_rate = RATE.search(cli_all).group(0)

    at = app("boss", page="pages/insights.py")
    assert not at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("False-negative rate"))
    app_rate = RATE.search(caption).group(0)
    assert app_rate == cli_rate
    assert cli_rate == "44.4% [18.9%, 73.3%]"  # 4 FN (items 0, 3, 6, 9) of 9 decided, Wilson
    assert "n=9 " in caption
    metric = next(m for m in at.metric if m.label.startswith("FN rate"))
    assert metric.value == "44.4%"


def test_refit_table_says_which_evidence_path_ran(db, app):
    from core.review import learning
    from core.store import learning as SL

    with Store.open(str(db)) as s:
        items = SL.risk_rows(s, DS)
        for i, r in enumerate(items.itertuples()):
            if i % 2:
                s.add_judgment(DS, r.query_id, r.doc_id, "ann", "false_negative" if i % 4 == 1 else "negative")
        rec = learning.relearn(s, DS)  # the cache folder scoring recorded holds every vector
    assert rec["evidence"] == "cosine", rec
    at = app("boss", page="pages/insights.py")
    assert not at.exception
    table = next(d.value for d in at.dataframe if "ece_after" in d.value.columns)
    assert table["evidence"].tolist() == ["cosine"]
    assert any("`evidence`" in c.value for c in at.caption)

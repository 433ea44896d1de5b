"""The learning queue's SQL on both backends: refitted fn_risk written, the scorer's kept, the
queue's cache told (store epoch)."""

from __future__ import annotations

import pandas as pd
import pytest

from core.store import Store, samples
from core.store import learning as SL


def _risk(store: Store) -> None:
    with store.dataset_writer("ds") as w:
        w.add("queries", pd.DataFrame({"query_id": ["q1"], "text": ["a query"]}))
        w.add("docs", pd.DataFrame({"doc_id": ["d1", "d2", "d3"], "title": ["", "t", ""],
                                    "text": ["one", "two", "three"]}))
    store.replace_rows("risk", "ds", pd.DataFrame({
        "query_id": ["q1"] * 3, "doc_id": ["d1", "d2", "d3"], "scorer_version": ["s"] * 3,
        "pos_score": [None] * 3, "fn_risk": [0.9, 0.5, 0.1], "signals": ["{}"] * 3,
        "reasons": [""] * 3}))


def test_write_risk_keeps_the_scorers_value_and_bumps_the_epoch(store: Store) -> None:
    _risk(store)
    epoch = store.epoch()
    new = pd.DataFrame({"query_id": ["q1", "q1"], "doc_id": ["d1", "d3"], "fn_risk": [0.2, 0.7]})
    assert SL.write_risk(store, "ds", new) == 2
    assert store.epoch() > epoch
    r = SL.risk_rows(store, "ds").set_index("doc_id")
    assert r.fn_risk.to_dict() == pytest.approx({"d1": 0.2, "d2": 0.5, "d3": 0.7}, abs=1e-6)
    assert r.base.to_dict() == pytest.approx({"d1": 0.9, "d2": 0.5, "d3": 0.1}, abs=1e-6)
    SL.write_risk(store, "ds", new.assign(fn_risk=[0.3, 0.6]))  # a second refit: base stays
    r = SL.risk_rows(store, "ds").set_index("doc_id")
    assert r.base.to_dict() == pytest.approx({"d1": 0.9, "d2": 0.5, "d3": 0.1}, abs=1e-6)
    assert samples.doc_texts(store, "ds", n=2) == [" one", "t two"]

"""Time per decision (and the blind flag, the risk the card carried) stored with each judgment."""

from __future__ import annotations

import math

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from core.store import Store
from core.store.engine import resolve_url
from core.store.migrate import alembic_config, register_duckdb


def test_judgment_keeps_time_blind_and_shown_risk(store: Store) -> None:
    store.add_judgment("ds", "q1", "d1", "ann", "negative", seconds=12.5, blind=True,
                       shown_risk=0.83)
    store.add_judgment("ds", "q1", "d2", "ann", "partial")  # a CLI/API write: nothing measured
    j = store.judgments("ds")
    assert list(j.seconds[:1]) == [12.5] and math.isnan(j.seconds[1])
    assert bool(j.blind[0]) and j.blind.isna()[1]
    assert j.shown_risk[0] == pytest.approx(0.83, abs=1e-6)  # FLOAT, like fn_risk itself
    undo = store.undo_last("ds", "ann")
    assert undo["doc_id"] == "d2"
    assert store.judgments("ds").seconds.isna().sum() == 2  # the undo row has no time either


def test_a_store_at_0002_gains_the_columns(tmp_path) -> None:
    url = resolve_url(str(tmp_path / "old.duckdb"))
    engine = create_engine(url)
    register_duckdb()
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")
        conn.execute(text("INSERT INTO judgments (dataset, query_id, doc_id, annotator, label, "
                          "note, action, created_at) VALUES ('ds', 'q', 'd', 'ann', 'negative', "
                          "'', 'label', now())"))
    engine.dispose()
    with Store.open(url) as s:
        s.add_judgment("ds", "q", "d2", "ann", "negative", seconds=3.0)
        j = s.judgments("ds")
        assert math.isnan(j.seconds[0]) and j.seconds[1] == 3.0  # old rows: NULL, kept
        r = s.risk("ds")
        assert "base_fn_risk" in r.columns

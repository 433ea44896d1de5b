"""SQL of the learning queue: read the risk rows a refit needs, write the refitted fn_risk back.

`risk.base_fn_risk` keeps what the scorer wrote the first time a refit replaces `fn_risk`, so
every refit starts from the scorer's score (refits never compound); re-scoring a dataset writes
new rows with it NULL again.
"""

from __future__ import annotations

import uuid

import pandas as pd
from sqlalchemy import text

from core.store.base import bump_epoch, frame
from core.store.store import Store


def risk_rows(store: Store, dataset: str) -> pd.DataFrame:
    """query_id, doc_id, fn_risk, base (the scorer's fn_risk), signals JSON: one row per item."""
    sql = text("""SELECT query_id, doc_id, fn_risk, COALESCE(base_fn_risk, fn_risk) AS base,
                         signals FROM risk WHERE dataset = :d ORDER BY query_id, doc_id""")
    return frame(store.engine, sql, {"d": dataset})


def random_sample_items(store: Store, dataset: str) -> pd.DataFrame:
    """query_id, doc_id of the items labelled from the review queue's random order (any annotator): an
    unbiased sample of the queue, the judgments that can check the scorer's level."""
    sql = text("""SELECT DISTINCT query_id, doc_id FROM judgments WHERE dataset = :d AND queue = 'random'
                  AND action = 'label' ORDER BY query_id, doc_id""")
    return frame(store.engine, sql, {"d": dataset})


def write_risk(store: Store, dataset: str, new: pd.DataFrame) -> int:
    """Set fn_risk from `new` (query_id, doc_id, fn_risk), keeping the scorer's value as base.

    Bumps the store epoch in the same transaction: cached queue heads re-order at the next click.
    """
    new = new[["query_id", "doc_id", "fn_risk"]].astype(
        {"query_id": str, "doc_id": str, "fn_risk": float})
    set_sql = ("base_fn_risk = COALESCE(risk.base_fn_risk, risk.fn_risk), "
               "fn_risk = v.fn_risk")
    with store.engine.begin() as conn:
        if store.is_duckdb:
            raw = conn.connection.driver_connection
            view = f"_learn_{uuid.uuid4().hex}"
            raw.register(view, new)
            try:
                raw.execute(f"UPDATE risk SET {set_sql} FROM {view} v WHERE risk.dataset = ? "
                            "AND risk.query_id = v.query_id AND risk.doc_id = v.doc_id",
                            [dataset])
            finally:
                raw.unregister(view)
        else:
            stmt = text("UPDATE risk SET base_fn_risk = COALESCE(base_fn_risk, fn_risk), "
                        "fn_risk = :r WHERE dataset = :d AND query_id = :q AND doc_id = :doc")
            rows = [{"r": r, "d": dataset, "q": q, "doc": d} for q, d, r in
                    zip(new.query_id, new.doc_id, new.fn_risk)]
            for i in range(0, len(rows), 5000):
                conn.execute(stmt, rows[i:i + 5000])
        bump_epoch(conn)  # the queue's cached heads are stale now
    return len(new)

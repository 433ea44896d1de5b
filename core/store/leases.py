"""Leases of review items (overlap k): who holds which item until when; taken atomically."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pandas as pd
from sqlalchemy import delete, insert, select, text

from core.store import schema as S
from core.store.base import frame, utcnow
from core.store.store import Store

_last_sweep = 0.0
# DuckDB: this process is the file's only writer, so a process lock makes check-and-lease atomic.
_LEASE_LOCK = threading.Lock()
_HELD_SQL = text("""
    SELECT count(DISTINCT annotator) FROM (
        SELECT annotator FROM assignments
        WHERE dataset = :dataset AND query_id = :q AND doc_id = :d AND annotator <> :me
          AND expires_at > :now
        UNION
        SELECT annotator FROM (
            SELECT annotator, label, row_number() OVER (PARTITION BY annotator
                                                        ORDER BY id DESC) AS rn
            FROM judgments
            WHERE dataset = :dataset AND query_id = :q AND doc_id = :d AND annotator <> :me) j
        WHERE rn = 1 AND label <> '') h""")


def lease(store: Store, dataset: str, query_id: str, doc_id: str, annotator: str,
          ttl: timedelta, k: int | None = None) -> bool:
    """(Re)lease one item to one annotator; expired leases are swept on the way.

    With `k`, the lease is taken only while fewer than k *other* annotators hold the item (a live
    lease or a current label); returns whether it was taken. Check and insert form one critical
    section (a process lock on DuckDB, a transaction advisory lock per item on PostgreSQL), so
    sessions racing for the same queue head never both get an item that overlap k gives fewer.
    """
    global _last_sweep
    a = S.assignments.c
    with _LEASE_LOCK, store.engine.begin() as conn:
        now = utcnow()
        if store.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                         {"key": f"{dataset}\x1f{query_id}\x1f{doc_id}"})
        if k is not None:
            held = conn.execute(_HELD_SQL, {"dataset": dataset, "q": query_id, "d": doc_id,
                                            "me": annotator, "now": now}).scalar_one()
            if held >= int(k):
                return False
        if time.monotonic() - _last_sweep > 30:
            conn.execute(delete(S.assignments).where(a.expires_at < now))
            _last_sweep = time.monotonic()
        conn.execute(delete(S.assignments).where(
            a.dataset == dataset, a.query_id == query_id, a.doc_id == doc_id,
            a.annotator == annotator))
        conn.execute(insert(S.assignments).values(
            dataset=dataset, query_id=query_id, doc_id=doc_id, annotator=annotator,
            leased_at=now, expires_at=now + ttl))
    return True


def release(store: Store, dataset: str, query_id: str, doc_id: str, annotator: str) -> None:
    a = S.assignments.c
    with store.engine.begin() as conn:
        conn.execute(delete(S.assignments).where(
            a.dataset == dataset, a.query_id == query_id, a.doc_id == doc_id,
            a.annotator == annotator))


def release_all(store: Store, annotator: str) -> int:
    """Drop every lease `annotator` holds (all datasets); how many there were."""
    a = S.assignments.c
    with store.engine.begin() as conn:
        return conn.execute(delete(S.assignments).where(a.annotator == annotator)).rowcount or 0


def active_leases(store: Store, dataset: str) -> pd.DataFrame:
    a = S.assignments.c
    q = select(a.query_id, a.doc_id, a.annotator, a.leased_at, a.expires_at).where(
        a.dataset == dataset, a.expires_at > utcnow())
    return frame(store.engine, q)


def my_leases(store: Store, dataset: str, annotator: str) -> list[tuple[str, str]]:
    a = S.assignments.c
    q = (select(a.query_id, a.doc_id).where(a.dataset == dataset, a.annotator == annotator,
                                            a.expires_at > utcnow())
         .order_by(a.leased_at.desc()))
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(q)]

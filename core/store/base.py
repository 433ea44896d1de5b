"""Small helpers every store module shares: the clock, result frames and the store epoch.

The *store epoch* is a counter in `settings` that the store bumps in the same transaction as
every write that changes what the review queue orders: risk rows, candidates, a dataset's rows
(import, replace, delete). Readers that cache a queue head (`core.review.Queue`) compare it on
each use, so a re-score by another process — `negaudit score` while the app runs on PostgreSQL —
is seen at the next click, on both backends. Judgments do not bump it: the cached head holds
nothing a judgment changes (labels and leases are read live per click), and one shared counter
row updated by every decision would serialise all annotators' writes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text

EPOCH_KEY = "store_epoch"
_BUMP = text(f"""
    INSERT INTO settings (key, value) VALUES ('{EPOCH_KEY}', '1')
    ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS VARCHAR)""")
_READ = text(f"SELECT value FROM settings WHERE key = '{EPOCH_KEY}'")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def bump_epoch(conn: Connection) -> None:
    """Advance the store epoch inside the caller's transaction (commits or rolls back with it)."""
    conn.execute(_BUMP)


def read_epoch(engine: Engine) -> int:
    """The current store epoch (0 before the first queue-changing write)."""
    with engine.connect() as conn:
        value = conn.execute(_READ).scalar()
    return int(value or 0)


def frame(engine: Engine, q: Any, params: dict | None = None) -> pd.DataFrame:
    """Run a query and return its rows as a DataFrame (column names from the result)."""
    with engine.connect() as conn:
        res = conn.execute(q, params or {})
        return pd.DataFrame(res.fetchall(), columns=list(res.keys()))

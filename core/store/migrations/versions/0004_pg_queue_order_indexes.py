"""PostgreSQL: an index per review-queue order on risk, so a cold queue head is an index scan

Risk order (fn_risk DESC), most uncertain (|fn_risk - 0.5|) and the random audit's seed-free item
hash (core.store.queue): a top-2000 at 1M risk rows was a sequential scan of 0.5-0.7 s. DuckDB:
nothing to do (its column scan meets the bound; ART indexes would slow every bulk load).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ITEM_HASH = "hashtextextended((query_id::text || chr(31)) || doc_id::text, 0::bigint)"  # schema.py
INDEXES = [
    ("ix_risk_order_risk", "dataset, fn_risk DESC NULLS LAST, query_id, doc_id", ""),
    ("ix_risk_order_uncertain", "dataset, abs(fn_risk - 0.5), query_id, doc_id",
     " INCLUDE (fn_risk)"),
    ("ix_risk_order_random", f"dataset, ({ITEM_HASH}), query_id, doc_id", " INCLUDE (fn_risk)"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, cols, include in INDEXES:
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON risk ({cols}){include}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _, _ in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")

"""PostgreSQL: indexes for the review path's point look-ups (DuckDB: nothing to do)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ITEM = ["dataset", "query_id", "doc_id"]
INDEXES = [("ix_risk_item", "risk", ITEM), ("ix_candidates_item", "candidates", ITEM),
           ("ix_judgments_item", "judgments", ITEM), ("ix_assignments_item", "assignments", ITEM),
           ("ix_qrels_query", "qrels", ["dataset", "query_id"])]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # DuckDB scans columns fast; ART indexes would slow every bulk load
    for name, table, cols in INDEXES:
        op.create_index(name, table, cols, if_not_exists=True)  # a stamped store may have them


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table, if_exists=True)

"""judgments.queue: the review queue's order the card came from (nullable)

risk | uncertain | random | query, as the app's queue spec named it; NULL for CLI/API writes and older
rows. The refit reads the judgments made in the random order as an unbiased sample of the queue, the only
judgments that can say whether the scorer's level is right (core.risk.calibration.level_shift).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _has_column(table: str, name: str) -> bool:
    # information_schema: DuckDB has no pg_collation for SQLAlchemy's PostgreSQL-style inspector
    return op.get_bind().execute(sa.text(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = :t AND column_name = :c"), {"t": table, "c": name}).scalar() > 0


def upgrade() -> None:
    if not _has_column("judgments", "queue"):  # a stamped store made by create_all may have it
        op.add_column("judgments", sa.Column("queue", sa.String, nullable=True))


def downgrade() -> None:
    op.drop_column("judgments", "queue")

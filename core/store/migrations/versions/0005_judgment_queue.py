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

from core.store.migrate import has_column

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not has_column(op.get_bind(), "judgments", "queue"):  # a stamped store made by create_all may have it
        op.add_column("judgments", sa.Column("queue", sa.String, nullable=True))


def downgrade() -> None:
    op.drop_column("judgments", "queue")

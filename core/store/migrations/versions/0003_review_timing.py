"""review timing and learning: judgments.seconds/blind/shown_risk, risk.base_fn_risk (all nullable)

seconds: card shown -> decision, measured by the app (NULL for CLI/API writes and older rows);
blind: the card hid fn_risk and reasons (blind audit); shown_risk: the fn_risk the card carried
when the decision was made (shown or hidden), so "labels follow the suggestion" is measured
against what the annotator could see even after the queue refits risk; base_fn_risk: the
scorer's fn_risk kept when the learning queue replaces fn_risk (NULL = fn_risk is the scorer's).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.store.migrate import has_column

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = [("judgments", "seconds", sa.Float), ("judgments", "blind", sa.Boolean),
           ("judgments", "shown_risk", sa.Float), ("risk", "base_fn_risk", sa.Float)]


def upgrade() -> None:
    for table, name, typ in COLUMNS:
        if not has_column(op.get_bind(), table, name):  # a stamped 0001 store made by create_all may have it
            op.add_column(table, sa.Column(name, typ, nullable=True))


def downgrade() -> None:
    for table, name, _ in reversed(COLUMNS):
        op.drop_column(table, name)

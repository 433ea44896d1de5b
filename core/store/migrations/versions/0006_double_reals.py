"""real numbers are DOUBLE on DuckDB too

DuckDB's FLOAT is 4 bytes (PostgreSQL's is 8), so what the app wrote came back with float32 noise: a
decision time of 0.4 s read 0.4000000059604645 and a judged share of 0.1 read 0.10000000149 in exports and
reports. Each such column becomes DOUBLE; the stored values go through their shortest text form
(0.4::FLOAT -> '0.4' -> 0.4::DOUBLE), which gives back what was written wherever that had 7 significant
digits or fewer, and the nearest 7-digit value otherwise. PostgreSQL: nothing to do.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = [("candidates", "score"), ("risk", "pos_score"), ("risk", "fn_risk"), ("risk", "base_fn_risk"),
           ("query_bias", "judged_at_k"), ("query_bias", "lexical_overlap"),
           ("query_bias", "pooling_bias_risk"), ("judgments", "seconds"), ("judgments", "shown_risk")]


def _retype(source: str, target: str) -> None:
    conn = op.get_bind()
    if conn.dialect.name != "duckdb":
        return
    for table, column in COLUMNS:
        found = conn.execute(sa.text(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = :t AND column_name = :c"), {"t": table, "c": column}).scalar()
        if found == source:  # a store made by create_all after this change already has DOUBLE
            op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET DATA TYPE {target} '
                       f'USING CAST(CAST("{column}" AS VARCHAR) AS {target})')


def upgrade() -> None:
    _retype("FLOAT", "DOUBLE")


def downgrade() -> None:
    _retype("DOUBLE", "FLOAT")

"""initial schema: every table of DESIGN.md's data model (as core/store/schema.py had it)

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("format", sa.String, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
    )
    op.create_table(
        "queries",
        sa.Column("dataset", sa.String, primary_key=True),
        sa.Column("query_id", sa.String, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "docs",
        sa.Column("dataset", sa.String, primary_key=True),
        sa.Column("doc_id", sa.String, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "qrels",
        sa.Column("dataset", sa.String, nullable=False),
        sa.Column("query_id", sa.String, nullable=False),
        sa.Column("doc_id", sa.String, nullable=False),
        sa.Column("relevance", sa.Integer, nullable=False),
        sa.Column("split", sa.String, nullable=False),
        sa.Column("origin", sa.String, nullable=False),
    )
    op.create_table(
        "candidates",
        sa.Column("dataset", sa.String, nullable=False),
        sa.Column("query_id", sa.String, nullable=False),
        sa.Column("doc_id", sa.String, nullable=False),
        sa.Column("miner", sa.String, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("score", sa.Float),
    )
    op.create_table(
        "risk",
        sa.Column("dataset", sa.String, nullable=False),
        sa.Column("query_id", sa.String, nullable=False),
        sa.Column("doc_id", sa.String, nullable=False),
        sa.Column("scorer_version", sa.String, nullable=False),
        sa.Column("pos_score", sa.Float),
        sa.Column("fn_risk", sa.Float, nullable=False),
        sa.Column("signals", sa.Text, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
    )
    op.create_table(
        "query_bias",
        sa.Column("dataset", sa.String, nullable=False),
        sa.Column("query_id", sa.String, nullable=False),
        sa.Column("n_positives", sa.Integer, nullable=False),
        sa.Column("judged_at_k", sa.Float),
        sa.Column("lexical_overlap", sa.Float),
        sa.Column("positive_rank", sa.Integer),
        sa.Column("pooling_bias_risk", sa.Float),
    )
    # Judgment ids come from a sequence (DuckDB has no SERIAL); the same DDL works on PostgreSQL.
    op.execute(sa.schema.CreateSequence(sa.Sequence("judgment_id_seq")))
    op.create_table(
        "judgments",
        sa.Column("id", sa.BigInteger, server_default=sa.text("nextval('judgment_id_seq')"),
                  primary_key=True),
        sa.Column("dataset", sa.String, nullable=False),
        sa.Column("query_id", sa.String, nullable=False),
        sa.Column("doc_id", sa.String, nullable=False),
        sa.Column("annotator", sa.String, nullable=False),
        sa.Column("label", sa.String, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("action", sa.String, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "annotators",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("role", sa.String, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String, primary_key=True),
        sa.Column("annotator", sa.String, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )
    op.create_table(
        "assignments",
        sa.Column("dataset", sa.String, nullable=False),
        sa.Column("query_id", sa.String, nullable=False),
        sa.Column("doc_id", sa.String, nullable=False),
        sa.Column("annotator", sa.String, nullable=False),
        sa.Column("leased_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("settings", "assignments", "sessions", "annotators", "judgments", "query_bias",
                  "risk", "candidates", "qrels", "docs", "queries", "datasets"):
        op.drop_table(table)
    op.execute(sa.schema.DropSequence(sa.Sequence("judgment_id_seq")))

"""The SQLAlchemy schema: every table of DESIGN.md's data model, dialect-neutral (DuckDB, PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    Sequence,
    String,
    Table,
    Text,
    func,
    text,
)

metadata = MetaData()

# Real numbers are Double, not Float: DuckDB's FLOAT is 4 bytes, so a decision time of 0.4 s came back as
# 0.4000000059604645 in every export (PostgreSQL's FLOAT was already 8 bytes; migration 0006).

datasets = Table(
    "datasets",
    metadata,
    Column("name", String, primary_key=True),
    Column("source", Text, nullable=False, default=""),
    Column("format", String, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("meta", Text, nullable=False, default="{}"),
)

queries = Table(
    "queries",
    metadata,
    Column("dataset", String, primary_key=True),
    Column("query_id", String, primary_key=True),
    Column("text", Text, nullable=False),
)

docs = Table(
    "docs",
    metadata,
    Column("dataset", String, primary_key=True),
    Column("doc_id", String, primary_key=True),
    Column("title", Text, nullable=False, default=""),
    Column("text", Text, nullable=False),
)

# The labels the dataset came with (origin "dataset") or merged in later (origin = file name).
qrels = Table(
    "qrels",
    metadata,
    Column("dataset", String, nullable=False),
    Column("query_id", String, nullable=False),
    Column("doc_id", String, nullable=False),
    Column("relevance", Integer, nullable=False),
    Column("split", String, nullable=False),
    Column("origin", String, nullable=False),
)

# Mined negatives: one row per (query, doc, miner). rank is 1-based in the miner's full ranking.
candidates = Table(
    "candidates",
    metadata,
    Column("dataset", String, nullable=False),
    Column("query_id", String, nullable=False),
    Column("doc_id", String, nullable=False),
    Column("miner", String, nullable=False),
    Column("rank", Integer, nullable=False),
    Column("score", Double),
)

risk = Table(
    "risk",
    metadata,
    Column("dataset", String, nullable=False),
    Column("query_id", String, nullable=False),
    Column("doc_id", String, nullable=False),
    Column("scorer_version", String, nullable=False),
    Column("pos_score", Double),
    Column("fn_risk", Double, nullable=False),
    Column("signals", Text, nullable=False, default="{}"),
    Column("reasons", Text, nullable=False, default=""),
    # The scorer's fn_risk, kept when the learning queue replaces fn_risk (NULL: fn_risk is it).
    Column("base_fn_risk", Double),
)

query_bias = Table(
    "query_bias",
    metadata,
    Column("dataset", String, nullable=False),
    Column("query_id", String, nullable=False),
    Column("n_positives", Integer, nullable=False),
    Column("judged_at_k", Double),
    Column("lexical_overlap", Double),
    Column("positive_rank", Integer),
    Column("pooling_bias_risk", Double),
)

judgment_id_seq = Sequence("judgment_id_seq", metadata=metadata)

# Append-only: never UPDATE or DELETE a row here. Undo and adjudication are new rows.
judgments = Table(
    "judgments",
    metadata,
    Column("id", BigInteger, judgment_id_seq, server_default=judgment_id_seq.next_value(),
           primary_key=True),
    Column("dataset", String, nullable=False),
    Column("query_id", String, nullable=False),
    Column("doc_id", String, nullable=False),
    Column("annotator", String, nullable=False),
    Column("label", String, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("action", String, nullable=False, default="label"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Measured by the app (NULL for CLI/API writes): card shown -> decision, in seconds; whether
    # the card hid fn_risk (blind audit); the fn_risk the card carried, shown or hidden.
    Column("seconds", Double),
    Column("blind", Boolean),
    Column("shown_risk", Double),
    # The review queue's order the card came from (risk | uncertain | random | query; NULL for CLI/API
    # writes): the random order's judgments are an unbiased sample of the queue (the refit's level check).
    Column("queue", String),
)

annotators = Table(
    "annotators",
    metadata,
    Column("name", String, primary_key=True),
    Column("role", String, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String, primary_key=True),
    Column("annotator", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Overlap-k leases: an item is handed to at most k annotators at once.
assignments = Table(
    "assignments",
    metadata,
    Column("dataset", String, nullable=False),
    Column("query_id", String, nullable=False),
    Column("doc_id", String, nullable=False),
    Column("annotator", String, nullable=False),
    Column("leased_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

# Point look-ups of the review path (a card's risk row and miners, an item's judgments and
# leases, a query's qrels). PostgreSQL only: without them each is a scan of a 1M-row table, while
# DuckDB scans its columns fast and would pay for ART indexes on every bulk load.
for _table in (risk, candidates, judgments, assignments):
    Index(f"ix_{_table.name}_item", _table.c.dataset, _table.c.query_id, _table.c.doc_id
          ).ddl_if(dialect="postgresql")
Index("ix_qrels_query", qrels.c.dataset, qrels.c.query_id).ddl_if(dialect="postgresql")

# The review queue's orders as index scans on PostgreSQL (a cold queue top-N over 1M risk rows was
# a sequential scan, 0.5-0.7 s): fn_risk descending, |fn_risk - 0.5|, and the random order's
# seed-free item hash (core.store.queue.order_sql: the expressions must match its text). DuckDB
# needs none: its top-N scan of a column meets the bound, and ART indexes slow bulk loads.
# Written as PostgreSQL prints it back, so Alembic's autogenerate sees no drift.
ITEM_HASH = "hashtextextended((query_id::text || chr(31)) || doc_id::text, 0::bigint)"
Index("ix_risk_order_risk", risk.c.dataset, risk.c.fn_risk.desc().nulls_last(), risk.c.query_id,
      risk.c.doc_id).ddl_if(dialect="postgresql")
Index("ix_risk_order_uncertain", risk.c.dataset, func.abs(risk.c.fn_risk - 0.5), risk.c.query_id,
      risk.c.doc_id, postgresql_include=["fn_risk"]).ddl_if(dialect="postgresql")
Index("ix_risk_order_random", risk.c.dataset, text(ITEM_HASH), risk.c.query_id, risk.c.doc_id,
      postgresql_include=["fn_risk"]).ddl_if(dialect="postgresql")

# Columns each bulk table takes from a DataFrame, in order (the dataset column is added by the store).
BULK_COLUMNS: dict[str, list[str]] = {
    "queries": ["query_id", "text"],
    "docs": ["doc_id", "title", "text"],
    "qrels": ["query_id", "doc_id", "relevance", "split", "origin"],
    "candidates": ["query_id", "doc_id", "miner", "rank", "score"],
    "risk": ["query_id", "doc_id", "scorer_version", "pos_score", "fn_risk", "signals", "reasons"],
    "query_bias": ["query_id", "n_positives", "judged_at_k", "lexical_overlap", "positive_rank",
                   "pooling_bias_risk"],
}

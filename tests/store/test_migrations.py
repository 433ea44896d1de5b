"""Alembic migrations on each backend: an empty database migrated to head has exactly the tables of
`core/store/schema.py` (compared through information_schema with `metadata.create_all`'s), a
pre-migration database is stamped and kept, and an unknown revision stops with a clear message."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from core.store import Store
from core.store import schema as S
from core.store.engine import resolve_url
from core.store.migrate import HEAD, INITIAL, alembic_config, current_revision
from core.types import NegauditError

COLUMNS = """
    SELECT table_name, column_name, ordinal_position, is_nullable, lower(data_type),
           column_default
    FROM information_schema.columns
    WHERE table_schema IN ('main', 'public') AND table_name <> 'alembic_version'
    ORDER BY table_name, ordinal_position"""
PRIMARY_KEYS = """
    SELECT tc.table_name, kcu.column_name
    FROM information_schema.table_constraints tc
    JOIN information_schema.key_column_usage kcu
      ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name
    WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema IN ('main', 'public')
      AND tc.table_name <> 'alembic_version'
    ORDER BY 1, 2"""


def _describe(url: str) -> tuple[list, list]:
    engine = create_engine(resolve_url(url))
    try:
        with engine.connect() as conn:
            return ([tuple(r) for r in conn.execute(text(COLUMNS))],
                    [tuple(r) for r in conn.execute(text(PRIMARY_KEYS))])
    finally:
        engine.dispose()


def test_migrated_empty_db_equals_schema_metadata(backend, databases, tmp_path) -> None:
    migrated = databases.new(backend, tmp_path)
    with Store.open(migrated) as s, s.engine.connect() as conn:
        assert current_revision(conn) == HEAD
    reference = databases.new(backend, tmp_path)
    engine = create_engine(resolve_url(reference))
    S.metadata.create_all(engine)
    engine.dispose()

    cols, pks = _describe(migrated)
    assert {c[0] for c in cols} == set(S.metadata.tables)
    assert (cols, pks) == _describe(reference)
    for table in S.metadata.tables.values():
        got = [c[1] for c in cols if c[0] == table.name]
        assert got == [c.name for c in table.columns]
        nullable = {c[1]: c[3] == "YES" for c in cols if c[0] == table.name}
        assert nullable == {c.name: bool(c.nullable) for c in table.columns}
        assert sorted(c[1] for c in pks if c[0] == table.name) == sorted(
            c.name for c in table.primary_key.columns)


def test_judgment_ids_come_from_the_sequence(store: Store) -> None:
    ids = [store.add_judgment("ds", "q1", f"d{i}", "ann", "negative") for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert store.judgments("ds").id.tolist() == ids


def test_head_constant_matches_the_scripts() -> None:
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_pre_migration_database_is_stamped_and_kept(store_url: str) -> None:
    engine = create_engine(resolve_url(store_url))
    S.metadata.create_all(engine)  # how every store was made before migrations existed
    with engine.begin() as conn:
        conn.execute(S.settings.insert().values(key="overlap_k", value="2"))
    engine.dispose()
    with Store.open(store_url) as s:
        assert s.get_setting("overlap_k") == "2"
        with s.engine.connect() as conn:
            assert current_revision(conn) == HEAD
        s.add_judgment("ds", "q1", "d1", "ann", "negative")
        assert len(s.judgments("ds")) == 1
    assert INITIAL <= HEAD


def test_unknown_revision_asks_for_a_newer_negaudit(store_url: str) -> None:
    Store.open(store_url).close()
    engine = create_engine(resolve_url(store_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    engine.dispose()
    with pytest.raises(NegauditError, match="upgrade negaudit"):
        Store.open(store_url)


def test_bulk_nulls_empty_strings_and_float_ints_round_trip(store: Store) -> None:
    """The bulk paths (DuckDB register, PostgreSQL COPY) agree on NaN -> NULL, '', escapes, ints."""
    with store.dataset_writer("ds") as w:
        w.add("docs", pd.DataFrame({"doc_id": ["a", "b\tc", 'q"\\n'], "title": ["", "", "t"],
                                    "text": ["x\ny", "", "z"]}))
        w.add("query_bias", pd.DataFrame({
            "query_id": ["q1", "q2"], "n_positives": [1, 2], "judged_at_k": [0.5, float("nan")],
            "lexical_overlap": [None, 0.1], "positive_rank": [3.0, float("nan")],
            "pooling_bias_risk": [0.2, 0.3]}))
    docs = store.docs("ds").sort_values("doc_id").reset_index(drop=True)
    assert docs.doc_id.tolist() == ["a", "b\tc", 'q"\\n']
    assert docs.text.tolist() == ["x\ny", "", "z"]
    assert docs.title.tolist() == ["", "", "t"]  # '' is not NULL (the column is NOT NULL)
    qb = store.query_bias("ds").sort_values("query_id").reset_index(drop=True)
    assert qb.positive_rank[0] == 3 and pd.isna(qb.positive_rank[1])
    assert pd.isna(qb.judged_at_k[1]) and pd.isna(qb.lexical_overlap[0])


@pytest.mark.postgres
def test_autogenerate_finds_no_drift_on_postgres(databases, tmp_path) -> None:
    """`alembic check`: schema.py and the revisions agree (autogenerate needs PostgreSQL)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with Store.open(databases.new("postgres", tmp_path)) as s, s.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, S.metadata) == []


def test_a_read_only_open_of_an_older_schema_says_how_to_upgrade(store_url: str) -> None:
    """The team audit: `export` on a store at 0002 died with a stack trace (UndefinedColumn risk.base_fn_risk)."""
    from alembic import command

    from core.store.migrate import register_duckdb

    engine = create_engine(resolve_url(store_url))
    with engine.begin() as conn:
        register_duckdb()
        command.upgrade(alembic_config(conn), "0002")
    engine.dispose()
    with pytest.raises(NegauditError, match="schema revision 0002; this negaudit reads .* any command that writes"):
        Store.open(store_url, read_only=True)
    Store.open(store_url).close()  # a writing command upgrades it
    with Store.open(store_url, read_only=True) as s:
        assert s.judgments("ds").empty


def test_reals_come_back_as_written_after_0006(store_url: str) -> None:
    """A store at 0005 (DuckDB's FLOAT is 4 bytes: 0.4 read back as 0.4000000059604645) is moved to
    DOUBLE and gives back the values written; new writes keep 8 bytes on either backend."""
    from alembic import command

    from core.store.migrate import register_duckdb

    engine = create_engine(resolve_url(store_url))
    with engine.begin() as conn:
        register_duckdb()
        command.upgrade(alembic_config(conn), "0005")
        conn.execute(S.judgments.insert().values(
            dataset="ds", query_id="q1", doc_id="d1", annotator="ann", label="negative", note="",
            action="label", created_at=pd.Timestamp.now(tz="UTC"), seconds=0.4, shown_risk=0.1234567))
        conn.execute(S.query_bias.insert().values(dataset="ds", query_id="q1", n_positives=1,
                                                  judged_at_k=0.1))
    engine.dispose()
    with Store.open(store_url) as s:
        got = s.judgments("ds")
        assert got.seconds.tolist() == [0.4] and got.shown_risk.tolist() == [0.1234567]
        assert s.query_bias("ds").judged_at_k.tolist() == [0.1]
        s.add_judgment("ds", "q1", "d2", "ann", "negative", seconds=0.123456789012, shown_risk=1 / 3)
        got = s.judgments("ds").set_index("doc_id")
        assert got.seconds["d2"] == 0.123456789012 and got.shown_risk["d2"] == 1 / 3

"""`core.store.backup`: a copy taken while the store is open holds every acknowledged write and needs
no `.wal` beside it (a copy of the file alone missed the session's judgments)."""

from __future__ import annotations

import shutil

import pytest
from synthetic import seed_sample

from core import auth, review
from core.auth import User
from core.store import Store
from core.store.backup import backup, default_backup_path
from core.types import AuthorizationError, NegauditError, Role

DS = "bk"


@pytest.fixture
def busy(tmp_path):
    """An open DuckDB store with a dataset, two accounts and judgments still in its .wal."""
    with Store.open(str(tmp_path / "live.duckdb")) as s:
        seed_sample(s, DS, n_queries=3, n_docs=60, per_query=3)
        auth.add_user(s, "boss", "admin", "pw-boss")
        ann = auth.add_user(s, "ann", "annotator", "pw-ann")
        keys = review.next_keys(s, "ann", review.QueueSpec(DS), limit=4)
        for i, (q, d) in enumerate(keys[["query_id", "doc_id"]].itertuples(index=False)):
            review.decide(s, ann, DS, q, d, "false_negative" if i % 2 else "negative")
        yield s


def _state(s: Store):
    j = s.judgments(DS).drop(columns=["id"], errors="ignore")
    return (j.sort_values(list(j.columns)).reset_index(drop=True), s.annotators(),
            [c.__dict__ if hasattr(c, "__dict__") else c for c in s.counts()])


def test_backup_of_an_open_store_holds_its_unflushed_judgments(busy, tmp_path):
    live = tmp_path / "live.duckdb"
    assert (tmp_path / "live.duckdb.wal").exists()  # the judgments sit in the .wal: the hazard
    naive = tmp_path / "naive.duckdb"
    shutil.copyfile(live, naive)  # what a file copy gets
    try:  # (the test can fail: a plain copy misses them, here even the tables)
        with Store.open(str(naive), read_only=True) as s:
            seen = len(s.judgments(DS))
    except NegauditError:
        seen = 0
    assert seen < 4
    out = backup(busy, tmp_path / "copies" / "b.duckdb", actor=User("boss", Role.ADMIN))
    assert out.exists() and not out.with_name(out.name + ".wal").exists()
    assert [p.name for p in out.parent.iterdir()] == ["b.duckdb"]  # no temp file left behind
    with Store.open(str(out), read_only=True) as copy:
        want, got = _state(busy), _state(copy)
        assert len(got[0]) == 4
        assert got[0].equals(want[0]) and got[1].equals(want[1]) and got[2] == want[2]
        assert auth.authenticate(copy, "boss", "pw-boss").is_admin  # accounts come along
    review.decide(busy, User("ann", Role.ANNOTATOR), DS, *review.next_keys(
        busy, "ann", review.QueueSpec(DS), limit=1).iloc[0][["query_id", "doc_id"]], "negative")
    assert len(busy.judgments(DS)) == 5  # the live store goes on after a backup


def test_backup_refuses_what_would_lose_or_clobber(busy, tmp_path):
    with pytest.raises(NegauditError, match="must end in .duckdb"):
        backup(busy, tmp_path / "b.db")
    with pytest.raises(NegauditError, match="is the database itself"):
        backup(busy, tmp_path / "live.duckdb", overwrite=True)
    (tmp_path / "old.duckdb").write_text("an older backup")
    with pytest.raises(NegauditError, match="exists"):
        backup(busy, tmp_path / "old.duckdb")
    assert (tmp_path / "old.duckdb").read_text() == "an older backup"
    backup(busy, tmp_path / "old.duckdb", overwrite=True)
    with Store.open(str(tmp_path / "old.duckdb"), read_only=True) as copy:
        assert len(copy.judgments(DS)) == 4
    with pytest.raises(AuthorizationError):
        backup(busy, tmp_path / "c.duckdb", actor=User("ann", Role.ANNOTATOR))
    assert not (tmp_path / "c.duckdb").exists()


def test_default_path_is_new_each_time(busy, tmp_path):
    first = backup(busy, default_backup_path(busy, tmp_path / "backups"))
    second = default_backup_path(busy, tmp_path / "backups")
    assert first.name.startswith("live-") and first.suffix == ".duckdb"
    assert second != first and not second.exists()


def test_postgres_store_is_named(store):
    if store.is_duckdb:
        pytest.skip("the PostgreSQL message")
    with pytest.raises(NegauditError, match="pg_dump"):
        backup(store, "x.duckdb")

"""Several annotators at once, through the app's own path (`review.next_card` + `review.decide`
on one `Store`, as Streamlit runs sessions as threads of one process): nothing lost, nothing
duplicated, no deadlock, overlap k respected, DuckDB write conflicts retried."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pandas as pd
import pytest
from sqlalchemy import text

import core.store.store as store_module
from core import review
from core.auth import User
from core.review import QueueSpec
from core.store import Store, leases
from core.types import Role

DS = "load"
LABELS = ["negative", "false_negative", "partial", "unsure"]
SESSIONS, PER_SESSION = 8, 250  # the full run (slow); the default run is smaller


def _seed(store: Store, n_queries: int, per_query: int) -> int:
    """A scored dataset of n_queries × per_query distinct (query, doc) items."""
    rng = random.Random(0)
    n_docs = per_query * 4
    cand = pd.DataFrame([(f"q{i}", f"d{(i + j) % n_docs}", "dense", j + 1, 1.0)
                         for i in range(n_queries) for j in range(per_query)],
                        columns=["query_id", "doc_id", "miner", "rank", "score"])
    with store.dataset_writer(DS) as w:
        w.add("queries", pd.DataFrame({"query_id": [f"q{i}" for i in range(n_queries)],
                                       "text": [f"query {i}" for i in range(n_queries)]}))
        w.add("docs", pd.DataFrame({"doc_id": [f"d{j}" for j in range(n_docs)], "title": "",
                                    "text": [f"passage {j}" for j in range(n_docs)]}))
        w.add("candidates", cand)
        w.add("risk", cand[["query_id", "doc_id"]].assign(
            scorer_version="t", pos_score=None, signals="{}", reasons="",
            fn_risk=[rng.random() for _ in range(len(cand))]))
    return len(cand)


def _sessions(store: Store, n: int, per: int, timeout: float) -> tuple[dict, list[str]]:
    """n threads, each an annotator taking `per` cards and labelling each one."""
    handed: dict[str, list[tuple[tuple[str, str], int]]] = {}
    errors: list[str] = []

    def work(i: int) -> None:
        me = User(f"ann{i}", Role.ANNOTATOR)
        got = handed.setdefault(me.name, [])
        try:
            for n_done in range(per):
                card = review.next_card(store, me.name, QueueSpec(DS))
                assert card is not None, "queue ran dry"
                jid = review.decide(store, me, DS, card.query_id, card.doc_id,
                                    LABELS[(i + n_done) % len(LABELS)])
                got.append((card.key, jid))
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(f"{me.name}: {exc!r}")

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "deadlock: a session never finished"
    return handed, errors


@pytest.fixture()
def store(store_url):  # DuckDB and PostgreSQL (tests/conftest.py)
    s = Store.open(store_url)
    yield s
    s.close()


@pytest.mark.parametrize("sessions, per_session", [
    (4, 60),  # the default run: same checks, a fraction of the time
    pytest.param(SESSIONS, PER_SESSION, marks=pytest.mark.slow, id="8x250"),
])
def test_sessions_relabel_none_lost_none_duplicated(store, monkeypatch, capsys, sessions,
                                                    per_session):
    total = sessions * per_session
    n_items = _seed(store, n_queries=max(10, total // 20), per_query=24)  # more items than relabels
    conflicts = Counter()
    is_conflict = store_module._is_conflict

    def counted(exc: BaseException) -> bool:  # observe the retry loop; DuckDB itself is real
        conflicts[is_conflict(exc)] += 1
        return is_conflict(exc)

    monkeypatch.setattr(store_module, "_is_conflict", counted)
    start = time.perf_counter()
    handed, errors = _sessions(store, sessions, per_session, timeout=600)
    took = time.perf_counter() - start
    assert errors == []
    attempted = sum(len(v) for v in handed.values())
    j = store.judgments(DS)
    with capsys.disabled():
        print(f"\nconcurrency: {sessions} sessions x {per_session}: attempted {attempted}, "
              f"stored {len(j)}, conflicts retried {conflicts[True]}, {took:.0f}s "
              f"({n_items} items)")
    assert attempted == total
    assert len(j) == total and j.id.is_unique
    # every acknowledged id is stored, with the label and annotator that session wrote
    acked = {jid: (who, key) for who, got in handed.items() for key, jid in got}
    assert set(j.id) == set(acked)
    for row in j.itertuples():
        who, key = acked[row.id]
        assert (row.annotator, (row.query_id, row.doc_id)) == (who, key)
    assert j.groupby("annotator").size().to_dict() == {f"ann{i}": per_session
                                                        for i in range(sessions)}
    # overlap 1: no item was handed to (or labelled by) two annotators
    keys = Counter(key for got in handed.values() for key, _ in got)
    assert max(keys.values()) == 1
    assert not j.duplicated(["query_id", "doc_id"]).any()
    assert leases.active_leases(store, DS).empty  # every decision released its lease


def test_overlap_two_hands_an_item_to_at_most_two(store):
    _seed(store, n_queries=10, per_query=6)
    review.set_overlap_k(store, 2, User("boss", Role.ADMIN))
    handed, errors = _sessions(store, 4, 25, timeout=300)
    assert errors == []
    keys = Counter(key for got in handed.values() for key, _ in got)
    assert sum(keys.values()) == 100 and max(keys.values()) <= 2
    j = store.judgments(DS)
    assert len(j) == 100 and not j.duplicated(["query_id", "doc_id", "annotator"]).any()


def test_duckdb_write_conflicts_are_retried(store):
    """A real write-write conflict: another transaction holds the row; the writer backs off and
    retries (the loop `Store.add_judgment` writes through) until that transaction commits."""
    store.set_setting("x", "0")
    holder = store.engine.connect()
    tx = holder.begin()
    holder.execute(text("UPDATE settings SET value = 'held' WHERE key = 'x'"))
    attempts: list[float] = []

    def write(conn) -> int:
        attempts.append(time.monotonic())
        conn.execute(text("UPDATE settings SET value = 'mine' WHERE key = 'x'"))
        return len(attempts)

    release = threading.Timer(0.2, lambda: (tx.commit(), holder.close()))
    release.start()
    try:
        if store.is_duckdb:
            assert store._retry(write) > 1  # failed with a conflict at least once, then succeeded
        else:  # PostgreSQL waits on the row lock instead of failing: one attempt, no retry
            assert store._retry(write) == 1
    finally:
        release.join()
    assert store.get_setting("x") == "mine"

"""The store's contracts: all-or-nothing writes, judgments outlive re-imports and are append-only,
undo is a new row, a held DuckDB file gives a clear error, bulk inserts scale."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from core.store import Store
from core.types import NegauditError, StoreLockedError


def _docs(n: int, prefix: str = "d") -> pd.DataFrame:
    return pd.DataFrame({"doc_id": [f"{prefix}{i}" for i in range(n)], "title": [""] * n,
                         "text": [f"text {i}" for i in range(n)]})


def _small(store: Store, name: str = "ds", replace: bool = False) -> None:
    with store.dataset_writer(name, replace=replace) as w:
        w.add("docs", _docs(3))
        w.add("queries", pd.DataFrame({"query_id": ["q1"], "text": ["query"]}))
        w.add("qrels", pd.DataFrame({"query_id": ["q1"], "doc_id": ["d0"], "relevance": [1],
                                     "split": ["test"], "origin": ["dataset"]}))


def test_failed_transaction_leaves_no_dataset(store: Store) -> None:
    with pytest.raises(RuntimeError), store.dataset_writer("ds") as w:
        w.add("docs", _docs(10))
        raise RuntimeError("bad file")
    assert "ds" not in store.dataset_names()
    assert store.docs("ds").empty


def test_existing_name_needs_replace(store: Store) -> None:
    _small(store)
    with pytest.raises(NegauditError, match="already exists"):
        _small(store)
    _small(store, replace=True)
    assert store.counts("ds")[0].docs == 3


@pytest.mark.parametrize("name", ["a/b", "..\\up", "tab\there", "new\nline", " padded", "x" * 121])
def test_a_new_dataset_name_must_be_usable_in_paths(store: Store, name: str) -> None:
    """The admin audit: names become the app's default export path and part of printed commands."""
    with pytest.raises(NegauditError, match="is not usable"), store.dataset_writer(name):
        pass
    assert store.dataset_names() == []


def test_markup_in_a_dataset_name_is_only_text(store: Store) -> None:
    with store.dataset_writer("<b>**x**<i> [y](z)"):  # shown escaped everywhere (tests/test_security.py)
        pass
    assert store.dataset_names() == ["<b>**x**<i> [y](z)"]


def test_failed_replace_keeps_the_old_dataset(store: Store) -> None:
    _small(store)
    with pytest.raises(RuntimeError), store.dataset_writer("ds", replace=True) as w:
        w.add("docs", _docs(1, "x"))
        raise RuntimeError("bad file")
    assert sorted(store.docs("ds").doc_id) == ["d0", "d1", "d2"]


def test_replace_keeps_judgments(store: Store) -> None:
    _small(store)
    store.add_judgment("ds", "q1", "d1", "ann", "false_negative")
    _small(store, replace=True)
    assert store.judgments("ds").label.tolist() == ["false_negative"]


def test_judgments_append_only_undo_and_current_labels(store: Store) -> None:
    _small(store)
    store.add_judgment("ds", "q1", "d1", "ann", "negative")
    store.add_judgment("ds", "q1", "d1", "ann", "false_negative")
    store.add_judgment("ds", "q1", "d2", "bob", "unsure")
    cur = store.current_labels("ds").set_index(["doc_id", "annotator"]).label
    assert cur[("d1", "ann")] == "false_negative" and cur[("d2", "bob")] == "unsure"
    undone = store.undo_last("ds", "ann")
    assert undone["restored"] == "negative"
    assert len(store.judgments("ds")) == 4  # undo appended a row, deleted nothing
    cur = store.current_labels("ds").set_index(["doc_id", "annotator"]).label
    assert cur[("d1", "ann")] == "negative"
    store.undo_last("ds", "ann")
    cur = store.current_labels("ds")
    assert not ((cur.doc_id == "d1") & (cur.annotator == "ann")).any()
    with pytest.raises(ValueError, match="unknown label"):
        store.add_judgment("ds", "q1", "d1", "ann", "maybe")


def test_delete_needs_force_with_judgments(store: Store) -> None:
    _small(store)
    store.add_judgment("ds", "q1", "d1", "ann", "negative")
    with pytest.raises(NegauditError, match="judgments"):
        store.delete_dataset("ds")
    store.delete_dataset("ds", force=True)
    assert store.dataset_names() == [] and store.judgments("ds").empty


def test_bulk_insert_100k(store: Store) -> None:
    n = 100_000
    start = time.perf_counter()
    with store.dataset_writer("big") as w:
        w.add("docs", _docs(n))
        w.add("candidates", pd.DataFrame({
            "query_id": ["q1"] * n, "doc_id": [f"d{i}" for i in range(n)],
            "miner": ["imported"] * n, "rank": range(1, n + 1),
            "score": pd.array([None] * n, dtype="Float64")}))
    assert time.perf_counter() - start < 20
    c = store.counts("big")[0]
    assert c.docs == n and c.candidates == n
    assert store.candidates("big").score.isna().all()


HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def held_db(tmp_path: Path):
    """A DuckDB file held open by another process, as the running app would."""
    path = tmp_path / "held.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    yield path
    proc.stdin.close()
    proc.wait(timeout=10)


def test_locked_file_message(held_db: Path) -> None:
    with pytest.raises(StoreLockedError, match="in use by another process") as info:
        Store.open(str(held_db))
    assert "--db" in str(info.value)


def test_undo_walks_back_one_decision_per_call_across_items(store: Store) -> None:
    """Z, Z, Z takes back the last three decisions, newest first, whatever their items (it once undid the
    same item again and again, writing an undo row each time); with nothing left it writes nothing."""
    _small(store)
    for doc, label in (("d1", "negative"), ("d2", "unsure"), ("d1", "false_negative")):
        store.add_judgment("ds", "q1", doc, "ann", label)
    store.add_judgment("ds", "q1", "d2", "bob", "negative")  # another annotator's: never undone by ann
    got = [store.undo_last("ds", "ann") for _ in range(3)]
    assert [(u["doc_id"], u["restored"]) for u in got] == [("d1", "negative"), ("d2", ""), ("d1", "")]
    n = len(store.judgments("ds"))
    assert store.undo_last("ds", "ann") is None and len(store.judgments("ds")) == n
    cur = store.current_labels("ds")
    assert list(zip(cur.doc_id, cur.annotator, cur.label)) == [("d2", "bob", "negative")]
    store.add_judgment("ds", "q1", "d2", "ann", "partial")  # a new decision after undoing: undoable again
    assert store.undo_last("ds", "ann") == {"query_id": "q1", "doc_id": "d2", "restored": ""}


def test_undo_reads_rows_written_before_it_walked_across_items(store: Store) -> None:
    """Undo rows that found nothing on their item (written by the old undo, pressed again) change nothing."""
    _small(store)
    store.add_judgment("ds", "q1", "d1", "ann", "negative")
    store.add_judgment("ds", "q1", "d2", "ann", "unsure")
    for _ in range(3):  # the old undo: the last row's item, again and again
        store.add_judgment("ds", "q1", "d2", "ann", "", note="undo", action="undo")
    assert store.undo_last("ds", "ann") == {"query_id": "q1", "doc_id": "d1", "restored": ""}
    assert store.undo_last("ds", "ann") is None

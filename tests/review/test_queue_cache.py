"""The queue's cached head follows the store epoch: a re-score (risk rewritten) is seen at the next
call, in this process (DuckDB, the app's own write) and from another process (PostgreSQL, as
`negaudit score` would while the app runs)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from sqlalchemy import text

from core import review
from core.review import QueueSpec
from core.store import Store
from core.store.base import utcnow

DS = "cache"

# Process B: rewrite the dataset's risk rows the way the scorer does (`Store.replace_rows`), with
# the order reversed.
RESCORE = """
import sys
from core.store import Store
url, ds = sys.argv[1], sys.argv[2]
with Store.open(url) as s:
    r = s.risk(ds)
    s.replace_rows("risk", ds, r.assign(fn_risk=1.0 - r["fn_risk"]))
print("rescored", flush=True)
"""


def _seed(store: Store) -> None:
    keys = [(f"q{i}", f"d{i}{j}") for i in range(3) for j in range(5)]
    cand = pd.DataFrame([(q, d, "dense", n % 5 + 1, 1.0) for n, (q, d) in enumerate(keys)],
                        columns=["query_id", "doc_id", "miner", "rank", "score"])
    with store.dataset_writer(DS) as w:
        w.add("queries", pd.DataFrame({"query_id": ["q0", "q1", "q2"], "text": "a query"}))
        w.add("docs", pd.DataFrame({"doc_id": [d for _, d in keys], "title": "",
                                    "text": "a passage"}))
        w.add("candidates", cand)
        w.add("risk", cand[["query_id", "doc_id"]].assign(
            scorer_version="t", pos_score=None, signals="{}", reasons="",
            fn_risk=[(n + 1) / 20 for n in range(len(keys))]))


def _expected(store: Store, n: int) -> list[str]:
    r = store.risk(DS).sort_values(["fn_risk", "query_id", "doc_id"],
                                   ascending=[False, True, True])
    return list(r.doc_id[:n])


@pytest.fixture()
def store(store_url):
    s = Store.open(store_url)
    _seed(s)
    yield s
    s.close()


def test_epoch_moves_with_risk_writes_only(store):
    e0 = store.epoch()
    store.add_judgment(DS, "q0", "d00", "ann", "negative")
    assert store.epoch() == e0  # decisions never invalidate the head (labels are read live)
    store.replace_rows("query_bias", DS, store.query_bias(DS))
    assert store.epoch() == e0
    store.replace_rows("risk", DS, store.risk(DS))
    assert store.epoch() == e0 + 1
    with pytest.raises(ValueError), store.dataset_appender(DS) as w:  # rolled back: no bump
        w.add("candidates", pd.DataFrame({"query_id": ["q0"]}))
    assert store.epoch() == e0 + 1


def test_rescore_in_this_process_reorders_the_next_head(store):
    queue = review.Queue(store)
    spec = QueueSpec(DS)
    first = queue.next_keys("ann", spec, limit=3, resume=False)
    assert list(first.doc_id) == _expected(store, 3)
    assert list(queue.next_keys("ann", spec, limit=3, resume=False).doc_id) == list(first.doc_id)
    r = store.risk(DS)
    store.replace_rows("risk", DS, r.assign(fn_risk=1.0 - r["fn_risk"]))
    after = queue.next_keys("ann", spec, limit=3, resume=False)
    assert list(after.doc_id) == _expected(store, 3) != list(first.doc_id)


@pytest.mark.postgres
def test_rescore_in_another_process_reorders_the_next_head(databases, tmp_path):
    url = databases.new("postgres", tmp_path)
    with Store.open(url) as app:  # process A: the app, serving the queue head from its cache
        _seed(app)
        queue = review.Queue(app)
        spec = QueueSpec(DS)
        card = queue.next_card("ann", spec)
        head = list(queue.next_keys("bob", spec, limit=3, resume=False).doc_id)
        assert card.doc_id == _expected(app, 1)[0] and head == _expected(app, 4)[1:]
        done = subprocess.run([sys.executable, "-c", RESCORE, url, DS], check=False, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.strip() == "rescored", done.stderr
        now = _expected(app, 3)
        assert now[0] != card.doc_id  # the order really changed
        after = queue.next_keys("bob", spec, limit=3, resume=False)
        assert list(after.doc_id) == now  # at once: no waiting for a time-to-live
        assert queue.next_card("cat", spec).doc_id == now[0]


def test_head_labels_follow_every_judgment(store):
    """Judgments written past the queue (straight into the store) count at the next call, and an
    undo frees the item again. On DuckDB the head's labels are kept per head and updated from
    the judgments' count and top id: only the first call reads them in full."""
    queue = review.Queue(store)
    spec = QueueSpec(DS)
    top = _expected(store, 3)
    assert list(queue.next_keys("ann", spec, limit=3, k=1, resume=False).doc_id) == top
    q0 = store.risk(DS).set_index("doc_id").loc[top[0], "query_id"]
    store.add_judgment(DS, q0, top[0], "bob", "negative")  # k=1: bob's label holds it
    assert list(queue.next_keys("ann", spec, limit=2, k=1, resume=False).doc_id) == top[1:]
    assert list(queue.next_keys("ann", spec, limit=3, k=2, resume=False).doc_id) == top
    store.add_judgment(DS, q0, top[0], "bob", "", action="undo")
    assert list(queue.next_keys("ann", spec, limit=3, k=1, resume=False).doc_id) == top
    store.add_judgment(DS, q0, top[0], "ann", "negative")  # my own label: never again for me
    assert list(queue.next_keys("ann", spec, limit=2, k=5, resume=False).doc_id) == top[1:]
    if store.is_duckdb:  # PostgreSQL reads the head's labels live (index look-ups) every call
        assert queue.held.full_reads == 1


def test_a_judgment_that_commits_below_the_top_id_forces_a_full_read(store):
    """A row that appears with an id below the top id already seen (a transaction that took its
    id first and committed last) is not missed: the count gives it away."""
    queue = review.Queue(store)
    spec = QueueSpec(DS)
    top = _expected(store, 2)
    store.add_judgment(DS, "q0", "d00", "cat", "negative")
    assert list(queue.next_keys("ann", spec, limit=2, k=1, resume=False).doc_id) == top
    q0 = store.risk(DS).set_index("doc_id").loc[top[0], "query_id"]
    with store.engine.begin() as conn:  # id -1: below every id the sequence gave
        conn.execute(text("INSERT INTO judgments (id, dataset, query_id, doc_id, annotator, "
                          "label, note, action, created_at) VALUES (-1, :ds, :q, :d, 'bob', "
                          "'negative', '', 'label', :now)"),
                     {"ds": DS, "q": q0, "d": top[0], "now": utcnow()})
    assert list(queue.next_keys("ann", spec, limit=1, k=1, resume=False).doc_id) == top[1:]
    if store.is_duckdb:
        assert queue.held.full_reads == 2

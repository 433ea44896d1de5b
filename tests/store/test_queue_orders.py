"""The queue's orders on each backend: a head read through a shortcut (PostgreSQL's random order
reads the seed's first buckets only) is exactly the first rows of the full order, every seed
gives its own order, and on PostgreSQL each order's head is an index scan (migration 0004)."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from core.store import queue as SQ
from core.types import Mode, QueueSpec

DS = "orders"


@pytest.fixture
def items(store):
    """600 items over 30 queries with distinct risks (a generated set: the order is the point)."""
    keys = [(f"q{i}", f"d{i}-{j}") for i in range(30) for j in range(20)]
    risk = pd.DataFrame(keys, columns=["query_id", "doc_id"]).assign(
        scorer_version="t", pos_score=None, signals="{}", reasons="",
        fn_risk=[((n * 7919) % 600) / 600 for n in range(len(keys))])
    store.replace_rows("risk", DS, risk)
    return store


@pytest.mark.parametrize("mode", [Mode.RISK, Mode.UNCERTAIN, Mode.RANDOM])
def test_a_head_is_the_start_of_the_whole_order(items, mode):
    for seed in (0, 7):
        for band in ((0.0, 1.0), (0.2, 0.7)):
            spec = QueueSpec(DS, mode, seed=seed, risk_min=band[0], risk_max=band[1])
            full = SQ.order(items, spec)
            for size in (5, 40):
                head = SQ.window(items, spec, size)
                assert list(zip(head.query_id, head.doc_id)) == list(
                    zip(full.query_id, full.doc_id))[:size]


def test_random_orders_differ_by_seed_and_cover_every_item(items):
    orders = [SQ.order(items, QueueSpec(DS, Mode.RANDOM, seed=s)) for s in range(4)]
    heads = [list(zip(o.query_id, o.doc_id))[:50] for o in orders]
    assert all(len(set(o.doc_id)) == 600 for o in orders)
    assert len({tuple(h) for h in heads}) == 4
    overlap = max(len(set(a) & set(b)) for a in heads for b in heads if a is not b)
    assert overlap < 25  # about 50 * 50 / 600 = 4 shared by chance


@pytest.mark.postgres
@pytest.mark.parametrize("mode", [Mode.RISK, Mode.UNCERTAIN, Mode.RANDOM])
def test_postgres_reads_each_head_through_its_index(items, mode, backend):
    if backend != "postgres":
        pytest.skip("PostgreSQL's indexes")
    spec = QueueSpec(DS, mode, seed=3)
    pre, _, params = SQ.filters(spec, [], True)
    order = SQ.order_sql(spec, duckdb=False)
    src = (SQ._pg_bucket_items(pre) if mode == Mode.RANDOM else
           "(SELECT query_id, doc_id, fn_risk FROM risk WHERE dataset = :dataset)")
    sql = f"EXPLAIN SELECT i.* FROM {src} i WHERE TRUE {pre} ORDER BY {order} LIMIT 2000"
    with items.engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = "\n".join(r[0] for r in conn.execute(text(sql),
                                                    {"dataset": DS, "nb": 16, **params}))
    assert f"ix_risk_order_{mode.value}" in plan, plan
    if mode != Mode.RANDOM:  # read in order: no sort of the dataset's rows
        assert "Sort" not in plan, plan

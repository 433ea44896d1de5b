"""Next-card latency on a generated store with 1M candidates (decision -> next card ready).

Each step is what the Review page does on a click: `review.decide` (durable write + lease release)
then `review.next_card` (queue query, lease, card look-ups). Reports median and p95 per mode.

    .venv/bin/python scripts/bench_review.py [--candidates 1000000] [--steps 60] [--db FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import auth, review
from core.review import Mode, QueueSpec
from core.store import Store

DS = "bench"


def build(store: Store, n_cand: int, per_query: int = 50, seed: int = 0) -> None:
    """Queries x per_query candidates over a 200k-doc corpus, two miners, random risk."""
    rng = np.random.default_rng(seed)
    n_q = n_cand // per_query
    n_docs = 200_000
    words = np.array(["cell", "vitamin", "gene", "protein", "tumor", "dose", "risk", "trial", "brain", "immune"])
    with store.dataset_writer(DS, replace=True) as w:
        w.add("queries", pd.DataFrame({"query_id": [f"q{i}" for i in range(n_q)],
                                       "text": [f"query {i} about {words[i % 10]}"
                                                for i in range(n_q)]}))
        ids = np.arange(n_docs)
        w.add("docs", pd.DataFrame({"doc_id": [f"d{i}" for i in ids], "title": "",
                                    "text": [f"passage {i} on {words[i % 10]} and "
                                             f"{words[(i * 7) % 10]}" for i in ids]}))
        w.add("qrels", pd.DataFrame({"query_id": [f"q{i}" for i in range(n_q)],
                                     "doc_id": [f"d{(i * 13) % n_docs}" for i in range(n_q)],
                                     "relevance": 1, "split": "test", "origin": "dataset"}))
    qi = np.repeat(np.arange(n_q), per_query)
    di = (qi * 7919 + np.tile(np.arange(per_query), n_q) * 104729 + 1) % n_docs
    rank = np.tile(np.arange(1, per_query + 1), n_q)
    q = np.char.add("q", qi.astype(str))
    d = np.char.add("d", di.astype(str))
    miner = np.where(rank % 2 == 0, "dense", "bm25")
    store.replace_rows("candidates", DS, pd.DataFrame({
        "query_id": q, "doc_id": d, "miner": miner, "rank": rank,
        "score": rng.random(len(qi))}))
    store.replace_rows("risk", DS, pd.DataFrame({
        "query_id": q, "doc_id": d, "scorer_version": "bench", "pos_score": None,
        "fn_risk": rng.random(len(qi)).round(6), "signals": "{}",
        "reasons": "dense rank high; lexical overlap"}))


def measure(store: Store, spec: QueueSpec, user: auth.User, steps: int) -> list[float]:
    card = review.next_card(store, user.name, spec)
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        review.decide(store, user, DS, card.query_id, card.doc_id,
                      "negative" if i % 3 else "false_negative")
        card = review.next_card(store, user.name, spec)
        times.append(time.perf_counter() - t0)
        if card is None:
            break
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--db", default=None, help="reuse/keep this DuckDB file (default: temp)")
    args = ap.parse_args()
    db = args.db or str(Path(tempfile.mkdtemp()) / "bench.duckdb")
    with Store.open(db) as store:
        have = store.has_dataset(DS) and store.counts(DS)[0].candidates == args.candidates
        if not have:
            t0 = time.perf_counter()
            build(store, args.candidates)
            print(f"built {args.candidates:,} candidates in {time.perf_counter() - t0:.1f}s")
        users = [auth.add_user(store, f"ann{i}", "annotator", "pw12") for i in range(2)]
        review.set_overlap_k(store, 2, auth.User("root", auth.Role.ADMIN))
        print(f"db {db}; {args.steps} decisions per mode; overlap k=2")
        print(f"{'mode':<28}{'median ms':>10}{'p95 ms':>10}{'max ms':>10}")
        for name, spec, user in [
            ("risk (unreviewed)", QueueSpec(DS, Mode.RISK), users[0]),
            ("uncertain", QueueSpec(DS, Mode.UNCERTAIN), users[0]),
            ("random audit", QueueSpec(DS, Mode.RANDOM, seed=7), users[1]),
            ("risk + miner + range", QueueSpec(DS, Mode.RISK, miner="dense", risk_min=0.2,
                                                risk_max=0.8), users[1]),
            ("by query", QueueSpec(DS, Mode.QUERY, query_id="q123"), users[0]),
        ]:
            t = measure(store, spec, user, args.steps)
            ms = sorted(x * 1000 for x in t)
            p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
            print(f"{name:<28}{statistics.median(ms):>10.1f}{p95:>10.1f}{ms[-1]:>10.1f}")


if __name__ == "__main__":
    main()

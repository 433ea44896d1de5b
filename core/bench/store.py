"""The store at scale, DuckDB vs PostgreSQL: a generated dataset with 1M candidates and 100k judgments.

Measures what a team feels: ingest time (the bulk paths), the review queue query (the app's own
`core.review.next_keys`: cold = a fresh top-N over the risk table, warm = the cached queue head a
click uses), a whole Review click (`review.decide` + `review.next_card`), one judgment insert
(`Store.add_judgment`, durable on return), an export (`core.export.export_dataset`, triplet
parquet) and peak RSS.

    negaudit bench store --backend duckdb --candidates 1000000 --judgments 100000
    negaudit bench store --backend postgres ...   # a throw-away server (default settings) unless --db

Without --db, PostgreSQL runs as a throw-away local server with PostgreSQL's default (durable)
settings: fsync and synchronous_commit on, as DuckDB's commits are durable too.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DS = "bench"
ANNOTATORS = [f"ann{i}" for i in range(5)]
_WORDS = np.array(["cell", "vitamin", "gene", "protein", "tumor", "dose", "risk", "trial", "brain",
                   "immune", "diet", "blood", "heart", "acid", "fiber", "sugar"])


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _stats(seconds: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in seconds)
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))], 2),
            "max_ms": round(ms[-1], 2)}


def _text(ids: np.ndarray, n_words: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    w = _WORDS[rng.integers(0, len(_WORDS), size=(len(ids), n_words))]
    body = [" ".join(row) for row in w.tolist()]
    return [f"passage {i} {b}" for i, b in zip(ids.tolist(), body)]


def build(store: Any, n_candidates: int, per_query: int = 50, seed: int = 0
          ) -> dict[str, float]:
    """Queries x per_query candidates (two miners) over a corpus of n/5 docs; scored risk."""
    rng = np.random.default_rng(seed)
    n_q = max(1, n_candidates // per_query)
    n_docs = max(1000, n_candidates // 5)
    qids = np.arange(n_q)
    times: dict[str, float] = {}
    t = time.perf_counter()
    with store.dataset_writer(DS, source="generated", fmt="bench", replace=True) as w:
        w.add("queries", pd.DataFrame({"query_id": np.char.add("q", qids.astype(str)),
                                       "text": _text(qids, 8, seed)}))
        d = np.arange(n_docs)
        w.add("docs", pd.DataFrame({"doc_id": np.char.add("d", d.astype(str)), "title": "",
                                    "text": _text(d, 40, seed + 1)}))
        w.add("qrels", pd.DataFrame({"query_id": np.char.add("q", qids.astype(str)),
                                     "doc_id": np.char.add("d", ((qids * 13) % n_docs).astype(str)),
                                     "relevance": 1, "split": "test", "origin": "dataset"}))
    times["queries_docs_qrels_s"] = time.perf_counter() - t
    qi = np.repeat(qids, per_query)[:n_candidates]
    r = np.tile(np.arange(1, per_query + 1), n_q)[:n_candidates]
    di = (qi * 7919 + r * 104729 + 1) % n_docs
    q = np.char.add("q", qi.astype(str))
    d = np.char.add("d", di.astype(str))
    t = time.perf_counter()
    store.replace_rows("candidates", DS, pd.DataFrame({
        "query_id": q, "doc_id": d, "miner": np.where(r % 2 == 0, "dense", "bm25"), "rank": r,
        "score": rng.random(len(qi))}))
    times["candidates_s"] = time.perf_counter() - t
    t = time.perf_counter()
    store.replace_rows("risk", DS, pd.DataFrame({
        "query_id": q, "doc_id": d, "scorer_version": "bench", "pos_score": rng.random(len(qi)),
        "fn_risk": rng.random(len(qi)).round(6),
        "signals": '{"dense_z": 1.2, "bm25_z": 0.4, "rrf": 0.03}',
        "reasons": "dense rank high; lexical overlap"}))
    times["risk_s"] = time.perf_counter() - t
    return times


def load_judgments(store: Any, n: int, seed: int = 0) -> pd.DataFrame:
    """`n` judgments by five annotators on distinct random candidates, in one bulk transaction.

    Set-up, not the measured insert path (that is `Store.add_judgment`, timed separately).
    """
    from core.store.store import _copy_into, utcnow

    rng = np.random.default_rng(seed + 2)
    cand = _keys(store) if n else pd.DataFrame()
    pick = cand.iloc[rng.choice(len(cand), size=min(n, len(cand)), replace=False)]
    labels = np.array(["negative", "negative", "negative", "false_negative", "partial", "unsure"])
    frame = pd.DataFrame({
        "dataset": DS, "query_id": pick.query_id.to_numpy(), "doc_id": pick.doc_id.to_numpy(),
        "annotator": np.array(ANNOTATORS)[rng.integers(0, len(ANNOTATORS), len(pick))],
        "label": labels[rng.integers(0, len(labels), len(pick))], "note": "", "action": "label",
        "created_at": utcnow()})
    with store.engine.begin() as conn:
        if store.is_postgres:
            _copy_into(conn, "judgments", DS, frame.drop(columns="dataset"))
        else:
            raw = conn.connection.driver_connection
            raw.register("_bench_j", frame)
            try:
                cols = ", ".join(frame.columns)
                raw.execute(f"INSERT INTO judgments ({cols}) SELECT {cols} FROM _bench_j")
            finally:
                raw.unregister("_bench_j")
    return pick


def _keys(store: Any) -> pd.DataFrame:
    """All (query, doc) items in a fixed order, so both backends judge the same items."""
    return (store.risk(DS)[["query_id", "doc_id"]].sort_values(["query_id", "doc_id"])
            .reset_index(drop=True))


def _server_rss_mb(data_dir: Path | None) -> float | None:
    """Sum of VmRSS of the throw-away server's processes (shared buffers counted per process)."""
    if data_dir is None:
        return None
    try:
        root = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    total = 0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            status = (p / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(p.name) == root or fields.get("PPid", "").strip() == str(root):
            total += int(fields.get("VmRSS", "0 kB").split()[0] or 0)
    return round(total / 1024, 1)


def run_store_bench(backend: str = "duckdb", candidates: int = 1_000_000,
                    judgments: int = 100_000, db: str | None = None, queue_samples: int = 20,
                    insert_samples: int = 300, seed: int = 0, log=print) -> dict[str, Any]:
    from core import review
    from core.export import export_dataset
    from core.review import Mode, QueueSpec
    from core.store import Store

    if backend not in ("duckdb", "postgres"):
        raise ValueError("backend must be duckdb or postgres")
    result: dict[str, Any] = {"backend": backend, "candidates": candidates,
                              "judgments": judgments, "host": platform.node(),
                              "cpus": os.cpu_count(), "load_before": os.getloadavg()}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="negaudit-bench-")))
        server = None
        if db is None and backend == "postgres":
            from core.store.pgserver import TempPostgres

            server = stack.enter_context(TempPostgres(fast=False))
            db = server.create_database("bench")
            result["server"] = "throw-away local PostgreSQL, default settings (fsync on)"
        elif db is None:
            db = str(tmp / "bench.duckdb")
        store = stack.enter_context(Store.open(db))
        if store.is_postgres:
            with store.engine.connect() as conn:
                result["server_version"] = conn.exec_driver_sql("SHOW server_version").scalar()
        else:
            import duckdb

            result["server_version"] = f"duckdb {duckdb.__version__}"
        log(f"store bench: {backend} ({result['server_version']}), {candidates:,} candidates, "
            f"{judgments:,} judgments")

        t0 = time.perf_counter()
        parts = build(store, candidates, seed=seed)
        t = time.perf_counter()
        load_judgments(store, judgments, seed)
        parts["judgments_s"] = time.perf_counter() - t
        result["ingest"] = {k: round(v, 2) for k, v in parts.items()}
        result["ingest"]["total_s"] = round(time.perf_counter() - t0, 2)
        result["rss_after_ingest_mb"] = round(_rss_mb(), 1)
        log(f"  ingest {result['ingest']}")

        queue: dict[str, Any] = {}
        me = ANNOTATORS[0]  # holds ~1/5 of the judgments: the queue has to skip them
        for name, spec in [("risk", QueueSpec(DS, Mode.RISK)),
                           ("uncertain", QueueSpec(DS, Mode.UNCERTAIN)),
                           ("random", QueueSpec(DS, Mode.RANDOM, seed=7))]:
            cold, warm = [], []
            for _ in range(queue_samples):
                review.queue_of(store).forget()
                t = time.perf_counter()
                rows = review.next_keys(store, me, spec, resume=False)
                cold.append(time.perf_counter() - t)
            assert len(rows) == 1
            for _ in range(queue_samples * 3):
                t = time.perf_counter()
                review.next_keys(store, me, spec, resume=False)
                warm.append(time.perf_counter() - t)
            queue[name] = {"cold": _stats(cold), "warm": _stats(warm)}
            log(f"  queue {name}: {queue[name]}")
        result["queue_next_keys"] = queue

        # A click in the Review page: decide (durable write + lease release), then next card
        # (queue, atomic lease, the card's look-ups: texts, positives, risk row, miners).
        from core.auth import User
        from core.types import Role

        user = User(ANNOTATORS[1], Role.ANNOTATOR)
        spec = QueueSpec(DS, Mode.RISK)
        card = review.next_card(store, user.name, spec)
        clicks = []
        for i in range(queue_samples * 3):
            t = time.perf_counter()
            review.decide(store, user, DS, card.query_id, card.doc_id,
                          "negative" if i % 3 else "false_negative")
            card = review.next_card(store, user.name, spec)
            clicks.append(time.perf_counter() - t)
        result["click_decide_next_card"] = _stats(clicks)
        log(f"  click (decide + next_card) {result['click_decide_next_card']}")

        keys = _keys(store).sample(insert_samples, random_state=seed)
        ins = []
        for i, (q, d) in enumerate(zip(keys.query_id, keys.doc_id)):
            t = time.perf_counter()
            store.add_judgment(DS, q, d, ANNOTATORS[i % len(ANNOTATORS)],
                               "negative" if i % 3 else "false_negative")
            ins.append(time.perf_counter() - t)
        result["add_judgment"] = _stats(ins)
        log(f"  add_judgment {result['add_judgment']}")

        t = time.perf_counter()
        manifest = export_dataset(store, DS, "triplet", tmp / "clean.parquet")
        result["export"] = {"format": "triplet", "seconds": round(time.perf_counter() - t, 2),
                            "rows": manifest.get("written", {}).get("rows",
                                                                    manifest.get("rows"))}
        log(f"  export {result['export']}")

        with store.engine.connect() as conn:
            if store.is_postgres:
                size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
            else:
                size = Path(db).stat().st_size if "://" not in db else None
        result["db_size_mb"] = round(size / 2**20, 1) if size else None
        result["peak_rss_mb"] = round(_rss_mb(), 1)
        result["server_rss_mb"] = _server_rss_mb(server.dir / "data" if server else None)
        result["load_after"] = os.getloadavg()
    print_table(result, log)
    return result


def print_table(r: dict[str, Any], log=print) -> None:
    rows = [("ingest total (s)", r["ingest"]["total_s"])]
    rows += [(f"  {k.removesuffix('_s')} (s)", v) for k, v in r["ingest"].items()
             if k != "total_s"]
    for mode, s in r["queue_next_keys"].items():
        rows.append((f"queue {mode} cold median / p95 (ms)",
                     f"{s['cold']['median_ms']} / {s['cold']['p95_ms']}"))
        rows.append((f"queue {mode} warm median / p95 (ms)",
                     f"{s['warm']['median_ms']} / {s['warm']['p95_ms']}"))
    a, c = r["add_judgment"], r["click_decide_next_card"]
    rows += [("click: decide + next_card median / p95 (ms)", f"{c['median_ms']} / {c['p95_ms']}"),
             ("add_judgment median / p95 (ms)", f"{a['median_ms']} / {a['p95_ms']}"),
             ("export triplet (s)", r["export"]["seconds"]),
             ("peak RSS, this process (MB)", r["peak_rss_mb"]),
             ("server RSS at end (MB)", r["server_rss_mb"] if r["server_rss_mb"] else "-"),
             ("database size (MB)", r["db_size_mb"] if r["db_size_mb"] else "-")]
    width = max(len(k) for k, _ in rows)
    log(f"\n{r['backend']} ({r['server_version']}): {r['candidates']:,} candidates, "
        f"{r['judgments']:,} judgments; load {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}")
    for k, v in rows:
        log(f"{k:<{width}}  {v}")

"""The demo database: SciFact ingested, mined and scored, plus a demo admin.

`build_demo` runs the project's own ingest / mining / risk pipeline. `seed_sample` writes a small
real sample (SciFact texts read through `core.ingest`, lexical candidates, a simple overlap-based
risk) straight through the Store: tests and a model-free demo (`use_pipeline=False`) use it.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from core.store import Store

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT / "data" / "scifact"
DEMO_DB = ROOT / ".negaudit" / "demo.duckdb"
DEMO_DATASET = "scifact"
DEMO_USER, DEMO_PASSWORD = "demo", "demo"
SAMPLE_SCORER = "demo-lexical-0"

HOSTILE_DOCS = {
    "hostile-script": ("<script>alert(1)</script>", "Vitamin D <script>alert('x')</script> cells"),
    "hostile-img": ("Image", "Vitamin D <img src=x onerror=alert(1)> deficiency"),
    "hostile-bold": ("**bold** title", "Vitamin D **bold** and _em_ and `code` # heading"),
    "hostile-link": ("Link", "Vitamin D [x](javascript:alert(1)) :red[red] $x^2$ www.evil.com"),
}

_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> Counter:
    return Counter(w for w in _WORD.findall(text.lower()) if len(w) > 2)


def seed_sample(store: Store, name: str = "scifact-mini", n_queries: int = 8, n_docs: int = 400,
                per_query: int = 6, hostile: bool = False, source: Path = SCIFACT) -> str:
    """Write a small real SciFact sample with lexical candidates and a simple risk score.

    Risk is a logistic of term overlap: a stand-in scorer (`scorer_version` says so), used only
    where the learned `core.risk` is not wanted (tests, a model-free demo).
    """
    from core.bench.data import load_beir

    data = load_beir(source, "test")
    qrels = data.qrels
    qids = list(dict.fromkeys(qrels.query_id))[:n_queries]
    qrels = qrels[qrels.query_id.isin(qids)]
    queries = dict(zip(data.queries.query_id, data.queries.text))
    need = set(qrels.doc_id)
    first = data.docs.index < n_docs
    docs = list(data.docs[first | data.docs.doc_id.isin(need)].itertuples(index=False, name=None))
    if hostile:
        docs += [(k, t, x) for k, (t, x) in HOSTILE_DOCS.items()]
    doc_df = pd.DataFrame(docs, columns=["doc_id", "title", "text"]).drop_duplicates("doc_id")
    bags = {r.doc_id: _words(f"{r.title} {r.text}") for r in doc_df.itertuples()}
    pos = qrels.groupby("query_id").doc_id.apply(set).to_dict()
    cand_rows, risk_rows = [], []
    for qi, qid in enumerate(qids):
        qw = _words(queries[qid])
        scored = sorted(((sum(min(c, bags[d][w]) for w, c in qw.items()), d)
                         for d in bags if d not in pos[qid] and not d.startswith("hostile")),
                        key=lambda t: (-t[0], t[1]))[:per_query]
        if hostile and qi == 0:
            scored = [(9, k) for k in HOSTILE_DOCS] + scored
        for rank, (s, d) in enumerate(scored, start=1):
            cand_rows.append((qid, d, "bm25-lite", rank, float(s)))
            r = 1 / (1 + math.exp(-(s - 3) / 1.5))
            risk_rows.append((qid, d, SAMPLE_SCORER, None, round(r, 4), "{}",
                              f"shares {s} query terms; lexical rank {rank}"))
    with store.dataset_writer(name, source=str(source), fmt="beir-sample", replace=True) as w:
        w.add("queries", pd.DataFrame([(q, queries[q]) for q in qids],
                                      columns=["query_id", "text"]))
        w.add("docs", doc_df)
        w.add("qrels", qrels.assign(relevance=qrels.relevance.astype(int), origin="dataset"))
    store.replace_rows("candidates", name, pd.DataFrame(
        cand_rows, columns=["query_id", "doc_id", "miner", "rank", "score"]))
    store.replace_rows("risk", name, pd.DataFrame(
        risk_rows, columns=["query_id", "doc_id", "scorer_version", "pos_score", "fn_risk",
                            "signals", "reasons"]))
    return name


def demo_embedding_exports(root: Path = ROOT / "data") -> list[Path]:
    """Committed float16 embedding exports for the demo (made by `negaudit cache export`)."""
    return sorted(p for p in root.glob("*") if "emb" in p.name.lower() and p.name != "NOTICE")


def seed_demo_cache(log: Callable[[str], None] = print) -> int:
    """Load the committed demo embeddings into the cache so the demo encodes (almost) nothing."""
    from core.encoders import seed_cache

    added = 0
    for path in demo_embedding_exports():
        try:
            added += seed_cache(path)
        except Exception as exc:  # noqa: BLE001 - a bad export only costs encoding time
            log(f"note: could not use {path.name} ({exc}); encoding instead")
    return added


def build_demo(db: Path = DEMO_DB, log: Callable[[str], None] = print,
               use_pipeline: bool = True) -> Path:
    """Build the demo DB once (SciFact ingested, mined, scored) and ensure the demo admin.

    ``use_pipeline=False`` seeds the model-free lexical sample instead (fast; tests use it).
    """
    from core import auth
    from core.ingest import ingest_beir
    from core.pipeline import run

    db.parent.mkdir(parents=True, exist_ok=True)
    with Store.open(str(db)) as store:
        ready = store.has_dataset(DEMO_DATASET) and store.counts(DEMO_DATASET)[0].candidates
        if not ready:
            if use_pipeline:
                t0 = time.perf_counter()
                n = seed_demo_cache(log)
                log(f"building the demo: ingest, mine and score SciFact "
                    f"({n:,} cached embeddings loaded)...")
                ingest_beir(store, SCIFACT, DEMO_DATASET, replace=True)
                run(store, DEMO_DATASET)
                log(f"demo built in {time.perf_counter() - t0:.0f}s")
            else:
                log("seeding a lexical SciFact sample (no model)")
                seed_sample(store, DEMO_DATASET, n_queries=60, n_docs=5200, per_query=10)
        if store.annotator(DEMO_USER) is None:
            auth.add_user(store, DEMO_USER, "admin", DEMO_PASSWORD)
    return db

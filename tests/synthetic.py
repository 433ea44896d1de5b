"""A synthetic review dataset for tests only: SciFact texts, lexical candidates (`bm25-lite`) and a
stand-in overlap risk (`demo-lexical-0`, empty signals). Moved here from `core/demo.py`: only tests
use it. Tests of what a user sees use `scored_store.py` (the real pipeline) instead.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import pandas as pd

from core.ingest import read_beir
from core.store import Store

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT / "data" / "scifact"
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

    Risk is a logistic of term overlap: a stand-in scorer (`scorer_version` says so) for the
    tests that need many items fast and no model (queue mechanics, concurrency, crash safety).
    UI tests use the really scored store of `scored_store.py` instead.
    """
    frames: dict[str, list[pd.DataFrame]] = {"docs": [], "queries": [], "qrels": []}
    for table, df in read_beir(source, ["test"]):
        frames[table].append(df)
    all_docs, all_queries, qrels = (pd.concat(frames[t], ignore_index=True)
                                    for t in ("docs", "queries", "qrels"))
    all_docs = all_docs.fillna({"title": "", "text": ""})[["doc_id", "title", "text"]]
    qids = list(dict.fromkeys(qrels.query_id))[:n_queries]
    qrels = qrels[qrels.query_id.isin(qids)][["query_id", "doc_id", "relevance", "split"]]
    queries = dict(zip(all_queries.query_id, all_queries.text))
    need = set(qrels.doc_id)
    first = all_docs.index < n_docs
    docs = list(all_docs[first | all_docs.doc_id.isin(need)].itertuples(index=False, name=None))
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

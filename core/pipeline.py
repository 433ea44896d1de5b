"""The pipeline the CLI and the app share: load a dataset from the store, mine it, score it.

Encoding is the cost that dominates, so one `Corpus` (texts, cached embeddings, a BM25 index) is
prepared once and handed to both mining and scoring.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.types import NegauditError

Progress = Callable[[str, float], None]  # (step description, fraction done 0..1)


def _noop(_step: str, _frac: float) -> None:
    return None


@dataclass
class Corpus:
    """One dataset's texts, embeddings and lexical index, aligned by position."""

    name: str
    query_ids: list[str]
    query_texts: list[str]
    doc_ids: list[str]
    doc_texts: list[str]
    positives: dict[str, set[str]]
    qrels: pd.DataFrame
    query_emb: np.ndarray | None = None
    doc_emb: np.ndarray | None = None
    bm25: Any = None
    timings: dict[str, float] = field(default_factory=dict)


def load_corpus(store: Any, name: str) -> Corpus:
    """Read a dataset's queries, docs and qrels (positives over every split) from the store."""
    from core.models import doc_text

    if not store.has_dataset(name):
        raise NegauditError(f"no dataset named {name!r}; see `negaudit datasets`")
    q = store.queries(name)
    d = store.docs(name)
    qrels = store.qrels(name)
    if d.empty or q.empty:
        raise NegauditError(f"dataset {name!r} has no docs or no queries to mine")
    pos = qrels[qrels["relevance"] > 0]
    positives: dict[str, set[str]] = {}
    for qid, did in zip(pos["query_id"], pos["doc_id"]):
        positives.setdefault(qid, set()).add(did)
    return Corpus(
        name=name,
        query_ids=q["query_id"].tolist(),
        query_texts=q["text"].tolist(),
        doc_ids=d["doc_id"].tolist(),
        doc_texts=[doc_text(t, x) for t, x in zip(d["title"], d["text"])],
        positives=positives,
        qrels=qrels,
    )


def embed_corpus(corpus: Corpus, model: Any = None, cache: Any = None, batch_size: int = 64,
                 progress: Progress = _noop) -> Corpus:
    """Embed docs and queries through the on-disk cache (a second run encodes nothing)."""
    from core.models import encode_texts

    t0 = time.perf_counter()
    progress("embedding documents", 0.0)
    corpus.doc_emb = encode_texts(model, corpus.doc_texts, cache=cache, batch_size=batch_size,
                                  show_progress=progress is _noop)
    progress("embedding queries", 0.5)
    corpus.query_emb = encode_texts(model, corpus.query_texts, cache=cache, batch_size=batch_size)
    corpus.timings["embed"] = time.perf_counter() - t0
    return corpus


def index_bm25(corpus: Corpus) -> Corpus:
    from core.mining import Bm25Index

    t0 = time.perf_counter()
    corpus.bm25 = Bm25Index.build(corpus.doc_texts)
    corpus.timings["bm25_index"] = time.perf_counter() - t0
    return corpus


def mine_corpus(corpus: Corpus, top_k: int = 30, miners: Sequence[str] = ("dense", "bm25"),
                backend: str = "numpy") -> pd.DataFrame:
    """Candidates of every miner: labelled positives excluded, every candidate kept (no filtering)."""
    from core.mining import mine_bm25, mine_dense

    unknown = set(miners) - {"dense", "bm25"}
    if unknown:
        raise NegauditError(f"unknown miner(s) {sorted(unknown)}; choose from dense, bm25")
    frames = []
    t0 = time.perf_counter()
    if "dense" in miners:
        if corpus.doc_emb is None:
            raise ValueError("embed_corpus first")
        frames.append(mine_dense(corpus.query_ids, corpus.query_emb, corpus.doc_ids,
                                 corpus.doc_emb, corpus.positives, top_k, backend=backend))
    if "bm25" in miners:
        if corpus.bm25 is None:
            index_bm25(corpus)
        frames.append(mine_bm25(corpus.query_ids, corpus.query_texts, corpus.doc_ids,
                                positives=corpus.positives, top_k=top_k, index=corpus.bm25))
    corpus.timings["mine"] = time.perf_counter() - t0
    return pd.concat(frames, ignore_index=True)


def mine_dataset(store: Any, name: str, model: Any = None, top_k: int = 30,
                 miners: Sequence[str] = ("dense", "bm25"), cache: Any = None,
                 progress: Progress = _noop, corpus: Corpus | None = None) -> pd.DataFrame:
    """Mine a stored dataset and replace its candidates of these miners (imported ones stay)."""
    corpus = corpus or load_corpus(store, name)
    if "dense" in miners and corpus.doc_emb is None:
        embed_corpus(corpus, model, cache, progress=progress)
    progress("mining", 0.8)
    cands = mine_corpus(corpus, top_k, miners)
    store.replace_rows("candidates", name, cands[["query_id", "doc_id", "miner", "rank", "score"]],
                       where={"miner": list(miners)})
    progress("mined", 1.0)
    return cands

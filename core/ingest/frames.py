"""A BEIR folder held in memory as aligned frames, for code that needs the data but not a store.

Benches and offline experiments read through here, so they see exactly what `negaudit ingest beir`
would import: :func:`core.ingest.read_beir`'s chunks concatenated. What ingest skips (empty docs,
qrels naming unknown ids) is skipped here too, and ``report`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.ingest.beir import read_beir
from core.types import Doc, Qrel, Query


@dataclass
class BeirData:
    """A BEIR folder's docs (doc_id, title, text), queries (query_id, text) and qrels, in file order."""

    docs: pd.DataFrame
    queries: pd.DataFrame
    qrels: pd.DataFrame  # query_id, doc_id, relevance, split
    report: dict = field(default_factory=dict)

    @property
    def doc_ids(self) -> list[str]:
        return self.docs["doc_id"].tolist()

    @property
    def doc_texts(self) -> list[str]:
        """Docs as the bi-encoder sees them: ``title + " " + text`` (:func:`core.encoders.doc_text`)."""
        from core.encoders import doc_text

        return [doc_text(t, x) for t, x in zip(self.docs["title"], self.docs["text"])]

    def judged_queries(self, positive_only: bool = True) -> pd.DataFrame:
        """Queries with a qrel (a positive one by default), in queries-file order."""
        q = self.qrels[self.qrels["relevance"] > 0] if positive_only else self.qrels
        return self.queries[self.queries["query_id"].isin(set(q["query_id"]))]

    def records(self, max_queries: int | None = None) -> tuple[list[Query], list[Doc], list[Qrel]]:
        """(queries with a positive, in qrels order; every doc; their positive qrels) as records."""
        pos = self.qrels[self.qrels["relevance"] > 0]
        texts = dict(zip(self.queries["query_id"], self.queries["text"]))
        qids = [q for q in dict.fromkeys(pos["query_id"]) if q in texts][:max_queries]
        keep = set(qids)
        queries = [Query(q, texts[q]) for q in qids]
        docs = [Doc(d, x, t) for d, t, x in zip(self.docs["doc_id"], self.docs["title"], self.docs["text"])]
        qrels = [Qrel(q, d, int(r), s) for q, d, r, s in
                 zip(pos["query_id"], pos["doc_id"], pos["relevance"], pos["split"]) if q in keep]
        return queries, docs, qrels


def load_beir(path: str | Path, split: str | None = "test") -> BeirData:
    """Read a BEIR folder (one qrels split, or every split with ``None``) into memory."""
    frames: dict[str, list[pd.DataFrame]] = {"docs": [], "queries": [], "qrels": []}
    report: dict = {}
    for table, df in read_beir(path, [split] if split else None, report=report):
        frames[table].append(df)
    docs, queries, qrels = (pd.concat(frames[t], ignore_index=True) for t in ("docs", "queries", "qrels"))
    docs = docs.astype({"doc_id": str, "title": object, "text": object}).fillna({"title": "", "text": ""})
    queries = queries.astype({"query_id": str, "text": object})
    qrels = qrels.astype({"query_id": str, "doc_id": str, "split": str})[
        ["query_id", "doc_id", "relevance", "split"]]
    return BeirData(docs, queries, qrels, report)

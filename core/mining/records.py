"""Mining straight from record lists (no store, no pipeline): what the library user and the bench call."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from core.encoders import doc_text, encode_texts
from core.mining.candidates import positives_by_query
from core.mining.registry import MineInputs, check_miners, mine_with, needs_embeddings
from core.types import Doc, Qrel, Query


def mine_candidates(
    queries: Sequence[Query],
    docs: Sequence[Doc],
    qrels: Iterable[Qrel],
    model: Any = None,
    top_k: int = 30,
    miners: Sequence[str] = ("dense", "bm25"),
    cache: Any = None,
    batch_size: int = 64,
    show_progress: bool = False,
) -> pd.DataFrame:
    """The default mine: dense (packaged MiniLM unless ``model``) plus BM25 rows, top-30 each.

    Embeddings go through :func:`core.encoders.encode_texts` and its cache; docs are embedded as
    :func:`core.encoders.doc_text` (title + text).
    """
    miners = check_miners(miners)
    inputs = MineInputs(
        query_ids=[q.query_id for q in queries],
        query_texts=[q.text for q in queries],
        doc_ids=[d.doc_id for d in docs],
        doc_texts=[doc_text(d.title, d.text) for d in docs],
        positives=positives_by_query(qrels),
    )
    if needs_embeddings(miners):
        kw = {"cache": cache, "batch_size": batch_size, "show_progress": show_progress}
        inputs.doc_emb = encode_texts(model, inputs.doc_texts, **kw)
        inputs.query_emb = encode_texts(model, inputs.query_texts, **kw)
    return mine_with(inputs, miners, top_k)

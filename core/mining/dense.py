"""The dense miner: cosine kNN over L2-normalised vectors.

Backends: ``numpy`` (chunked score blocks, the default), ``faiss`` (one exact flat index), or a
bounded-memory method of :mod:`core.mining.knn` (``exact``, ``ivf``, ``auto``) for big corpora.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.mining.candidates import candidate_frame, positive_rows, query_chunk, topk_rows
from core.mining.registry import register

_FAISS_TIE_EXTRA = 8


def dense_topk(
    query_emb: np.ndarray,
    doc_emb: np.ndarray,
    k: int | Sequence[int],
    chunk_size: int | None = None,
    backend: str = "numpy",
    index: Any = None,
    stats: dict[str, Any] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The dense miner's top-k (doc indices, scores) per query, positives *included*.

    ``k`` may be one int or one per query. Queries are processed in chunks so only a
    ``chunk x n_docs`` score block is alive at a time (256 MB by default). ``index``: a prebuilt
    faiss index over ``doc_emb`` (see :func:`faiss_index`), reused across calls by batch engines.
    ``stats``: a dict the :mod:`core.mining.knn` backends fill (method chosen, nprobe, measured recall).
    """
    ks = np.full(len(query_emb), k, dtype=np.int64) if np.isscalar(k) else np.asarray(k, dtype=np.int64)
    if index is None and backend not in ("numpy", "faiss"):
        from core.mining.knn import knn_topk  # bounded memory: doc_emb may be a memory map

        return knn_topk(query_emb, doc_emb, ks, method=backend, stats=stats)
    q = np.ascontiguousarray(query_emb, dtype=np.float32)
    d = np.ascontiguousarray(doc_emb, dtype=np.float32)
    step = query_chunk(len(d), chunk_size)
    if index is None and backend == "faiss":
        index = faiss_index(d)
    out_idx: list[np.ndarray] = []
    out_scores: list[np.ndarray] = []
    for start in range(0, len(q), step):
        block_k = int(ks[start : start + step].max(initial=0))
        if index is not None:
            # a few extra hits so exact ties at the cut-off resolve as numpy does: lower doc index first
            s, i = index.search(q[start : start + step], min(block_k + _FAISS_TIE_EXTRA, len(d)))
            order = np.lexsort((i, -s), axis=1)[:, :block_k]
            i = np.take_along_axis(i, order, axis=1).astype(np.int64)
            s = np.take_along_axis(s, order, axis=1).astype(np.float32)
        else:
            i, s = topk_rows(q[start : start + step] @ d.T, block_k)
        for row, kk in enumerate(ks[start : start + step]):
            out_idx.append(i[row, :kk])
            out_scores.append(s[row, :kk])
    return out_idx, out_scores


def faiss_index(doc_emb: np.ndarray) -> Any:
    """Exact inner-product index (cosine on L2-normalised vectors)."""
    import faiss

    index = faiss.IndexFlatIP(doc_emb.shape[1])
    index.add(doc_emb)
    return index


def mine_dense(
    query_ids: Sequence[str],
    query_emb: np.ndarray,
    doc_ids: Sequence[str],
    doc_emb: np.ndarray,
    positives: Mapping[str, Collection[str]],
    top_k: int = 30,
    chunk_size: int | None = None,
    backend: str = "numpy",
    index: Any = None,
    knn_stats: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Dense candidates: each query's ``top_k`` best unlabelled docs by cosine, miner ``dense``."""
    doc_pos = {d: i for i, d in enumerate(doc_ids)}
    pos_rows = positive_rows(query_ids, doc_pos, positives)
    ks = [top_k + len(p) for p in pos_rows]
    idx, sc = dense_topk(query_emb, doc_emb, ks, chunk_size=chunk_size, backend=backend, index=index,
                         stats=knn_stats)
    pos_scores = [
        np.asarray(doc_emb[p] @ query_emb[i], dtype=np.float32) for i, p in enumerate(pos_rows)
    ]
    return candidate_frame("dense", query_ids, doc_ids, idx, sc, pos_rows, pos_scores, top_k)


@register("dense", position=0, needs_embeddings=True)
def dense_miner(inputs: Any, top_k: int, backend: str = "numpy") -> pd.DataFrame:
    """The registered dense miner over a corpus (or :class:`core.mining.registry.MineInputs`)."""
    if inputs.doc_emb is None or inputs.query_emb is None:
        raise ValueError("embed_corpus first")
    return mine_dense(inputs.query_ids, inputs.query_emb, inputs.doc_ids, inputs.doc_emb,
                      inputs.positives, top_k, backend=backend,
                      knn_stats=getattr(inputs, "knn_stats", None))

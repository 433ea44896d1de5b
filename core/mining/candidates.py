"""The candidate frame every miner returns, and the top-k primitive they share.

Conventions (the choices the rest of negaudit relies on):

* Labelled positives (relevance > 0) are never candidates, but ``rank`` is the doc's 1-based position in
  the miner's *full* ranking, positives included. So rank 3 with two positives above it is the first
  unlabelled doc, and ranks of one query may have gaps.
* ``top_k`` counts candidates (unlabelled docs) per query and miner: 30 means 30 rows.
* Extra columns: ``n_positives`` (labelled positives found in the corpus), ``pos_score`` (the max score
  of the query's positives under the same miner: what the risk signals use) and ``pos_score_min`` (the
  min, which ``mine_hard_negatives`` uses for its margins). NaN when the query has no positive.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.types import Qrel

CANDIDATE_COLUMNS = ["query_id", "doc_id", "miner", "rank", "score"]
EXTRA_COLUMNS = ["n_positives", "pos_score", "pos_score_min"]
_CHUNK_BYTES = 256 * 1024 * 1024  # bound on one (queries x docs) float32 score block


def topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k columns of every row, best first (ties: lower doc index first)."""
    n = scores.shape[1]
    k = min(k, n)
    if k <= 0:
        return np.zeros((len(scores), 0), np.int64), np.zeros((len(scores), 0), np.float32)
    part = top_sets(scores, k)
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1) if part.size else part
    idx = np.take_along_axis(part, order, axis=1)
    return idx.astype(np.int64), np.take_along_axis(scores, idx, axis=1).astype(np.float32)


def top_sets(scores: np.ndarray, k: int) -> np.ndarray:
    """Per row, the columns of its k highest scores in no particular order (ties: lower column first).

    A row's k-th largest value over any subset of its columns is at most its true k-th largest, so a
    strided sample gives a threshold that keeps every top-k column and few others; only those survivors are
    sorted. That replaces an ``argpartition`` over whole rows, the cost of every top-k on a big corpus.
    Rows where the threshold keeps too many (many ties, NaN) take the exact per-row path.
    """
    rows, n = scores.shape
    if rows == 0 or k <= 0 or k >= n:  # no column, or every column (the corpus is no deeper than k)
        width = max(0, min(k, n))
        return np.broadcast_to(np.arange(width), (rows, width)).copy()
    out = np.zeros((rows, k), np.int64)
    stride = int(np.sqrt(n / k))
    slow = np.ones(rows, bool)
    if stride >= 4:
        sample = scores[:, ::stride]
        m = sample.shape[1]
        if m >= k:
            t = np.partition(sample, m - k, axis=1)[:, m - k]
            mask = scores >= t[:, None]
            counts = mask.sum(axis=1)
            fast = (counts >= k) & (counts <= 4 * stride * k)
            slow = ~fast
            if fast.any():
                fr = np.flatnonzero(fast)
                r, c = np.divmod(np.flatnonzero(mask if len(fr) == rows else mask[fr]), n)
                starts = np.r_[0, np.cumsum(counts[fr])[:-1]]
                pos = np.arange(len(c)) - starts[r]
                width = int(counts[fr].max())
                vals = np.full((len(fr), width), -np.inf, scores.dtype if scores.dtype.kind == "f" else np.float64)
                cols = np.zeros((len(fr), width), np.int64)
                vals[r, pos], cols[r, pos] = scores[fr[r], c], c
                part = np.argpartition(-vals, k - 1, axis=1)[:, :k]
                kth = np.take_along_axis(vals, part, axis=1).min(axis=1)
                out[fr] = np.take_along_axis(cols, part, axis=1)
                # argpartition picks arbitrarily among survivors tied with the k-th score: exact path there
                slow[fr[(vals >= kth[:, None]).sum(axis=1) > k]] = True
    for r in np.flatnonzero(slow):
        out[r] = _top_set_row(scores[r], k)
    return out


def _top_set_row(row: np.ndarray, k: int) -> np.ndarray:
    """One row's top-k columns, ties to the lower column (the exact path for rows with many ties)."""
    part = np.argpartition(-row, k - 1)[:k]
    kth = row[part].min()
    if np.isnan(kth):  # fewer than k numbers: all of them, then the NaN columns lowest first
        return np.lexsort((np.arange(len(row)), -row))[:k]
    tied = np.flatnonzero(row >= kth)
    if len(tied) > k:  # argpartition picks arbitrarily among docs tied with the k-th score
        part = tied[np.lexsort((tied, -row[tied]))[:k]]
    return part


def query_chunk(n_docs: int, chunk_size: int | None) -> int:
    """Queries per score block, so only a ``chunk x n_docs`` block (256 MB by default) is alive."""
    return chunk_size or max(1, _CHUNK_BYTES // (4 * max(1, n_docs)))


def positives_by_query(qrels: Iterable[Qrel]) -> dict[str, set[str]]:
    """Labelled positives (relevance > 0) per query."""
    out: dict[str, set[str]] = {}
    for q in qrels:
        if q.relevance > 0:
            out.setdefault(q.query_id, set()).add(q.doc_id)
    return out


def positive_rows(
    query_ids: Sequence[str], doc_pos: Mapping[str, int], positives: Mapping[str, Collection[str]]
) -> list[np.ndarray]:
    """Per query, the corpus positions of its labelled positives (sorted)."""
    return [
        np.array(sorted(doc_pos[d] for d in positives.get(qid, ()) if d in doc_pos), dtype=np.int64)
        for qid in query_ids
    ]


def candidate_frame(
    miner: str,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    ranked_idx: list[np.ndarray],
    ranked_scores: list[np.ndarray],
    pos_rows: list[np.ndarray],
    pos_scores: list[np.ndarray],
    top_k: int,
) -> pd.DataFrame:
    """Drop labelled positives from each ranking, keep the first top_k, record full-ranking ranks."""
    cols: dict[str, list[Any]] = {c: [] for c in CANDIDATE_COLUMNS + EXTRA_COLUMNS}
    doc_arr = np.asarray(doc_ids, dtype=object)
    for qid, idx, sc, prow, ps in zip(query_ids, ranked_idx, ranked_scores, pos_rows, pos_scores):
        keep = np.flatnonzero(~np.isin(idx, prow))[:top_k]
        n = len(keep)
        cols["query_id"].extend([qid] * n)
        cols["doc_id"].extend(doc_arr[idx[keep]].tolist())
        cols["miner"].extend([miner] * n)
        cols["rank"].extend((keep + 1).tolist())
        cols["score"].extend(sc[keep].tolist())
        cols["n_positives"].extend([len(prow)] * n)
        cols["pos_score"].extend([float(ps.max()) if len(ps) else math.nan] * n)
        cols["pos_score_min"].extend([float(ps.min()) if len(ps) else math.nan] * n)
    df = pd.DataFrame(cols)
    return df.astype(
        {
            "rank": "int64",
            "score": "float64",
            "n_positives": "int64",
            "pos_score": "float64",
            "pos_score_min": "float64",
        }
    )

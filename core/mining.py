"""Candidate mining (dense kNN, BM25) that keeps every candidate; the mine_hard_negatives knobs are a view.

Users know ``sentence_transformers.util.mine_hard_negatives``: it retrieves, removes positives, then
*drops* candidates by rank window, margin and score and records nothing. Here mining keeps every
candidate row (query_id, doc_id, miner, rank, score) and :func:`mark_filters` reproduces, row by row,
which ones ``mine_hard_negatives`` would have kept and why the others go (``filter_reason``).

Conventions (the choices the rest of negaudit relies on):

* Labelled positives (relevance > 0) are never candidates, but ``rank`` is the doc's 1-based position in
  the miner's *full* ranking, positives included. So rank 3 with two positives above it is the first
  unlabelled doc, and ranks of one query may have gaps. :func:`dense_topk` gives the ranking before
  any removal (pooling-bias Judged@k needs it).
* ``top_k`` counts candidates (unlabelled docs) per query and miner: 30 means 30 rows.
* Scores: dense = cosine (dot of L2-normalised vectors); bm25 = bm25s Lucene BM25 (k1 1.5, b 0.75).
* Extra columns: ``n_positives`` (labelled positives found in the corpus), ``pos_score`` (the max score
  of the query's positives under the same miner: what the risk signals use) and ``pos_score_min`` (the
  min, which ``mine_hard_negatives`` uses for its margins). NaN when the query has no positive.
* BM25 tokenisation: lower-case, the scikit-learn ``\\b\\w\\w+\\b`` pattern, bm25s' English stop-words
  and the Snowball English stemmer when ``PyStemmer`` is installed, else Harman's S-stemmer (plural
  stripping, built in): deterministic, no extra dependency. Docs with a BM25 score of 0 share no term
  with the query; they are not ranked by BM25, so they are not BM25 candidates.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.types import Doc, Qrel, Query

CANDIDATE_COLUMNS = ["query_id", "doc_id", "miner", "rank", "score"]
EXTRA_COLUMNS = ["n_positives", "pos_score", "pos_score_min"]
_CHUNK_BYTES = 256 * 1024 * 1024  # bound on one (queries x docs) float32 score block
_FAISS_TIE_EXTRA = 8


# --- ranking primitives --------------------------------------------------------------------------


def _topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k columns of every row, best first (ties: lower doc index first)."""
    n = scores.shape[1]
    k = min(k, n)
    if k <= 0:
        return np.zeros((len(scores), 0), np.int64), np.zeros((len(scores), 0), np.float32)
    if k < n:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        # argpartition picks arbitrarily among docs tied with the k-th score (and differently for
        # another k): redo those rows so ties go to the lower doc index whatever the batch
        kth = np.take_along_axis(scores, part, axis=1).min(axis=1)
        for r in np.flatnonzero((scores >= kth[:, None]).sum(axis=1) > k):
            tied = np.flatnonzero(scores[r] >= kth[r])
            part[r] = tied[np.lexsort((tied, -scores[r, tied]))[:k]]
    else:
        part = np.broadcast_to(np.arange(n), scores.shape).copy()
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1) if part.size else part
    idx = np.take_along_axis(part, order, axis=1)
    return idx.astype(np.int64), np.take_along_axis(scores, idx, axis=1).astype(np.float32)


def _query_chunk(n_docs: int, chunk_size: int | None) -> int:
    return chunk_size or max(1, _CHUNK_BYTES // (4 * max(1, n_docs)))


def dense_topk(
    query_emb: np.ndarray,
    doc_emb: np.ndarray,
    k: int | Sequence[int],
    chunk_size: int | None = None,
    backend: Literal["numpy", "faiss"] = "numpy",
    index: Any = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The dense miner's top-k (doc indices, scores) per query, positives *included*.

    ``k`` may be one int or one per query. Queries are processed in chunks so only a
    ``chunk x n_docs`` score block is alive at a time (256 MB by default). ``index``: a prebuilt
    faiss index over ``doc_emb`` (see :func:`faiss_index`), reused across calls by batch engines.
    """
    q = np.ascontiguousarray(query_emb, dtype=np.float32)
    d = np.ascontiguousarray(doc_emb, dtype=np.float32)
    ks = np.full(len(q), k, dtype=np.int64) if np.isscalar(k) else np.asarray(k, dtype=np.int64)
    step = _query_chunk(len(d), chunk_size)
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
            i, s = _topk_rows(q[start : start + step] @ d.T, block_k)
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


# --- BM25 ----------------------------------------------------------------------------------------


def _s_stem(words: list[str]) -> list[str]:
    """Harman's S-stemmer (1991): strip English plurals only; deterministic and dependency-free."""
    out = []
    for w in words:
        if len(w) > 3 and w.endswith("ies") and not w.endswith(("eies", "aies")):
            w = w[:-3] + "y"
        elif w.endswith("es") and len(w) > 2 and not w.endswith(("aes", "ees", "oes")):
            w = w[:-1]  # "es" -> "e"
        elif w.endswith("s") and len(w) > 1 and not w.endswith(("us", "ss")):
            w = w[:-1]
        out.append(w)
    return out


def bm25_stemmer() -> tuple[str, Any]:
    """(name, callable): Snowball English via PyStemmer when installed, else the S-stemmer."""
    try:
        import Stemmer  # PyStemmer

        return "snowball-english", Stemmer.Stemmer("english").stemWords
    except ImportError:
        return "s-stemmer", _s_stem


def bm25_tokenize(texts: Sequence[str]) -> list[list[str]]:
    """The one tokeniser for docs and queries (see the module docstring)."""
    import bm25s

    _, stem = bm25_stemmer()
    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=stem, return_ids=False, show_progress=False
    )


@dataclass
class Bm25Index:
    """A bm25s index over a corpus; ``scores`` gives full-corpus BM25 rows for a batch of queries."""

    retriever: Any
    n_docs: int

    @classmethod
    def build(cls, doc_texts: Sequence[str]) -> Bm25Index:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(bm25_tokenize(doc_texts), show_progress=False)
        return cls(retriever, len(doc_texts))

    def scores(self, query_tokens: Sequence[list[str]]) -> np.ndarray:
        vocab = self.retriever.vocab_dict
        out = np.zeros((len(query_tokens), self.n_docs), dtype=np.float32)
        for row, toks in enumerate(query_tokens):
            known = [t for t in toks if t in vocab]
            if known:
                out[row] = self.retriever.get_scores(known)
        return out


def bm25_topk(
    index: Bm25Index,
    query_texts: Sequence[str],
    k: int | Sequence[int],
    chunk_size: int | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """BM25 top-k (doc indices, scores) per query, positives included, zero-score docs left out."""
    toks = bm25_tokenize(query_texts)
    ks = np.full(len(toks), k, dtype=np.int64) if np.isscalar(k) else np.asarray(k, dtype=np.int64)
    step = _query_chunk(index.n_docs, chunk_size)
    out_idx: list[np.ndarray] = []
    out_scores: list[np.ndarray] = []
    for start in range(0, len(toks), step):
        block = index.scores(toks[start : start + step])
        i, s = _topk_rows(block, int(ks[start : start + step].max(initial=0)))
        for row, kk in enumerate(ks[start : start + step]):
            keep = s[row, :kk] > 0
            out_idx.append(i[row, :kk][keep])
            out_scores.append(s[row, :kk][keep])
    return out_idx, out_scores


# --- candidates ----------------------------------------------------------------------------------


def positives_by_query(qrels: Iterable[Qrel]) -> dict[str, set[str]]:
    """Labelled positives (relevance > 0) per query."""
    out: dict[str, set[str]] = {}
    for q in qrels:
        if q.relevance > 0:
            out.setdefault(q.query_id, set()).add(q.doc_id)
    return out


def _positive_rows(
    query_ids: Sequence[str], doc_pos: Mapping[str, int], positives: Mapping[str, Collection[str]]
) -> list[np.ndarray]:
    return [
        np.array(sorted(doc_pos[d] for d in positives.get(qid, ()) if d in doc_pos), dtype=np.int64)
        for qid in query_ids
    ]


def _candidate_frame(
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


def mine_dense(
    query_ids: Sequence[str],
    query_emb: np.ndarray,
    doc_ids: Sequence[str],
    doc_emb: np.ndarray,
    positives: Mapping[str, Collection[str]],
    top_k: int = 30,
    chunk_size: int | None = None,
    backend: Literal["numpy", "faiss"] = "numpy",
    index: Any = None,
) -> pd.DataFrame:
    """Dense candidates: each query's ``top_k`` best unlabelled docs by cosine, miner ``dense``."""
    doc_pos = {d: i for i, d in enumerate(doc_ids)}
    pos_rows = _positive_rows(query_ids, doc_pos, positives)
    ks = [top_k + len(p) for p in pos_rows]
    idx, sc = dense_topk(query_emb, doc_emb, ks, chunk_size=chunk_size, backend=backend, index=index)
    pos_scores = [
        np.asarray(doc_emb[p] @ query_emb[i], dtype=np.float32) for i, p in enumerate(pos_rows)
    ]
    return _candidate_frame("dense", query_ids, doc_ids, idx, sc, pos_rows, pos_scores, top_k)


def mine_bm25(
    query_ids: Sequence[str],
    query_texts: Sequence[str],
    doc_ids: Sequence[str],
    doc_texts: Sequence[str] | None = None,
    positives: Mapping[str, Collection[str]] | None = None,
    top_k: int = 30,
    index: Bm25Index | None = None,
) -> pd.DataFrame:
    """Lexical candidates: each query's ``top_k`` best unlabelled docs by BM25, miner ``bm25``."""
    positives = positives or {}
    if index is None:
        if doc_texts is None:
            raise ValueError("give doc_texts or a prebuilt index")
        index = Bm25Index.build(doc_texts)
    doc_pos = {d: i for i, d in enumerate(doc_ids)}
    pos_rows = _positive_rows(query_ids, doc_pos, positives)
    ks = [top_k + len(p) for p in pos_rows]
    idx, sc = bm25_topk(index, query_texts, ks)
    pos_scores = _bm25_positive_scores(index, query_texts, pos_rows)
    return _candidate_frame("bm25", query_ids, doc_ids, idx, sc, pos_rows, pos_scores, top_k)


def _bm25_positive_scores(
    index: Bm25Index, query_texts: Sequence[str], pos_rows: list[np.ndarray]
) -> list[np.ndarray]:
    out = [np.zeros(0, np.float32)] * len(query_texts)
    todo = [i for i, p in enumerate(pos_rows) if len(p)]
    toks = bm25_tokenize([query_texts[i] for i in todo]) if todo else []
    for i, t in zip(todo, toks):
        out[i] = index.scores([t])[0][pos_rows[i]]
    return out


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

    Embeddings go through :func:`core.models.encode_texts` and its cache; docs are embedded as
    :func:`core.models.doc_text` (title + text).
    """
    from core.models import doc_text, encode_texts

    positives = positives_by_query(qrels)
    qids = [q.query_id for q in queries]
    qtexts = [q.text for q in queries]
    dids = [d.doc_id for d in docs]
    dtexts = [doc_text(d.title, d.text) for d in docs]
    frames = []
    if "dense" in miners:
        kw = {"cache": cache, "batch_size": batch_size, "show_progress": show_progress}
        d_emb = encode_texts(model, dtexts, **kw)
        q_emb = encode_texts(model, qtexts, **kw)
        frames.append(mine_dense(qids, q_emb, dids, d_emb, positives, top_k))
    if "bm25" in miners:
        frames.append(mine_bm25(qids, qtexts, dids, dtexts, positives, top_k))
    unknown = set(miners) - {"dense", "bm25"}
    if unknown:
        raise ValueError(f"unknown miner(s) {sorted(unknown)}; expected dense, bm25")
    if not frames:
        return pd.DataFrame(columns=CANDIDATE_COLUMNS + EXTRA_COLUMNS)
    return pd.concat(frames, ignore_index=True)


# --- the mine_hard_negatives knobs, as a view ----------------------------------------------------


@dataclass(frozen=True)
class MiningConfig:
    """The knobs of ``sentence_transformers.util.mine_hard_negatives`` (same names, same defaults).

    Semantics follow its source (sentence-transformers 6.2), see :func:`mark_filters`. ``seed`` seeds
    ``random.Random`` for ``sampling_strategy="random"`` (ST uses the global ``random`` module, so
    ``random.seed(seed)`` before calling it reproduces our choice).
    """

    range_min: int = 0
    range_max: int | None = None
    num_negatives: int = 3
    max_score: float | None = None
    min_score: float | None = None
    absolute_margin: float | None = None
    relative_margin: float | None = None
    sampling_strategy: Literal["top", "random"] = "top"
    seed: int = 0

    def resolved_range_max(self, max_positives: int) -> int:
        """ST's default: range_min + num_negatives (x10 when a score filter is set) + max_positives."""
        if self.range_max is not None:
            return self.range_max
        filtering = any(
            v is not None for v in (self.absolute_margin, self.relative_margin, self.max_score)
        )
        return self.range_min + self.num_negatives * (10 if filtering else 1) + max_positives

    def validate(self, max_positives: int) -> None:
        """Reject what ST rejects, with its reasons."""
        rmax = self.resolved_range_max(max_positives)
        if self.num_negatives < 1:
            raise ValueError(f"num_negatives must be at least 1, got {self.num_negatives}")
        if self.range_min < 0:
            raise ValueError(f"range_min must be non-negative, got {self.range_min}")
        if self.range_min >= rmax:
            raise ValueError(
                f"range_min ({self.range_min}) must be smaller than range_max ({rmax})"
            )
        if self.num_negatives > rmax - self.range_min:
            raise ValueError(
                f"cannot keep {self.num_negatives} negatives from a window of {rmax - self.range_min}"
            )
        if self.sampling_strategy not in ("top", "random"):
            raise ValueError(
                f"sampling_strategy must be 'top' or 'random', not {self.sampling_strategy!r}"
            )


def _score_reason(score: float, pos_min: float, cfg: MiningConfig) -> str:
    """The first score filter (in ST's order) that rejects this candidate, or ''."""
    if not math.isnan(pos_min):
        if cfg.absolute_margin is not None and score + cfg.absolute_margin > pos_min:
            return "absolute_margin"
        if cfg.relative_margin is not None and score > pos_min - abs(pos_min) * cfg.relative_margin:
            return "relative_margin"
    if cfg.max_score is not None and score > cfg.max_score:
        return "max_score"
    if cfg.min_score is not None and score < cfg.min_score:
        return "min_score"
    return ""


def _select_group(
    g: pd.DataFrame, cfg: MiningConfig, window: int, rmax: int, rng: random.Random
) -> list[str]:
    """Reasons for one (miner, query) ranking, rows sorted by rank; '' means ST keeps it."""
    reasons = ["outside_window" if r > window else "" for r in g["rank"].tolist()]
    pos_min = float(g["pos_score_min"].iloc[0]) if "pos_score_min" in g else math.nan
    for i, s in enumerate(g["score"].tolist()):
        if not reasons[i]:
            reasons[i] = _score_reason(s, pos_min, cfg)
    survivors = [i for i, r in enumerate(reasons) if not r]
    for o, i in enumerate(survivors):
        if o < cfg.range_min:
            reasons[i] = "range_min"
        elif o >= rmax:
            reasons[i] = "range_max"
    pool = survivors[cfg.range_min : rmax]
    if cfg.sampling_strategy == "top":
        chosen = set(pool[: cfg.num_negatives])
    else:  # mirror ST: sample positions of a window padded with -inf slots, drop the padding
        options = max(len(pool), cfg.num_negatives)
        picks = rng.sample(range(options), k=cfg.num_negatives)
        chosen = {pool[p] for p in picks if p < len(pool)}
    for i in pool:
        if i not in chosen:
            reasons[i] = "not_sampled"
    return reasons


def _query_order(mdf: pd.DataFrame) -> list[str]:
    """Queries in order of first appearance, those with positives first (ST only sees those)."""
    first = mdf.drop_duplicates("query_id")
    if "n_positives" in first:
        first = pd.concat([first[first["n_positives"] > 0], first[first["n_positives"] <= 0]])
    return first["query_id"].tolist()


def mark_filters(
    df: pd.DataFrame, config: MiningConfig, max_positives: int | None = None
) -> pd.DataFrame:
    """A copy of ``df`` with ``passes_filters`` (bool) and ``filter_reason`` ('' when it passes).

    Reproduces ``mine_hard_negatives`` per (miner, query), queries in order of first appearance:
    1. window: ST retrieves the top ``range_max + max_positives`` docs of the full ranking (rank),
       ``max_positives`` being the largest positive count of any query (default: ``n_positives`` max);
    2. score filters, margins against the query's *minimum* positive score (``pos_score_min``):
       ``absolute_margin`` drops ``score + m > pos``; ``relative_margin`` drops
       ``score > pos - |pos| * m``; then ``max_score`` / ``min_score``;
    3. of the survivors in score order, the first ``range_min`` go, then all past ``range_max``;
    4. ``top`` keeps the first ``num_negatives``; ``random`` samples them (seeded).
    Rows must carry every candidate of the window for an exact match (mine ``top_k`` >= window).
    Reasons: outside_window, absolute_margin, relative_margin, max_score, min_score, range_min,
    range_max, not_sampled.
    """
    out = df.copy()
    if out.empty:
        out["passes_filters"] = pd.Series(dtype=bool)
        out["filter_reason"] = pd.Series(dtype=str)
        return out
    if max_positives is None:
        max_positives = int(out["n_positives"].max()) if "n_positives" in out else 0
    config.validate(max_positives)
    rmax = config.resolved_range_max(max_positives)
    window = rmax + max_positives
    reasons = pd.Series("", index=out.index, dtype=object)
    for miner, mdf in out.groupby("miner", sort=False):
        rng = random.Random(config.seed)
        mdf = mdf.sort_values(["rank"], kind="stable")
        groups = dict(list(mdf.groupby("query_id", sort=False)))
        for qid in _query_order(out.loc[out["miner"] == miner]):
            g = groups[qid]
            reasons.loc[g.index] = _select_group(g, config, window, rmax, rng)
    out["filter_reason"] = reasons.astype(str)
    out["passes_filters"] = out["filter_reason"] == ""
    return out


def apply_filters(
    df: pd.DataFrame, config: MiningConfig, max_positives: int | None = None
) -> pd.DataFrame:
    """The rows ``mine_hard_negatives`` would keep under ``config`` (a view; nothing is deleted)."""
    marked = mark_filters(df, config, max_positives)
    return marked[marked["passes_filters"]]


def drop_summary(marked: pd.DataFrame) -> pd.DataFrame:
    """Counts and shares of candidates per miner and reason, for reports ("ST would drop 85%")."""
    g = marked.groupby(["miner", "filter_reason"]).size().rename("n").reset_index()
    g["share"] = g["n"] / g.groupby("miner")["n"].transform("sum")
    g["filter_reason"] = g["filter_reason"].replace("", "kept")
    return g

"""Dense kNN with bounded memory for big corpora (supplied embeddings): faiss, exact or approximate.

Methods are registered by name (:data:`KNN_METHODS`), selectable as the dense miner's ``backend``:

* ``exact`` — ``faiss.IndexFlatIP`` over one chunk of docs at a time, queries searched in chunks,
  the per-chunk top-k merged: only ``doc_chunk`` float32 doc rows are copied at a time, so the
  doc matrix may be a memory map (float16 or float32) bigger than RAM.
* ``ivf``   — ``faiss.IndexIVFFlat`` (inner product) trained on a sample, filled chunk by chunk and
  searched with ``nprobe`` lists: approximate, so its recall@k against ``exact`` is measurable
  with :func:`recall_at_k` (the scale bench reports it).
* ``auto``  — ``exact`` up to ``exact_max_docs`` docs, ``ivf`` above (the pipeline's choice for
  supplied embeddings).

Scores returned are inner products of L2-normalised vectors (cosine). Ties at equal score go to
the lower doc index, as the numpy backend orders them, wherever the method returns them all.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from core.types import NegauditError

_TIE_EXTRA = 8  # a few hits past k so exact ties at the cut-off resolve by doc index


@dataclass(frozen=True)
class KnnConfig:
    """Knobs of the faiss methods; every size is a parameter so tests reach each path on small data."""

    exact_max_docs: int = 500_000  # ``auto``: exact search up to this many docs, IVF above
    doc_chunk: int = 250_000  # docs copied into one flat index at a time (exact)
    query_chunk: int = 4_096  # queries per search call
    nlist: int | None = None  # IVF lists; default ~ sqrt(n_docs)
    nprobe: int | None = None  # IVF lists searched per query; default nlist / 8 (at least 16)
    train_size: int | None = None  # IVF training sample; default 64 x nlist
    seed: int = 0

    @classmethod
    def from_env(cls) -> KnnConfig:
        """Defaults, with ``$NEGAUDIT_KNN_EXACT_MAX`` (docs searched exactly) and ``$NEGAUDIT_KNN_NPROBE``."""
        sizes = {"exact_max_docs": os.environ.get("NEGAUDIT_KNN_EXACT_MAX"),
                 "nprobe": os.environ.get("NEGAUDIT_KNN_NPROBE")}
        try:
            return cls(**{k: int(v) for k, v in sizes.items() if v})
        except ValueError:
            raise NegauditError(f"NEGAUDIT_KNN_EXACT_MAX / NEGAUDIT_KNN_NPROBE must be integers, "
                                f"got {sizes}") from None

    def ivf_lists(self, n_docs: int) -> int:
        return max(1, min(self.nlist or round(math.sqrt(n_docs)), n_docs))

    def ivf_probes(self, nlist: int) -> int:
        return max(1, min(nlist, self.nprobe or max(16, nlist // 8)))


KnnResult = tuple[np.ndarray, np.ndarray]  # (n_queries, k) doc indices int64, scores float32
KnnFn = Callable[[np.ndarray, Any, int, KnnConfig], KnnResult]
KNN_METHODS: dict[str, KnnFn] = {}


def register_knn(name: str) -> Callable[[KnnFn], KnnFn]:
    def deco(fn: KnnFn) -> KnnFn:
        KNN_METHODS[name] = fn
        return fn

    return deco


def _f32(x: Any) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def _best(scores: np.ndarray, idx: np.ndarray, k: int) -> KnnResult:
    """Row-wise top-k of (score, index) pairs: higher score first, then lower index; -1 pads last."""
    key = np.where(idx < 0, np.iinfo(np.int64).max, idx)
    s = np.where(idx < 0, -np.inf, scores)
    order = np.lexsort((key, -s), axis=1)[:, :k]
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(scores, order, axis=1)


@register_knn("exact")
def exact_knn(query_emb: np.ndarray, doc_emb: Any, k: int, cfg: KnnConfig = KnnConfig()) -> KnnResult:
    """Exact inner-product top-k, one doc chunk in a ``faiss.IndexFlatIP`` at a time (bounded memory)."""
    import faiss

    q = _f32(query_emb)
    n_docs = len(doc_emb)
    k = min(k, n_docs)
    kk = min(k + _TIE_EXTRA, n_docs)
    best_i = np.full((len(q), 0), -1, dtype=np.int64)
    best_s = np.zeros((len(q), 0), dtype=np.float32)
    for start in range(0, n_docs, cfg.doc_chunk):
        chunk = _f32(doc_emb[start : start + cfg.doc_chunk])
        index = faiss.IndexFlatIP(chunk.shape[1])
        index.add(chunk)
        del chunk
        ck = min(kk, index.ntotal)
        s = np.empty((len(q), ck), dtype=np.float32)
        i = np.empty((len(q), ck), dtype=np.int64)
        for qs in range(0, len(q), cfg.query_chunk):
            s[qs : qs + cfg.query_chunk], i[qs : qs + cfg.query_chunk] = index.search(
                q[qs : qs + cfg.query_chunk], ck)
        i = np.where(i >= 0, i + start, -1)
        best_i, best_s = _best(np.hstack([best_s, s]), np.hstack([best_i, i]), kk)
        del index
    return _best(best_s, best_i, k)


def ivf_index(doc_emb: Any, cfg: KnnConfig = KnnConfig()) -> Any:
    """An inner-product IVF index over the docs: trained on a random sample, filled chunk by chunk."""
    import faiss

    n_docs, dim = doc_emb.shape
    nlist = cfg.ivf_lists(n_docs)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    n_train = min(n_docs, cfg.train_size or 64 * nlist)
    rng = np.random.default_rng(cfg.seed)
    sample = np.sort(rng.choice(n_docs, n_train, replace=False))
    index.cp.seed = cfg.seed
    index.train(_f32(doc_emb[sample]))
    for start in range(0, n_docs, cfg.doc_chunk):
        index.add(_f32(doc_emb[start : start + cfg.doc_chunk]))
    index.nprobe = cfg.ivf_probes(nlist)
    return index


def search_index(index: Any, query_emb: np.ndarray, k: int, cfg: KnnConfig = KnnConfig()) -> KnnResult:
    """Search a built faiss index in query chunks; ties at equal score ordered by doc index."""
    q = _f32(query_emb)
    kk = min(k + _TIE_EXTRA, index.ntotal)
    s = np.empty((len(q), kk), dtype=np.float32)
    i = np.empty((len(q), kk), dtype=np.int64)
    for qs in range(0, len(q), cfg.query_chunk):
        s[qs : qs + cfg.query_chunk], i[qs : qs + cfg.query_chunk] = index.search(
            q[qs : qs + cfg.query_chunk], kk)
    return _best(s, i, min(k, index.ntotal))


@register_knn("ivf")
def ivf_knn(query_emb: np.ndarray, doc_emb: Any, k: int, cfg: KnnConfig = KnnConfig()) -> KnnResult:
    """Approximate top-k through an IVF index (fewer than k hits for a query are padded with -1)."""
    return search_index(ivf_index(doc_emb, cfg), query_emb, k, cfg)


@register_knn("auto")
def auto_knn(query_emb: np.ndarray, doc_emb: Any, k: int, cfg: KnnConfig = KnnConfig()) -> KnnResult:
    """Exact up to ``cfg.exact_max_docs`` docs, IVF above."""
    method = "exact" if len(doc_emb) <= cfg.exact_max_docs else "ivf"
    return KNN_METHODS[method](query_emb, doc_emb, k, cfg)


def knn_method(name: str) -> KnnFn:
    """A registered method, or one clear error naming the choices."""
    if name not in KNN_METHODS:
        raise NegauditError(f"unknown kNN method {name!r}; choose from {', '.join(KNN_METHODS)}")
    return KNN_METHODS[name]


def knn_topk(query_emb: np.ndarray, doc_emb: Any, ks: Sequence[int] | np.ndarray, method: str = "auto",
             cfg: KnnConfig | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-query top-``ks[i]`` (doc indices, scores), as :func:`core.mining.dense.dense_topk` returns."""
    fn = knn_method(method)
    ks = np.asarray(ks, dtype=np.int64)
    if len(ks) == 0:
        return [], []
    idx, sc = fn(query_emb, doc_emb, int(ks.max()), cfg or KnnConfig.from_env())
    out_i, out_s = [], []
    for row, kk in enumerate(ks.tolist()):
        keep = idx[row, :kk]
        valid = keep >= 0
        out_i.append(keep[valid])
        out_s.append(sc[row, :kk][valid])
    return out_i, out_s


def recall_at_k(approx: np.ndarray, exact: np.ndarray, k: int) -> float:
    """Mean share of each query's exact top-k that the approximate top-k found."""
    if len(exact) == 0:
        return float("nan")
    hits = [len(set(a[:k].tolist()) & set(e[:k].tolist()) - {-1}) / max(1, len(e[:k]))
            for a, e in zip(approx, exact)]
    return float(np.mean(hits))


def with_sizes(cfg: KnnConfig | None = None, **sizes: Any) -> KnnConfig:
    """A copy of ``cfg`` with some sizes changed (``None`` values keep the current ones)."""
    return replace(cfg or KnnConfig(), **{k: v for k, v in sizes.items() if v is not None})

"""Dense kNN with bounded memory for big corpora (supplied embeddings): faiss, exact or approximate.

Methods are registered by name (:data:`KNN_METHODS`), selectable as the dense miner's ``backend``:

* ``exact`` — ``faiss.IndexFlatIP`` over one chunk of docs at a time, queries searched in chunks,
  the per-chunk top-k merged: only ``doc_chunk`` float32 doc rows are copied at a time, so the
  doc matrix may be a memory map (float16 or float32) bigger than RAM.
* ``ivf``   — ``faiss.IndexIVFFlat`` (inner product) trained on a sample, filled chunk by chunk and
  searched with ``nprobe`` lists: approximate, so its recall@k against ``exact`` is measurable
  with :func:`recall_at_k` (the scale bench reports it).
* ``auto``  — ``exact`` up to ``exact_max_docs`` docs; above, an IVF index that checks itself
  (:func:`calibrated_knn`): its recall@k against exact search is measured on a sample of the
  queries, ``nprobe`` doubled until it reaches ``recall_target``, and exact search used instead when
  the IVF needed would be no faster (both costs estimated from the sample's timings). The pipeline's
  choice for supplied embeddings; what it chose and measured is written to a ``stats`` dict
  (:func:`knn_summary` turns it into the line the CLI prints).

Scores returned are inner products of L2-normalised vectors (cosine). Ties at equal score go to
the lower doc index, as the numpy backend orders them, wherever the method returns them all.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from core.types import NegauditError

_TIE_EXTRA = 8  # a few hits past k so exact ties at the cut-off resolve by doc index
log = logging.getLogger("negaudit.knn")


@dataclass(frozen=True)
class KnnConfig:
    """Knobs of the faiss methods; every size is a parameter so tests reach each path on small data."""

    exact_max_docs: int = 500_000  # ``auto``: exact search up to this many docs, IVF above
    doc_chunk: int = 250_000  # docs copied into one flat index at a time (exact)
    query_chunk: int = 4_096  # queries per search call
    nlist: int | None = None  # IVF lists; default ~ sqrt(n_docs)
    nprobe: int | None = None  # IVF lists searched per query (``ivf``: default nlist / 8, at least
    #                            16; ``auto``: the first count tried, default 16, doubled as needed)
    train_size: int | None = None  # IVF training sample; default 64 x nlist
    recall_target: float = 0.95  # ``auto``: sampled recall@k the IVF must reach (0: do not check)
    recall_sample: int = 300  # ``auto``: queries searched exactly to measure the IVF's recall
    probe_docs: int = 65_536  # ``auto``: docs one full query chunk is timed against (exact's cost)
    ivf_max_cost: float = 1.0  # ``auto``: IVF kept only while its estimated time < this x exact's
    seed: int = 0

    @classmethod
    def from_env(cls) -> KnnConfig:
        """Defaults, changed by ``$NEGAUDIT_KNN_EXACT_MAX`` (docs searched exactly), ``$NEGAUDIT_KNN_NPROBE``,
        ``$NEGAUDIT_KNN_RECALL`` (the recall target) and ``$NEGAUDIT_KNN_RECALL_SAMPLE``."""
        env = {"exact_max_docs": ("NEGAUDIT_KNN_EXACT_MAX", int), "nprobe": ("NEGAUDIT_KNN_NPROBE", int),
               "recall_target": ("NEGAUDIT_KNN_RECALL", float),
               "recall_sample": ("NEGAUDIT_KNN_RECALL_SAMPLE", int)}
        vals: dict[str, Any] = {}
        for field, (var, kind) in env.items():
            raw = os.environ.get(var)
            if not raw:
                continue
            try:
                vals[field] = kind(raw)
            except ValueError:
                raise NegauditError(f"{var} must be {'a number' if kind is float else 'an integer'}, "
                                    f"got {raw!r}") from None
            if vals[field] < 0 or (field == "recall_target" and vals[field] > 1):
                raise NegauditError(f"{var} must be {'in [0, 1]' if kind is float else '>= 0'}, got {raw!r}")
        return cls(**vals)

    def ivf_lists(self, n_docs: int) -> int:
        return max(1, min(self.nlist or round(math.sqrt(n_docs)), n_docs))

    def ivf_probes(self, nlist: int) -> int:
        return max(1, min(nlist, self.nprobe or max(16, nlist // 8)))

    def first_probes(self, nlist: int) -> int:
        """``auto`` starts low (fast) and doubles only while the measured recall is short."""
        return max(1, min(nlist, self.nprobe or 16))


KnnResult = tuple[np.ndarray, np.ndarray]  # (n_queries, k) doc indices int64, scores float32
KnnStats = dict[str, Any]  # what a method chose and measured (method, nprobe, recall, timings)
KnnFn = Callable[..., KnnResult]  # (query_emb, doc_emb, k, cfg, stats=None)
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
def exact_knn(query_emb: np.ndarray, doc_emb: Any, k: int, cfg: KnnConfig = KnnConfig(),
              stats: KnnStats | None = None) -> KnnResult:
    """Exact inner-product top-k, one doc chunk in a ``faiss.IndexFlatIP`` at a time (bounded memory).

    ``stats`` gets ``load_s`` (reading and copying doc chunks: paid once whatever the query count)
    and ``search_s`` (grows with the queries), so a sample's timing extrapolates to all queries.
    """
    import faiss

    load_s = search_s = 0.0
    q = _f32(query_emb)
    n_docs = len(doc_emb)
    k = min(k, n_docs)
    kk = min(k + _TIE_EXTRA, n_docs)
    best_i = np.full((len(q), 0), -1, dtype=np.int64)
    best_s = np.zeros((len(q), 0), dtype=np.float32)
    for start in range(0, n_docs, cfg.doc_chunk):
        t0 = time.perf_counter()
        chunk = _f32(doc_emb[start : start + cfg.doc_chunk])
        index = faiss.IndexFlatIP(chunk.shape[1])
        index.add(chunk)
        del chunk
        t1 = time.perf_counter()
        load_s += t1 - t0
        ck = min(kk, index.ntotal)
        s = np.empty((len(q), ck), dtype=np.float32)
        i = np.empty((len(q), ck), dtype=np.int64)
        for qs in range(0, len(q), cfg.query_chunk):
            s[qs : qs + cfg.query_chunk], i[qs : qs + cfg.query_chunk] = index.search(
                q[qs : qs + cfg.query_chunk], ck)
        i = np.where(i >= 0, i + start, -1)
        best_i, best_s = _best(np.hstack([best_s, s]), np.hstack([best_i, i]), kk)
        del index
        search_s += time.perf_counter() - t1
    if stats is not None:
        stats.update(load_s=load_s, search_s=search_s)
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
def ivf_knn(query_emb: np.ndarray, doc_emb: Any, k: int, cfg: KnnConfig = KnnConfig(),
            stats: KnnStats | None = None) -> KnnResult:
    """Approximate top-k through an IVF index at a fixed ``nprobe``, recall unchecked (fewer than k
    hits for a query are padded with -1)."""
    index = ivf_index(doc_emb, cfg)
    if stats is not None:
        stats.update(method="ivf", n_docs=len(doc_emb), k=k, nlist=index.nlist, nprobe=index.nprobe,
                     recall=None, reason="method ivf: fixed nprobe, recall not checked")
    return search_index(index, query_emb, k, cfg)


@register_knn("auto")
def auto_knn(query_emb: np.ndarray, doc_emb: Any, k: int, cfg: KnnConfig = KnnConfig(),
             stats: KnnStats | None = None) -> KnnResult:
    """Exact up to ``cfg.exact_max_docs`` docs; above, an IVF index whose recall is measured."""
    stats = {} if stats is None else stats
    if len(doc_emb) <= cfg.exact_max_docs:
        stats.update(method="exact", n_docs=len(doc_emb), k=k, recall=1.0,
                     reason=f"{len(doc_emb):,} docs <= exact_max_docs {cfg.exact_max_docs:,}")
        out = exact_knn(query_emb, doc_emb, k, cfg, stats)
    else:
        out = calibrated_knn(query_emb, doc_emb, k, cfg, stats)
    log.info(knn_summary(stats))
    return out


def calibrated_knn(query_emb: np.ndarray, doc_emb: Any, k: int, cfg: KnnConfig = KnnConfig(),
                   stats: KnnStats | None = None) -> KnnResult:
    """IVF with its recall measured on a query sample, or exact search where IVF cannot be trusted.

    Why: on structureless vectors a fixed ``nprobe`` silently finds a third of the true neighbours
    (docs/benchmarks.md). The sample is searched exactly over all docs (chunked, bounded memory);
    ``nprobe`` doubles from :meth:`KnnConfig.first_probes` until the sample's recall@k reaches
    ``cfg.recall_target``. Exact search wins when the IVF search at that ``nprobe``, extrapolated
    from its timing on the sample, is no faster than exact search extrapolated the same way; the
    sample's exact results are then reused.
    """
    stats = {} if stats is None else stats
    q = _f32(query_emb)
    n_q, n_docs = len(q), len(doc_emb)
    k = min(k, n_docs)
    stats.update(n_docs=n_docs, k=k, target=cfg.recall_target, tried=[])
    n_sample = min(cfg.recall_sample, n_q)
    if cfg.recall_target > 0 and n_sample >= n_q:
        stats.update(method="exact", recall=1.0, sample=n_q,
                     reason=f"{n_q:,} queries fit the recall sample: exact search costs no more")
        return exact_knn(q, doc_emb, k, cfg, stats)
    t0 = time.perf_counter()
    index = ivf_index(doc_emb, cfg)
    stats.update(nlist=index.nlist, build_s=time.perf_counter() - t0)
    if cfg.recall_target <= 0:
        index.nprobe = cfg.first_probes(index.nlist)
        stats.update(method="ivf", nprobe=index.nprobe, recall=None,
                     reason="recall target 0: IVF unchecked")
        return search_index(index, q, k, cfg)
    rows = recall_sample_rows(n_q, cfg)
    ex: KnnStats = {}
    ref_i, ref_s = exact_knn(q[rows], doc_emb, k, cfg, ex)
    exact_est = ex["load_s"] + exact_search_cost(q, doc_emb, k, cfg)
    stats.update(sample=n_sample, exact_sample_s=ex["load_s"] + ex["search_s"], exact_est_s=exact_est)
    nprobe, chosen = cfg.first_probes(index.nlist), None
    while True:
        index.nprobe = nprobe
        t1 = time.perf_counter()
        got, _ = search_index(index, q[rows], k, cfg)
        ivf_est = (time.perf_counter() - t1) * n_q / n_sample
        recall = recall_at_k(got, ref_i, k)
        stats["tried"].append({"nprobe": nprobe, "recall": recall, "est_s": ivf_est})
        if ivf_est >= cfg.ivf_max_cost * exact_est:
            why = (f"IVF at nprobe {nprobe} (recall {recall:.3f}) is no faster than exact search "
                   f"(est. {ivf_est:.1f} s vs {exact_est:.1f} s)")
            break
        if recall >= cfg.recall_target:
            chosen = nprobe
            break
        if nprobe >= index.nlist:
            why = f"every list probed and recall {recall:.3f} < {cfg.recall_target}"
            break
        nprobe = min(index.nlist, 2 * nprobe)
    if chosen is not None:
        stats.update(method="ivf", nprobe=chosen, recall=recall, ivf_est_s=ivf_est,
                     reason=f"sampled recall {recall:.3f} >= {cfg.recall_target}")
        t1 = time.perf_counter()
        out = search_index(index, q, k, cfg)
        stats["search_s"] = time.perf_counter() - t1
        return out
    del index  # exact search next: free the IVF copy of the vectors first
    stats.update(method="exact", nprobe=None, recall=1.0, reason=why)
    rest = np.setdiff1d(np.arange(n_q), rows)
    out_i = np.full((n_q, k), -1, dtype=np.int64)
    out_s = np.zeros((n_q, k), dtype=np.float32)
    out_i[rows], out_s[rows] = ref_i, ref_s
    if len(rest):
        ex_rest: KnnStats = {}
        out_i[rest], out_s[rest] = exact_knn(q[rest], doc_emb, k, cfg, ex_rest)
        stats["search_s"] = ex_rest["load_s"] + ex_rest["search_s"]
    return out_i, out_s


def recall_sample_rows(n_queries: int, cfg: KnnConfig) -> np.ndarray:
    """The query rows ``auto`` measures recall on (seeded: a test can check the reported figure)."""
    n = min(cfg.recall_sample, n_queries)
    return np.sort(np.random.default_rng(cfg.seed).choice(n_queries, n, replace=False))


def exact_search_cost(q: np.ndarray, doc_emb: Any, k: int, cfg: KnnConfig) -> float:
    """Seconds exact search of all ``q`` should take, reading excluded: one full query chunk timed
    against ``cfg.probe_docs`` docs, scaled. Why not the recall sample's own time: BLAS runs a few
    hundred queries several times less efficiently per query than a 4,096-query chunk."""
    import faiss

    nb, nd = min(len(q), cfg.query_chunk), min(len(doc_emb), cfg.probe_docs)
    index = faiss.IndexFlatIP(q.shape[1])
    index.add(_f32(doc_emb[:nd]))
    t0 = time.perf_counter()
    index.search(q[:nb], min(k + _TIE_EXTRA, nd))
    return (time.perf_counter() - t0) * (len(q) / nb) * (len(doc_emb) / nd)


def knn_summary(stats: KnnStats) -> str:
    """One line saying which method mined, with which nprobe, at what measured recall, and why."""
    if not stats:
        return "dense kNN: no stats"
    head = f"dense kNN over {stats.get('n_docs', 0):,} docs: {stats.get('method')}"
    if stats.get("method") == "ivf":
        head += f" ({stats.get('nlist')} lists, nprobe {stats.get('nprobe')})"
    tried = stats.get("tried") or []
    if tried:
        best = tried[-1]
        head += (f"; IVF recall@{stats.get('k')} vs exact on {stats.get('sample')} sampled queries: "
                 + ", ".join(f"{t['recall']:.3f} at nprobe {t['nprobe']}" for t in tried))
        if stats.get("method") == "ivf":
            head += f"; est. {stats['exact_est_s'] / max(best['est_s'], 1e-9):.1f}x faster than exact"
    elif stats.get("recall") is None:
        head += "; recall NOT measured"
    return f"{head} ({stats.get('reason')})"


def knn_method(name: str) -> KnnFn:
    """A registered method, or one clear error naming the choices."""
    if name not in KNN_METHODS:
        raise NegauditError(f"unknown kNN method {name!r}; choose from {', '.join(KNN_METHODS)}")
    return KNN_METHODS[name]


def knn_topk(query_emb: np.ndarray, doc_emb: Any, ks: Sequence[int] | np.ndarray, method: str = "auto",
             cfg: KnnConfig | None = None, stats: KnnStats | None = None,
             ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-query top-``ks[i]`` (doc indices, scores), as :func:`core.mining.dense.dense_topk` returns;
    ``stats`` (a dict) receives what the method chose and measured."""
    fn = knn_method(method)
    ks = np.asarray(ks, dtype=np.int64)
    if len(ks) == 0:
        return [], []
    idx, sc = fn(query_emb, doc_emb, int(ks.max()), cfg or KnnConfig.from_env(), stats)
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

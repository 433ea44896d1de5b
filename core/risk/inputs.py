"""What the risk scorer sees: arrays only (embeddings, sparsified labels, a BM25 callable), never a model or SQL.

:func:`pair_arrays` turns (query, doc) pairs into the raw per-pair numbers every signal is built from.
It walks queries in blocks, so only a ``query_block x n_docs`` block of dense and BM25 scores is alive at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.mining.candidates import top_sets
from core.mining.knn import KnnConfig, knn_method
from core.mining.lsa import LsaSpace

BLOCK_CELLS = 2**25  # numbers per (queries x corpus) array at most (268 MB as float64) once a corpus passes 131k docs
Bm25Rows = Callable[[Sequence[int]], np.ndarray]  # query row indices -> (n, n_docs) BM25 scores
# (query row indices, feedback doc rows per query) -> (n, n_docs) BM25 of the expanded queries (RM3)
FeedbackRows = Callable[[Sequence[int], Sequence[np.ndarray]], np.ndarray]
# (query rows, doc rows) -> late-interaction MaxSim of each pair (core/encoders/late.py)
LatePairs = Callable[[np.ndarray, np.ndarray], np.ndarray]
# (query rows, doc rows (n, k)) -> (n, k) idf-weighted share of the query's terms in each doc (core/mining/bm25.py)
CoverageRows = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class RiskInputs:
    """Everything the scorer may use. ``positives`` must already be the *sparsified* labels.

    Attributes:
        query_ids / query_emb: queries and their L2-normalised embeddings (row-aligned).
        doc_ids / doc_emb: the whole corpus and its L2-normalised embeddings.
        positives: labelled positive doc ids per query (relevance > 0) — the labels the scorer may see.
        bm25: full-corpus BM25 rows for a batch of query row indices; ``None`` disables lexical signals.
        bm25_feedback: the same for queries expanded with given feedback docs (core/mining/feedback.py);
            ``None``: candidates are scored with the plain query's lexical signals.
        late: token-level MaxSim of query and doc: static word pieces (core/encoders/static_late.py, the
            product's default) or contextual tokens (core/encoders/late.py, opt-in: a second model pass);
            ``None``: the ``late_maxsim`` signal is 0, so the combiner leaves it out.
        coverage: the idf-weighted share of a query's terms a doc contains (core/mining/bm25.py); averaged
            over the query's top docs, a query-level signal; ``None``: that signal is 0.
        lsa: the queries and docs in the corpus' latent semantic space (core/mining/lsa.py): the query moved
            toward its labelled positives' topic there gives the ``lsa_feedback`` signal when ranking;
            ``None``: that signal is 0 and the view fuses no such term.
        topic: per query row, 1.0 where the query names a topic and 0.0 where it reads as a sentence
            (core/mining/bm25.py ``topic_queries``): the view fuses its query-level term for topic queries only
            (core/risk/select.py); ``None``: every query counts as one (the term applies to all).
        pu_sample: unlabelled docs drawn uniformly from the corpus per query for PU learning.
        graph_k: neighbours per doc in the doc-doc similarity graph (the graph signals weigh them by rank,
            :func:`graph_weights`).
        chunk: queries per block of full-corpus rows (fewer on a big corpus, see ``query_block``).
        top_k: how deep the candidates were mined (the depth where a view is judged, see core/risk/views.py).
        region_depth: each query's dense top docs that local PU learning contrasts (core/risk/region.py).
    """

    query_ids: Sequence[str]
    query_emb: np.ndarray
    doc_ids: Sequence[str]
    doc_emb: np.ndarray
    positives: Mapping[str, Collection[str]]
    bm25: Bm25Rows | None = None
    bm25_feedback: FeedbackRows | None = None
    late: LatePairs | None = None
    coverage: CoverageRows | None = None
    lsa: LsaSpace | None = None
    topic: np.ndarray | None = None
    seed: int = 0
    pu_sample: int = 300
    graph_k: int = 10
    chunk: int = 256
    top_k: int = 30
    region_depth: int = 100
    _qpos: dict[str, int] = field(default_factory=dict, repr=False)
    _dpos: dict[str, int] = field(default_factory=dict, repr=False)
    # (signal, query row) -> its query-level mean; not an init field, so ``dataclasses.replace`` starts afresh
    _query_mean: dict[tuple[str, int], float] = field(default_factory=dict, init=False, repr=False, compare=False)
    # doc row -> its graph neighbours, filled as pair_arrays asks (row -1: not computed yet); not an init field
    _nbr: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.query_emb = np.asarray(self.query_emb, dtype=np.float32)
        self.doc_emb = np.asarray(self.doc_emb, dtype=np.float32)
        self._qpos = {q: i for i, q in enumerate(self.query_ids)}
        self._dpos = {d: i for i, d in enumerate(self.doc_ids)}

    @property
    def query_block(self) -> int:
        """Queries per ``block x corpus`` array: ``chunk``, fewer on a big corpus so that each such array (dense,
        BM25, their z-scores, the RM3 rows: several alive at once) stays near ``BLOCK_CELLS`` numbers."""
        return max(1, min(self.chunk, BLOCK_CELLS // max(1, len(self.doc_ids))))

    def neighbours(self, rows: np.ndarray) -> np.ndarray:
        """:func:`doc_neighbours` of ``rows``, each doc's computed once: training, view choice and scoring ask
        for overlapping docs (on a big corpus the uniform training sample alone reaches most of it)."""
        k = max(0, min(self.graph_k, len(self.doc_ids) - 1))
        if self._nbr is None:
            self._nbr = np.full((len(self.doc_ids), k), -1, dtype=np.int64)
        rows = np.asarray(rows, np.int64)
        if k:
            need = np.unique(rows[self._nbr[rows, 0] < 0])
            if len(need):
                self._nbr[need] = doc_neighbours(self.doc_emb, need, k)
        return self._nbr[rows]

    def qrow(self, ids: Sequence[str]) -> np.ndarray:
        return np.fromiter((self._qpos[q] for q in ids), dtype=np.int64, count=len(ids))

    def drow(self, ids: Sequence[str]) -> np.ndarray:
        return np.fromiter((self._dpos[d] for d in ids), dtype=np.int64, count=len(ids))

    def positive_rows(self) -> list[np.ndarray]:
        """Doc row indices of each query's labelled positives (unknown doc ids are ignored)."""
        return [
            np.array(sorted(self._dpos[d] for d in self.positives.get(q, ()) if d in self._dpos), np.int64)
            for q in self.query_ids
        ]


def _safe(a: np.ndarray) -> np.ndarray:
    return np.where(a > 0, a, 1.0)


def doc_neighbours(doc_emb: np.ndarray, rows: np.ndarray, k: int, cfg: KnnConfig | None = None) -> np.ndarray:
    """The k most similar other docs of each doc in ``rows`` (cluster hypothesis: relevant docs flock).

    faiss top-(k + 1) over the corpus, the doc itself dropped (core/mining/knn.py ``auto``: exact search up to
    its size bound, a self-checked IVF index above it), so the graph costs what dense mining of these docs
    would, not a dense ``rows x corpus`` sort. Ties go to the lower doc index.
    """
    k = min(k, len(doc_emb) - 1)
    rows = np.asarray(rows, np.int64)
    if k <= 0 or not len(rows):
        return np.zeros((len(rows), max(k, 0)), dtype=np.int64)
    cfg = cfg or KnnConfig.from_env()
    idx = _without_self(knn_method("auto")(doc_emb[rows], doc_emb, k + 1, cfg, None)[0], rows, k)
    short = np.flatnonzero((idx < 0).any(1))  # an IVF probe that left slots empty: search those exactly
    if len(short):
        idx[short] = _without_self(knn_method("exact")(doc_emb[rows[short]], doc_emb, k + 1, cfg, None)[0],
                                   rows[short], k)
    return idx


def _without_self(idx: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` hits of each row that are neither the doc itself nor an empty slot (-1 where too few)."""
    drop = (idx == rows[:, None]) | (idx < 0)
    order = np.argsort(drop, axis=1, kind="stable")[:, :k]
    return np.where(np.take_along_axis(drop, order, axis=1), -1, np.take_along_axis(idx, order, axis=1))


def graph_weights(k: int) -> np.ndarray:
    """Weights of a doc's ``k`` nearest docs (nearest first) in every graph signal's mean: linear in the rank,
    ``k + 1 - r`` for the r-th, summing to 1. The nearest docs say most about a doc's neighbourhood: against the
    plain mean over 10, 41 of 43 bench runs gained (mean +0.006 AP; SciFact train s1 -0.010, NFCorpus at 64 s3
    -0.005; NFCorpus keyword P@100 0.01-0.04 lower), and no single cut-off won everywhere (3 on `vid-desc`, 7-10 on
    NFCorpus, 5 or 10 on SciFact; docs/benchmarks.md, session 22)."""
    w = np.arange(k, 0, -1, dtype=np.float64)
    return w / w.sum() if k else w


def graph_mean(values: np.ndarray) -> np.ndarray:
    """Per row, the :func:`graph_weights` mean of its neighbours' values (``values``: rows x k, nearest first)."""
    return values @ graph_weights(values.shape[1])


def _runs(keys: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of equal consecutive ``keys`` (grouped keys: one run per group)."""
    if not len(keys):
        return []
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]).tolist()
    return list(zip(starts, [*starts[1:], len(keys)]))


def _ranks(scores: np.ndarray, local: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """1-based rank of each doc in its query's full-corpus ranking (ties share the best rank).

    Counts the corpus scores above each value: only the part of a query's row at or above its lowest asked-for
    value is sorted (candidates sit near the top), not the whole row of every query.
    """
    vals = scores[local, docs]
    out = np.empty(len(local), np.float64)
    order = np.argsort(local, kind="stable")
    for a, b in _runs(local[order]):
        rr = order[a:b]
        row, v = scores[local[rr[0]]], vals[rr]
        top = np.sort(row[row >= v.min()])
        out[rr] = len(top) - np.searchsorted(top, v, side="right") + 1
    return out


QUERY_MEANS = ("coverage_query_mean", "late_query_mean")  # the query-level arrays of pair_arrays (and signals)


def _query_means(inputs: RiskInputs, qs: np.ndarray, S: np.ndarray) -> dict[str, np.ndarray]:
    """Per query row in ``qs``, over its dense top ``top_k`` docs of the corpus (``S``: the queries' dense
    scores over it): the mean late MaxSim and the mean term coverage, where ``inputs`` has them.

    Query-level and label-free (the top docs, labelled or not): how much of the query the docs a miner would
    return answer. On NFCorpus such queries hold more relevant docs (docs/benchmarks.md, session 6).
    Cached on ``inputs``: training, view choice and scoring ask for the same queries.
    """
    sources = {"late_query_mean": inputs.late, "coverage_query_mean": inputs.coverage}
    sources = {k: f for k, f in sources.items() if f is not None}
    need = [i for i, qi in enumerate(qs.tolist()) if any((k, qi) not in inputs._query_mean for k in sources)]
    if need:
        k = max(1, min(inputs.top_k, S.shape[1]))
        top = top_sets(S[need], k)
        for name, f in sources.items():
            if name == "late_query_mean":
                vals = np.asarray(f(np.repeat(qs[need], k), top.ravel()), np.float64).reshape(len(need), k)
            else:
                vals = np.asarray(f(qs[need], top), np.float64)
            inputs._query_mean.update(zip(((name, qi) for qi in qs[need].tolist()), vals.mean(1).tolist()))
    return {name: np.array([inputs._query_mean[(name, qi)] for qi in qs.tolist()], np.float64) for name in sources}


DENSE_NQC = "dense_nqc"  # a query-level array of pair_arrays (and a signal): label-free


def _dense_nqc(inputs: RiskInputs, qs: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Per query row in ``qs``: the standard deviation of its dense top ``top_k`` docs' z-scores over the corpus
    (``S``: the queries' dense scores over it) — how far the retriever commits to some of its top docs over
    the others.

    Query-level and label-free: NQC, a query-performance predictor (Shtok et al., TOIS 2012), with the corpus
    sd in place of the corpus score. Queries whose top docs spread more held more false negatives among them
    on NFCorpus asked in sentences (docs/benchmarks.md, session 19). Cached on ``inputs``.
    """
    def nqc(need: list[int]) -> np.ndarray:
        k = max(2, min(inputs.top_k, S.shape[1]))
        rows = S[need]  # a copy in S's dtype (float32), partitioned in place
        sd = rows.std(1, dtype=np.float64)
        rows.partition(rows.shape[1] - k, axis=1)
        top = rows[:, rows.shape[1] - k :].astype(np.float64)
        return np.where(sd > 0, top.std(1) / np.where(sd > 0, sd, 1.0), 0.0)

    return _per_query(inputs, DENSE_NQC, qs, nqc)


def _per_query(inputs: RiskInputs, name: str, qs: np.ndarray,
               compute: Callable[[list[int]], np.ndarray]) -> np.ndarray:
    """Per query row in ``qs``: the query-level value ``name`` from the cache on ``inputs``; ``compute(need)``
    gives it (one per position in ``need``, positions in ``qs``) for the queries not cached yet."""
    need = [i for i, qi in enumerate(qs.tolist()) if (name, qi) not in inputs._query_mean]
    if need:
        vals = np.asarray(compute(need), np.float64).tolist()
        inputs._query_mean.update(zip(((name, qi) for qi in qs[need].tolist()), vals))
    return np.array([inputs._query_mean[(name, qi)] for qi in qs.tolist()], np.float64)


POSITIVE_MEAN = "pos_query_mean"  # a query-level array of pair_arrays (and a signal), read from the sparse labels


def _positive_means(inputs: RiskInputs, qs: np.ndarray, S: np.ndarray, pos_rows: list[np.ndarray]) -> np.ndarray:
    """Per query row in ``qs``: the mean cosine of its dense top ``top_k`` *unlabelled* docs (``S``: the
    queries' dense scores over the corpus) to their nearest labelled positive of the query; 0 without one.

    Query-level: whether what a miner returns for the query is about what its labelled positive is about. A
    sentence query whose top docs sit far from its positive holds fewer false negatives among them (NFCorpus
    asked in sentences, SciFact train: Spearman +0.09 to +0.60 with the count; docs/benchmarks.md, session 17).
    The positive is never compared with itself: its own row is left out of the top docs. Cached on ``inputs``.
    """
    def means(need: list[int]) -> np.ndarray:
        k = max(1, min(inputs.top_k, S.shape[1] - 1))
        rows = np.array(S[need])  # a copy in S's dtype (float32): the positives' own columns go to -inf
        for j, i in enumerate(need):
            rows[j, pos_rows[int(qs[i])]] = -np.inf
        top = top_sets(rows, k)
        D = inputs.doc_emb
        out = np.zeros(len(need))
        for j, i in enumerate(need):
            p = pos_rows[int(qs[i])]
            if len(p):
                out[j] = (D[top[j]] @ D[p].T).max(1).mean()
        return out

    return _per_query(inputs, POSITIVE_MEAN, qs, means)


def _label_index(inputs: RiskInputs, pos_rows: list[np.ndarray]) -> dict[int, np.ndarray]:
    """Doc row -> query rows that label it relevant (for the neighbour-query signal)."""
    inv: dict[int, list[int]] = {}
    for qi, rows in enumerate(pos_rows):
        for d in rows.tolist():
            inv.setdefault(d, []).append(qi)
    return {d: np.array(v, np.int64) for d, v in inv.items()}


FEEDBACK_KEYS = {"bm25": "fb_bm25", "bm25_max": "fb_bm25_max", "bm25_mean": "fb_bm25_mean",
                 "bm25_std": "fb_bm25_std", "graph_bm25": "fb_graph_bm25"}
DENSE_FEEDBACK_KEYS = {"dense": "fb_dense", "dense_mean": "fb_dense_mean", "dense_std": "fb_dense_std",
                       "graph_dense": "fb_graph_dense"}
# Rocchio: the query vector moved this far toward the mean of its labelled positives' (unit) vectors. 0.25 and
# 0.5 were measured over 22 bench runs (NFCorpus keyword, sentence and half-title forms, 35-323 queries, SciFact
# train): 0.25 lifted AP on 19 and lost at most 0.010; 0.5 gained more on sentence queries but lost up to 0.035
# on the half-title one (docs/benchmarks.md, session 18).
DENSE_FEEDBACK_WEIGHT = 0.25
# The same move in the corpus' latent semantic space (core/mining/lsa.py), half way: over 22 screened runs
# 0.5 ranked the hidden false negatives better than 0 or 0.25 (the query alone) and than 0.75 or 1 (the
# positives alone) once fused (docs/benchmarks.md, session 21).
LSA_FEEDBACK_WEIGHT = 0.5
LSA_FEEDBACK = "lsa_fb"  # the pair_arrays key (with ``feedback``) the ``lsa_feedback`` signal reads
LSA_GRAPH = "lsa_graph"  # ... and the one the ``graph_lsa`` signal reads (the doc's nearest docs, averaged)


def _feedback_keys(rows: np.ndarray, q: np.ndarray, d: np.ndarray,
                   pos_rows: list[np.ndarray]) -> tuple[list[tuple[int, tuple[int, ...]]], np.ndarray]:
    """The distinct (query, feedback docs) pairs of ``rows`` and each row's pair: a query's labelled positives,
    its own doc left out (leave-one-out), so no doc is ever scored by its own text or vector."""
    keys: list[tuple[int, tuple[int, ...]]] = []
    of_row: list[int] = []
    index: dict[tuple[int, tuple[int, ...]], int] = {}
    for r in rows.tolist():
        p = pos_rows[int(q[r])]
        key = (int(q[r]), tuple(int(x) for x in p[p != d[r]]))
        if key not in index:
            index[key] = len(keys)
            keys.append(key)
        of_row.append(index[key])
    return keys, np.array(of_row, np.int64)


def _rocchio(Q: np.ndarray, D: np.ndarray, keys: list[tuple[int, tuple[int, ...]]], weight: float) -> np.ndarray:
    """Each key's (query row, feedback doc rows) query vector, unit length, moved ``weight`` toward the normalised
    mean of its feedback docs' vectors and renormalised: ``(1 - w) q + w c`` (Rocchio); unmoved without feedback
    docs, where a zero query (none of its words in the space) stays zero."""
    V = np.array(Q[[key[0] for key in keys]], dtype=np.float64)
    V /= _safe(np.linalg.norm(V, axis=1))[:, None]
    for i, (_, fb) in enumerate(keys):
        if fb:
            c = np.asarray(D[list(fb)], np.float64).mean(0)
            v = (1 - weight) * V[i] + weight * c / max(float(np.linalg.norm(c)), 1e-12)
            V[i] = v / max(float(np.linalg.norm(v)), 1e-12)
    return V


def _feedback(inputs: RiskInputs, rows: np.ndarray, q: np.ndarray, d: np.ndarray,
              nbr: np.ndarray, pos_rows: list[np.ndarray], out: dict[str, np.ndarray]) -> None:
    """The lexical arrays again, for each query expanded with its labelled positives' terms (RM3).

    Leave-one-out: a labelled positive's own terms never expand its own row's query (with no other
    positive the query stays as it is), so no doc is scored by its own words.
    """
    keys, k = _feedback_keys(rows, q, d, pos_rows)
    R = np.asarray(inputs.bm25_feedback([k[0] for k in keys], [np.array(k[1], np.int64) for k in keys]), np.float64)
    _fill(out, "fb_bm25", "fb_graph_bm25", R, k, rows, d, nbr)
    out["fb_bm25_max"][rows] = R.max(1)[k]


def _dense_feedback(inputs: RiskInputs, rows: np.ndarray, q: np.ndarray, d: np.ndarray,
                    nbr: np.ndarray, pos_rows: list[np.ndarray], out: dict[str, np.ndarray]) -> None:
    """The dense arrays again, for each query vector moved toward its labelled positives (Rocchio):
    ``(1 - w) q + w c``, renormalised, with ``c`` the normalised mean of the positives' vectors and
    ``w = DENSE_FEEDBACK_WEIGHT``. Leave-one-out as the lexical feedback: a lone positive sees the plain query.
    """
    keys, k = _feedback_keys(rows, q, d, pos_rows)
    D = inputs.doc_emb
    V = _rocchio(inputs.query_emb, D, keys, DENSE_FEEDBACK_WEIGHT)
    S = V.astype(D.dtype) @ D.T  # in the corpus' dtype, as the plain query's block: no float64 copy of D
    _fill(out, "fb_dense", "fb_graph_dense", S, k, rows, d, nbr)


def _lsa_feedback(inputs: RiskInputs, rows: np.ndarray, q: np.ndarray, d: np.ndarray, S: np.ndarray,
                  qs: np.ndarray, pos_rows: list[np.ndarray], nbr: np.ndarray, out: dict[str, np.ndarray]) -> None:
    """How close each row's doc is to its query's labelled positives' topic in the corpus' latent semantic
    space, against the query's own top docs: the query's LSA vector moved ``LSA_FEEDBACK_WEIGHT`` toward the
    normalised mean of its positives' (Rocchio, leave-one-out as the dense feedback), its cosine z-scored over
    the corpus, then standardised by the mean and sd of those z-scores over the query's dense top ``top_k`` docs
    (``S``: the block's plain dense scores, row ``i`` for query ``qs[i]``).

    Standardised against the query's own top docs, not over all rows, so it orders docs within a query and
    leaves each query's level to the other terms; label-free except for the positives it moves toward. Also the
    rank-weighted mean (:func:`graph_mean`) of the same value over the doc's nearest docs (``nbr``, the dense doc
    graph), as ``graph_dense`` is to ``dense_z``: a doc whose neighbourhood sits on the positives' topic.
    """
    lsa = inputs.lsa
    keys, k = _feedback_keys(rows, q, d, pos_rows)
    L = _rocchio(lsa.query, lsa.doc, keys, LSA_FEEDBACK_WEIGHT).astype(lsa.doc.dtype) @ lsa.doc.T
    mu, sd = L.mean(1, dtype=np.float64), _safe(L.std(1, dtype=np.float64))
    top = top_sets(S[np.searchsorted(qs, [key[0] for key in keys])], max(1, min(inputs.top_k, S.shape[1])))
    T = (np.take_along_axis(L, top, 1) - mu[:, None]) / sd[:, None]
    tm, ts = T.mean(1)[k], T.std(1)[k]

    def against_top(z: np.ndarray) -> np.ndarray:  # 0 where the query's top docs all sit alike
        return np.where(ts > 0, (z - tm) / np.where(ts > 0, ts, 1.0), 0.0)

    out[LSA_FEEDBACK][rows] = against_top((L[k, d[rows]] - mu[k]) / sd[k])
    if nbr.shape[1]:  # the same for the doc's nearest docs (the doc graph), averaged: ``graph_lsa``
        out[LSA_GRAPH][rows] = against_top(graph_mean((L[k[:, None], nbr[rows]] - mu[k, None]) / sd[k, None]))


def _fill(out: dict[str, np.ndarray], value: str, graph: str, S: np.ndarray, k: np.ndarray, rows: np.ndarray,
          d: np.ndarray, nbr: np.ndarray) -> None:
    """From a block of full-corpus score rows ``S`` (``k``: each of ``rows``' row in it): the row's value for its
    doc, the row's corpus mean and sd, and the mean z-score of the doc's neighbours. The plain query's dense and
    BM25 blocks and both feedback blocks; no z-scored copy of the block is made."""
    mu, sd = S.mean(1), _safe(S.std(1))
    out[value][rows] = S[k, d[rows]]
    out[value + "_mean"][rows], out[value + "_std"][rows] = mu[k], sd[k]
    if nbr.shape[1]:
        out[graph][rows] = graph_mean((S[k[:, None], nbr[rows]] - mu[k, None]) / sd[k, None])


def with_feedback(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays with the lexical and dense ones of the feedback-expanded queries in place of the plain query's.

    What the scorer feeds its *trained* model when scoring (core/risk/score.py): the model learns on the
    plain query (a labelled positive cannot expand its own query), and ranks the candidates with the
    query their labelled positives expand. Unchanged when no feedback arrays were computed.
    """
    swap = {k: v for keys in (FEEDBACK_KEYS, DENSE_FEEDBACK_KEYS) for k, v in keys.items() if v in a}
    return {**a, **{k: a[v] for k, v in swap.items()}} if swap else a


def pair_arrays(inputs: RiskInputs, q: np.ndarray, d: np.ndarray, ranks: bool = False,
                feedback: bool = False) -> dict[str, np.ndarray]:
    """Raw per-pair numbers (dense, BM25, corpus statistics, graph and label neighbours) for rows (q[i], d[i]).

    ``feedback``: also the ``fb_*`` dense arrays of the queries moved toward their labelled positives,
    with ``inputs.bm25_feedback`` the lexical ones of the RM3-expanded queries, and with ``inputs.lsa`` the
    ``lsa_fb`` closeness to the positives' topic in the corpus' latent semantic space (``lsa_graph``: of the
    doc's nearest docs).

    Per-query statistics are over the whole corpus, so the same feature means the same thing for a mined
    candidate and for a uniformly sampled doc (what positive-unlabelled learning needs).
    """
    n = len(q)
    keys = ["dense", "dense_mean", "dense_std", "bm25", "bm25_max", "bm25_mean", "bm25_std",
            "graph_dense", "graph_bm25", "neighbour_label", "pos_score", "pos_sim", "dense_rank", "bm25_rank",
            "late_maxsim", *QUERY_MEANS, POSITIVE_MEAN, DENSE_NQC]
    lexical = feedback and inputs.bm25 is not None and inputs.bm25_feedback is not None
    keys += list(FEEDBACK_KEYS.values()) if lexical else []
    keys += list(DENSE_FEEDBACK_KEYS.values()) if feedback else []
    lsa = feedback and inputs.lsa is not None
    keys += [LSA_FEEDBACK, LSA_GRAPH] if lsa else []
    out = {k: np.zeros(n, np.float64) for k in keys}
    out["topic_query"] = np.ones(n) if inputs.topic is None else np.asarray(inputs.topic, np.float64)[q]
    Q, D = inputs.query_emb, inputs.doc_emb
    if n and inputs.late is not None:
        out["late_maxsim"] = np.asarray(inputs.late(q, d), np.float64)
    pos_rows = inputs.positive_rows()
    inv = _label_index(inputs, pos_rows)
    udocs, dinv = np.unique(d, return_inverse=True)
    nbr = inputs.neighbours(udocs)[dinv]  # (n, k)
    order = np.argsort(q, kind="stable")
    qsorted = q[order]
    uq = np.unique(q)
    for s in range(0, len(uq), inputs.query_block):
        qs = uq[s : s + inputs.query_block]
        lo = np.searchsorted(qsorted, qs[0], side="left")
        rows = order[lo : np.searchsorted(qsorted, qs[-1], side="right")]
        local = np.searchsorted(qs, q[rows])
        S = Q[qs] @ D.T
        _fill(out, "dense", "graph_dense", S, local, rows, d, nbr)
        if ranks:
            out["dense_rank"][rows] = _ranks(S, local, d[rows])
        for name, v in _query_means(inputs, qs, S).items():
            out[name][rows] = v[local]
        out[POSITIVE_MEAN][rows] = _positive_means(inputs, qs, S, pos_rows)[local]
        out[DENSE_NQC][rows] = _dense_nqc(inputs, qs, S)[local]
        if inputs.bm25 is not None:
            B = np.asarray(inputs.bm25(qs.tolist()), dtype=np.float64)
            _fill(out, "bm25", "graph_bm25", B, local, rows, d, nbr)
            out["bm25_max"][rows] = B.max(1)[local]
            if ranks:
                br = _ranks(B, local, d[rows])
                out["bm25_rank"][rows] = np.where(B[local, d[rows]] > 0, br, 0.0)  # 0 = not ranked
            if lexical:
                _feedback(inputs, rows, q, d, nbr, pos_rows, out)
        if feedback:
            _dense_feedback(inputs, rows, q, d, nbr, pos_rows, out)
        if lsa:
            _lsa_feedback(inputs, rows, q, d, S, qs, pos_rows, nbr, out)
        _positive_arrays(Q, D, rows, q, d, pos_rows, inv, out)
    return out


def _positive_arrays(Q: np.ndarray, D: np.ndarray, rows: np.ndarray, q: np.ndarray, d: np.ndarray,
                     pos_rows: list[np.ndarray], inv: dict[int, np.ndarray], out: dict[str, np.ndarray]) -> None:
    """pos_score, pos_sim (leave-one-out: a positive is never compared with itself) and neighbour_label
    for ``rows``, which hold each query's rows together: one product per query, not one per row."""
    qr = q[rows]
    for a, b in _runs(qr):
        qi, rr = int(qr[a]), rows[a:b]
        p = pos_rows[qi]
        if not len(p):
            continue
        out["pos_score"][rr] = float((D[p] @ Q[qi]).max())
        sims = D[d[rr]] @ D[p].T  # (rows, positives)
        self_pair = d[rr][:, None] == p[None, :]
        sims[self_pair] = -np.inf
        best = sims.max(1)
        out["pos_sim"][rr] = np.where(np.isfinite(best), best, 0.0)
    for r, qi in zip(rows.tolist(), qr.tolist()):
        labellers = inv.get(int(d[r]))
        if labellers is not None:
            labellers = labellers[labellers != qi]
            if len(labellers):
                out["neighbour_label"][r] = max(0.0, float((Q[labellers] @ Q[qi]).max()))

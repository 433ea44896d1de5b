"""False-negative signals: one small pure function each, registered by name with a reason phrase.

How to add one: write ``f(a) -> np.ndarray`` over the raw pair arrays of :func:`core.risk.inputs.pair_arrays`
(aligned with the candidate rows), and a ``reason(value, row) -> str`` that says it in words; decorate with
``@register(name, reason, learned=...)``. A reason reads "plain words (the numbers)": the review card shows the
words (:func:`core.render.plain_reason`), its hover text and every export the whole phrase. ``learned=True`` signals feed the positive-unlabelled combiner, so
they must mean the same for any corpus doc and never look at the pair's own label (no leakage: a labelled
positive must not see itself).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

Arrays = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Signal:
    name: str
    fn: Callable[[Arrays], np.ndarray]
    reason: Callable[[float, Mapping[str, float]], str]
    learned: bool


SIGNALS: dict[str, Signal] = {}


def register(name: str, reason: Callable[[float, Mapping[str, float]], str], learned: bool = False):
    def deco(fn: Callable[[Arrays], np.ndarray]) -> Callable[[Arrays], np.ndarray]:
        SIGNALS[name] = Signal(name, fn, reason, learned)
        return fn

    return deco


def _optional(a: Arrays, key: str) -> np.ndarray:
    """An array only some inputs compute (late interaction, term coverage): 0 where it was not."""
    return np.asarray(a.get(key, np.zeros(len(a["dense"]))), dtype=np.float64)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    b = np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


def _say(v: float, steps: tuple[tuple[float, str], ...], numbers: str) -> str:
    """A reason: the words of the first step whose floor ``v`` reaches, then ``(numbers)``; only ``(numbers)``
    where no step is reached. The card shows the words alone, so they must be true of the value: a signal
    that raised the risk while low (a negative weight, a weak contribution) gets no words, only its numbers in
    the hover text (an annotator read "shares many of the query's words" on a card with BM25 at 6% of the
    query's best). The floors are wording, not scoring: fn_risk never sees them."""
    words = next((w for floor, w in steps if v >= floor), "")
    return f"{words} ({numbers})" if words else f"({numbers})"


@register("dense_score", lambda v, r: _say(v, ((0.6, "close in meaning to the query"),), f"dense score {v:.2f}"))
def dense_score(a: Arrays) -> np.ndarray:
    return np.asarray(a["dense"], dtype=np.float64)


@register("inverse_rank", lambda v, r: _say(v, ((1 / 3, "near the top of the dense ranking"),),
                                           f"dense rank {round(1 / v) if v else '-'}"))
def inverse_rank(a: Arrays) -> np.ndarray:
    return _div(1.0, a["rank"])


def _pos_ratio_reason(v: float, r: Mapping[str, float]) -> str:
    """NV-Retriever's wording; past twice the positive's score a percentage ("1433%") says less than the fact
    that the labelled positive itself scores low for the query."""
    if v >= 2:
        return (f"scores far above the labelled positive, which scores low itself (dense score {r['dense']:.2f} is "
                f"{v:.0f}x the positive's {r['pos_score']:.2f})")
    return _say(v, ((1.2, "scores above the labelled positive"), (0.9, "scores like the labelled positive")),
                f"dense score {r['dense']:.2f} is {v:.0%} of the positive's")


@register("pos_ratio", _pos_ratio_reason)
def pos_ratio(a: Arrays) -> np.ndarray:
    """NV-Retriever's TopK-PercPos: a negative scoring near the positive may be one."""
    return _div(a["dense"], a["pos_score"])


def _fed_back(r: Mapping[str, float], plain: str, note: str) -> str:
    """``note`` where the row's value came from the query its labelled positives moved (``fb_*`` differs from
    the plain value): the card then says which query the number is about."""
    fb = r.get(f"fb_{plain}")
    return f", {note}" if fb is not None and abs(fb - r.get(plain, fb)) > 1e-9 else ""


@register("dense_z", lambda v, r: _say(v, ((4, "far closer in meaning to the query than most documents"),
                                          (3, "closer in meaning to the query than most documents")),
                                       f"dense score {v:.1f} sd above the query's corpus mean"
                                       + _fed_back(r, "dense", "query moved toward its positives")), learned=True)
def dense_z(a: Arrays) -> np.ndarray:
    """Per-query normalised dense score: raw cosines are not comparable across queries."""
    return _div(a["dense"] - a["dense_mean"], a["dense_std"])


@register("bm25_score", lambda v, r: f"(BM25 {v:.1f})")  # raw BM25 has no scale that words could name
def bm25_score(a: Arrays) -> np.ndarray:
    return np.asarray(a["bm25"], dtype=np.float64)


@register("bm25_norm", lambda v, r: _say(v, ((0.6, "shares many of the query's words"),
                                            (0.35, "shares some of the query's words")),
                                         f"BM25 is {v:.0%} of the query's best"), learned=True)
def bm25_norm(a: Arrays) -> np.ndarray:
    return _div(a["bm25"], a["bm25_max"])


@register("bm25_z", lambda v, r: _say(v, ((8, "matches the query's words far better than most documents"),
                                         (4, "matches the query's words better than most documents")),
                                      f"BM25 {v:.1f} sd above the query's corpus mean"
                                      + _fed_back(r, "bm25", "query expanded with its positives' terms")), learned=True)
def bm25_z(a: Arrays) -> np.ndarray:
    return _div(a["bm25"] - a["bm25_mean"], a["bm25_std"])


@register("rrf", lambda v, r: _say(float(0 < r["dense_rank"] <= 10 and 0 < r["bm25_rank"] <= 10),
                                   ((1, "both retrievers rank it high"),),
                                   f"dense rank {r['dense_rank']:.0f}, BM25 rank {r['bm25_rank']:.0f}"))
def rrf(a: Arrays) -> np.ndarray:
    """Reciprocal-rank fusion (k=60) of the full-corpus dense and BM25 ranks."""
    out = _div(1.0, 60.0 + a["dense_rank"])
    return out + np.where(a["bm25_rank"] > 0, _div(1.0, 60.0 + a["bm25_rank"]), 0.0)


@register("graph_bm25", lambda v, r: _say(v, ((3, "documents like it match the query's words"),),
                                          f"its nearest docs' BM25, {v:.1f} sd"), learned=True)
def graph_bm25(a: Arrays) -> np.ndarray:
    """Mean per-query BM25 z-score of the doc's nearest neighbours: relevant docs cluster (new evidence)."""
    return np.asarray(a["graph_bm25"], dtype=np.float64)


@register("graph_dense", lambda v, r: _say(v, ((3, "documents like it are close to the query"),),
                                           f"its nearest docs' dense score, {v:.1f} sd"), learned=True)
def graph_dense(a: Arrays) -> np.ndarray:
    return np.asarray(a["graph_dense"], dtype=np.float64)


@register("neighbour_label", lambda v, r: _say(v, ((0.8, "labelled relevant for a very similar query"),
                                                  (0.5, "labelled relevant for a related query")),
                                               f"cosine {v:.2f} between the queries"), learned=True)
def neighbour_label(a: Arrays) -> np.ndarray:
    """Max similarity of this query to another query that labels the doc relevant (0 if none)."""
    return np.asarray(a["neighbour_label"], dtype=np.float64)


@register("bm25_rm3_z", lambda v, r: _say(v, ((4, "uses the labelled positive's key terms"),),
                                          f"BM25 of the query expanded with them, {v:.1f} sd above the mean"))
def bm25_rm3_z(a: Arrays) -> np.ndarray:
    """BM25 z-score of the query expanded with its labelled positives' top terms (RM3, leave-one-out).

    Not learned: a lone labelled positive cannot expand its own query. The scorer instead feeds the
    expanded query's lexical arrays to the model trained on the plain query (``inputs.with_feedback``).
    Session 3 (issue 18), NFCorpus keep 1: alone AP 0.44 (BM25 z 0.42); fn_risk +0.01 AP (benchmarks.md).
    0 where no feedback arrays were computed.
    """
    if "fb_bm25" not in a:
        return np.zeros(len(a["dense"]))
    return _div(a["fb_bm25"] - a["fb_bm25_mean"], a["fb_bm25_std"])


@register("late_maxsim", lambda v, r: _say(v, ((0.8, "matches the query word for word"),
                                              (0.65, "matches most of the query's words closely")),
                                           f"token MaxSim {v:.2f}"), learned=True)
def late_maxsim(a: Arrays) -> np.ndarray:
    """Late interaction: each query token's best cosine to a doc token, idf-weighted mean.

    By default over the model's static word-piece table (core/encoders/static_late.py: no model pass; alone
    AP 0.44 on NFCorpus' hidden false negatives, seed 0); with ``--late-interaction`` over contextual token
    vectors (core/encoders/late.py: a second model pass; alone AP 0.49) — the pooled dense score gives 0.27.
    0 where not computed, and then not learned.
    """
    return _optional(a, "late_maxsim")


@register("late_query_mean", lambda v, r: _say(v, ((0.65, "the query's top documents match it closely, word by word"),),
                                               f"mean token MaxSim {v:.2f}"))
def late_query_mean(a: Arrays) -> np.ndarray:
    """Query-level: the late MaxSim averaged over the query's dense top ``top_k`` docs (core/risk/inputs.py).

    Not learned: one labelled positive per query cannot say how many relevant docs a query holds. The view
    fuses the query-level signals at a weight set by the relevant docs it expects per query
    (core/risk/select.py). 0 where late interaction is off.
    """
    return _optional(a, "late_query_mean")


@register("coverage_query_mean", lambda v, r: _say(v, ((0.5, "the query's top documents hold most of its terms"),),
                                                   f"idf-weighted share {v:.2f}"))
def coverage_query_mean(a: Arrays) -> np.ndarray:
    """Query-level: the idf-weighted share of the query's terms a doc contains, averaged over the query's dense
    top ``top_k`` docs — the lexical, model-free counterpart of ``late_query_mean`` (Spearman 0.83 with it on
    NFCorpus). Not learned, fused like it (core/risk/select.py). 0 where no BM25 index is given.
    """
    return _optional(a, "coverage_query_mean")


@register("pos_query_mean", lambda v, r: _say(v, ((0.5, "the query's top documents are close to its labelled positive"),),
                                              f"mean cosine {v:.2f}"))
def pos_query_mean(a: Arrays) -> np.ndarray:
    """Query-level: the mean cosine of the query's dense top ``top_k`` unlabelled docs to its labelled positive
    (core/risk/inputs.py). Not learned (one positive per query is compared with nothing of its own); the view
    fuses it for sentence queries (core/risk/select.py). 0 for a query without a labelled positive.
    """
    return _optional(a, "pos_query_mean")


@register("dense_nqc", lambda v, r: _say(v, ((0.5, "the retriever is sure of some of the query's top documents"),),
                                         f"their dense z-scores spread {v:.2f} sd"))
def dense_nqc(a: Arrays) -> np.ndarray:
    """Query-level: the sd of the query's dense top ``top_k`` docs' z-scores over the corpus (NQC; label-free,
    core/risk/inputs.py). Not learned (one labelled positive per query cannot say how many relevant docs a
    query holds); the view fuses it for sentence queries at a weight set by the relevant docs it expects per
    query (core/risk/select.py). 0 where not computed (rows stored before it).
    """
    return _optional(a, "dense_nqc")


@register("lsa_feedback", lambda v, r: _say(v, ((1, "on the labelled positive's topic"),),
                                            f"LSA in this corpus' own vocabulary, {v:.1f} sd above the query's top docs"))
def lsa_feedback(a: Arrays) -> np.ndarray:
    """Closeness to the query's labelled positives' topic in the corpus' latent semantic space (core/mining/lsa.py),
    the query moved half way toward them (leave-one-out), against the query's own dense top docs
    (core/risk/inputs.py ``_lsa_feedback``). Not learned (a lone positive cannot move its own query); the view
    fuses it at a weight set by the relevant docs it expects per query (core/risk/select.py). Before that last
    standardisation (its corpus z-score) it ranks NFCorpus' hidden false negatives at AP 0.50 alone, above BM25 +
    RM3 (0.44); standardised, at 0.31, for it then orders docs within a query only. 0 where not computed.
    """
    return _optional(a, "lsa_fb")


@register("graph_lsa", lambda v, r: _say(v, ((1, "documents like it are on the labelled positive's topic"),),
                                         f"its nearest docs' LSA, {v:.1f} sd"))
def graph_lsa(a: Arrays) -> np.ndarray:
    """``lsa_feedback`` averaged over the doc's nearest docs (the dense doc graph), as ``graph_dense`` is to
    ``dense_z``. Not learned, for ``lsa_feedback``'s reason; the view fuses it beside that signal at the same
    weight (core/risk/select.py): over 43 bench runs +0.003 AP on average, `vid-titles` +0.002 to +0.015 on
    every run, NFCorpus at 35-64 queries down up to 0.016 (docs/benchmarks.md, session 21). 0 where not computed.
    """
    return _optional(a, "lsa_graph")


CO_CANDIDATES = "co_candidates"  # set by core/risk/score.py after the view, not from the pair arrays


@register(CO_CANDIDATES, lambda v, r: _say(v, ((0.5, "the candidates most like it look relevant too"),),
                                           f"{v:+.1f} log-odds from its closest fellow candidates for this query"))
def co_candidates(a: Arrays) -> np.ndarray:
    """How far the final log-odds moved toward the row's 3 closest fellow candidates' (core/risk/smooth.py):
    written by the scorer after the view, since it reads the view's own output; 0 in the pair arrays and in
    rows stored before it. Not learned."""
    return _optional(a, CO_CANDIDATES)


@register("topic_query", lambda v, r: "the query names a topic" if v else "the query reads as a sentence")
def topic_query(a: Arrays) -> np.ndarray:
    """Query-level gate, not learned: 1 where the query names a topic (no stop word in it), 0 for a sentence
    (core/mining/bm25.py ``topic_queries``). The view fuses its query-level term for topic queries only
    (core/risk/select.py). 1 where the inputs carry no query texts.
    """
    return np.asarray(a.get("topic_query", np.ones(len(a["dense"]))), dtype=np.float64)


@register("pos_similarity", lambda v, r: _say(v, ((0.8, "close to the labelled positive"),), f"cosine {v:.2f}"))
def pos_similarity(a: Arrays) -> np.ndarray:
    """Not learned: with one positive per query, a training positive would have to compare to itself."""
    return np.asarray(a["pos_sim"], dtype=np.float64)


def learned_names() -> list[str]:
    return [s.name for s in SIGNALS.values() if s.learned]


def compute_signals(a: Arrays, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Every (or the named) registered signal over the same rows."""
    return {n: SIGNALS[n].fn(a) for n in (names or list(SIGNALS))}

"""The pipeline the CLI and the app share: load a dataset from the store, mine it, score it.

Encoding is the cost that dominates, so one `Corpus` (texts, cached embeddings, a BM25 index) is
prepared once and handed to both mining and scoring.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from core.engines import get_engine
from core.engines.progress import Progress
from core.engines.progress import no_progress as _noop
from core.types import NegauditError


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
    encoded: int = 0  # texts run through a model for this corpus (cache misses)
    supplied: Any = None  # the dataset's supplied-embeddings model (core.ingest.embeddings), if any
    knn_stats: dict[str, Any] = field(default_factory=dict)  # last dense kNN: method, nprobe, recall

    @property
    def knn_backend(self) -> str:
        """Supplied vectors may be millions: faiss with bounded memory (exact, IVF above a size)."""
        return "auto" if self.supplied is not None else "numpy"


def load_corpus(store: Any, name: str) -> Corpus:
    """Read a dataset's queries, docs and qrels (positives over every split) from the store."""
    from core.encoders import doc_text
    from core.ingest.embeddings import supplied_model

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
        supplied=supplied_model(store, name),
        name=name,
        query_ids=q["query_id"].tolist(),
        query_texts=q["text"].tolist(),
        doc_ids=d["doc_id"].tolist(),
        doc_texts=[doc_text(t, x) for t, x in zip(d["title"], d["text"])],
        positives=positives,
        qrels=qrels,
    )


def embedding_model(corpus: Corpus, model: Any, cache: Any = None) -> tuple[Any, Any]:
    """(model, cache) a run embeds with: the dataset's supplied vectors when it has some.

    A dataset with supplied vectors encodes nothing: its model id serves every text from the cache
    they were ingested into (unless ``cache`` names another). A run naming another model (a folder,
    a name, a loaded encoder) is one clear error, since vectors of two models cannot be compared.
    """
    sup = corpus.supplied
    if sup is None:
        return model, cache
    cache = cache if cache is not None else sup.info.get("cache_dir")
    if model is None or model is sup:
        return sup, cache
    if isinstance(model, (str, os.PathLike)):
        if str(model) == sup.info["model"]:
            return sup, cache
        named = repr(str(model))
    else:
        from core.encoders import model_id

        if model_id(model) == sup.info["cache_model_id"]:
            return sup, cache
        named = f"{type(model).__name__} {model_id(model)!r}"
    raise NegauditError(
        f"dataset {corpus.name!r} has supplied embeddings from model {sup.info['model']!r} "
        f"({sup.info['dim']}-d); this run asks for model {named}: drop --model to use the supplied "
        f"vectors, or ingest the dataset again under another name to use another model")


def mine_dataset(store: Any, name: str, model: Any = None, top_k: int = 30,
                 miners: Sequence[str] = ("dense", "bm25"), cache: Any = None,
                 progress: Progress = _noop, corpus: Corpus | None = None,
                 engine: str = "local") -> pd.DataFrame:
    """Mine a stored dataset and replace its candidates of these miners (imported ones stay).

    ``engine``: ``local`` (this process) or ``ray`` (Ray Data batch jobs, see ``core.engines``).
    """
    from core.mining import check_miners, needs_embeddings

    eng = get_engine(engine)
    miners = check_miners(miners)
    corpus = corpus or load_corpus(store, name)
    model, cache = embedding_model(corpus, model, cache)
    if needs_embeddings(miners) and corpus.doc_emb is None:
        eng.embed_corpus(corpus, model, cache, progress=progress)
    progress("mining", 0.8)
    corpus.knn_stats.clear()
    if engine == "local":
        cands = eng.mine_corpus(corpus, top_k, miners, backend=corpus.knn_backend)
    else:
        cands = eng.mine_corpus(corpus, top_k, miners)
    _report_knn(corpus.knn_stats, progress, 0.9)
    cands.attrs["knn"] = dict(corpus.knn_stats)
    store.replace_rows("candidates", name, cands[["query_id", "doc_id", "miner", "rank", "score"]],
                       where={"miner": list(miners)})
    progress("mined", 1.0)
    return cands


def bm25_rows(corpus: Corpus) -> Callable[[Sequence[int]], np.ndarray]:
    """Full-corpus BM25 rows for a batch of query positions: what `RiskInputs.bm25` expects."""
    from core.mining import bm25_rows as rows_of
    from core.mining import ensure_index

    return rows_of(ensure_index(corpus), corpus.query_texts)


def term_coverage(corpus: Corpus) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Each query's idf-weighted term coverage of given docs: what `RiskInputs.coverage` expects."""
    from core.mining import ensure_index
    from core.mining import term_coverage as coverage_of

    return coverage_of(ensure_index(corpus), corpus.query_texts)


def lsa_space(corpus: Corpus) -> Any:
    """The queries and docs in the corpus' latent semantic space, from its BM25 index (timed as ``lsa``):
    what `RiskInputs.lsa` expects; None for a corpus too small for one."""
    from core.mining import ensure_index
    from core.mining.lsa import lsa_space as space_of

    t0 = time.perf_counter()
    out = space_of(ensure_index(corpus), corpus.query_texts)
    corpus.timings["lsa"] = time.perf_counter() - t0
    return out


def bm25_feedback(corpus: Corpus) -> Callable[[Sequence[int], Sequence[np.ndarray]], np.ndarray]:
    """BM25 of each query expanded with given feedback docs (RM3): what `RiskInputs.bm25_feedback` expects."""
    from core.mining import ensure_index
    from core.mining.feedback import bm25_feedback_rows

    return bm25_feedback_rows(ensure_index(corpus), corpus.query_texts)


def _report_knn(stats: dict[str, Any], progress: Progress, frac: float) -> None:
    """The approximate index's measured recall and chosen method, where the user sees progress."""
    if stats:
        from core.mining.knn import knn_summary

        progress(knn_summary(stats), frac)


def _rankings(corpus: Corpus, k: int,
              progress: Progress = _noop) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Dense and BM25 top-k per query *before* removing labelled docs (for Judged@k)."""
    from core.mining import bm25_topk, dense_topk

    stats: dict[str, Any] = {}
    didx, _ = dense_topk(corpus.query_emb, corpus.doc_emb, k, backend=corpus.knn_backend, stats=stats)
    _report_knn(stats, progress, 0.95)
    bidx, _ = bm25_topk(corpus.bm25, corpus.query_texts, k)
    ids = np.asarray(corpus.doc_ids, dtype=object)
    dense = {q: ids[i].tolist() for q, i in zip(corpus.query_ids, didx)}
    lexical = {q: ids[i].tolist() for q, i in zip(corpus.query_ids, bidx)}
    return dense, lexical


@dataclass
class ScoreResult:
    candidates: pd.DataFrame  # query_id, doc_id, miner, rank, score, pos_score, fn_risk, reasons, signals
    queries: pd.DataFrame  # query_id, n_positives, judged_at_k, lexical_overlap, positive_rank, ...
    judgments_used: int
    timings: dict[str, float]  # seconds per stage; "lsa" is part of "score" and "bm25_index" of
    # whichever stage built the index first (mine or score), not beside them
    encoded: int = 0  # texts run through a model by this call's corpus (0 when all were cached)
    refit: dict | None = None  # the learning queue's record when judgments existed (core.review.learning)
    judged_k: int = 10  # the k of Judged@k

    def summary(self) -> str:
        c, q = self.candidates, self.queries
        pairs = c.drop_duplicates(["query_id", "doc_id"]) if len(c) else c
        hi = int((pairs["fn_risk"] >= 0.5).sum()) if len(pairs) else 0
        # queries a `--split test` import kept without qrels would put the median at 0.00
        labelled = q.loc[q["n_positives"] > 0, "judged_at_k"] if "n_positives" in q else q["judged_at_k"]
        line = (f"scored {len(pairs):,} candidates (query, doc) of {c.query_id.nunique():,} queries "
                f"({hi:,} with fn_risk >= 0.5); median Judged@{self.judged_k} {labelled.median():.2f} over the "
                f"{len(labelled):,} queries with a positive")
        if self.refit is not None:
            items = f"the judgments of {self.judgments_used:,} item{'s' if self.judgments_used != 1 else ''}"
            line += "; " + (f"refitted from {items} (the review app's learning queue)"  # items, not log rows
                            if "skipped" not in self.refit else f"{items} not used: {self.refit['skipped']}")
        return line


def _record_embedding(store: Any, name: str, model: Any, cache: Any) -> None:
    """Record which model's vectors (in which cache) scored the dataset: the review path's refit reads
    them from that cache for its cosine evidence and never loads a model (core.review.vectors)."""
    from core.encoders import as_cache, model_id

    c = as_cache(cache)
    with store.dataset_appender(name) as w:
        w.merge_meta({"embedding": {"model_id": model_id(model),
                                    "cache_dir": None if c is None else str(c.root)}})


def _record_lsa(store: Any, name: str, corpus: Corpus, space: Any, doc_rows: np.ndarray, cache: Any) -> None:
    """Put the candidate docs' rows of the corpus' latent semantic space in the embedding cache and record
    under which id: the review path's refit reads them for its topic evidence (core.review.vectors,
    core.risk.learn.topic_evidence) and never refits the space. The id names the space (tokeniser, depth and
    every doc text in order), so another corpus' rows never answer; no cache or no space: nothing recorded."""
    import hashlib

    from core.encoders import as_cache
    from core.encoders.cache import text_key
    from core.mining import TOKENIZER_ID
    from core.mining.lsa import FIT_DOCS

    c = as_cache(cache)
    record = None
    if c is not None and space is not None:
        keys = [text_key(t) for t in corpus.doc_texts]
        h = hashlib.sha256(f"{TOKENIZER_ID}|{space.doc.shape[1]}|{FIT_DOCS}".encode())
        for k in keys:
            h.update(k)
        mid = f"lsa-{h.hexdigest()[:20]}"
        rows = np.unique(np.asarray(doc_rows, np.int64))
        want = [keys[i] for i in rows]
        hit, _ = c.lookup(mid, want)
        miss = rows[~hit]
        c.put(mid, [keys[i] for i in miss], space.doc[miss])
        record = {"model_id": mid, "cache_dir": str(c.root)}
    with store.dataset_appender(name) as w:
        w.merge_meta({"lsa": record})


def late_interaction(corpus: Corpus, model: Any = None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The token-MaxSim pair function (core/encoders/late.py) over the corpus' texts.

    It runs a torch SentenceTransformer: the named model folder, a loaded one, else the packaged MiniLM
    (also for datasets with supplied vectors: MaxSim compares texts, not the supplied vectors).
    """
    from core.encoders import load_bi_encoder
    from core.encoders.late import late_interaction_pairs

    if isinstance(model, (str, os.PathLike)):
        st = load_bi_encoder(model)
    elif type(model).__name__ == "SentenceTransformer":
        st = model
    else:
        st = load_bi_encoder()
    return late_interaction_pairs(corpus.query_texts, corpus.doc_texts, model=st)


def static_token_match(corpus: Corpus, model: Any = None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The static token MaxSim (core/encoders/static_late.py, on by default): the word-piece table of the
    named model folder when it has one, else the packaged MiniLM's — it compares texts, not vectors."""
    from core.encoders.static_late import has_word_table, static_maxsim_pairs

    folder = model if isinstance(model, (str, os.PathLike)) and has_word_table(model) else None
    return static_maxsim_pairs(corpus.query_texts, corpus.doc_texts, folder)


def score_dataset(store: Any, name: str, model: Any = None, cache: Any = None,
                  judged_k: int = 10, progress: Progress = _noop,
                  corpus: Corpus | None = None, engine: str = "local", late: bool = False) -> ScoreResult:
    """Score every stored candidate (fn_risk with reasons) and every query (pooling-bias risk).

    The score itself sees only the dataset's own qrels; human judgments (the consensus of current labels)
    then refit it as the review app does (`core.review.learning.relearn`: both labels at least twice, the
    level moved only by the random order's judgments), so `score` and the app give one fn_risk.
    The token MaxSim (``late_maxsim``) is the static one over the word-piece table (no model pass);
    ``late``: the contextual one instead (a second model pass over the docs it touches; opt-in).
    """
    from core.labels import consensus_from_labels
    from core.mining import topic_queries
    from core.risk import SCORER_VERSION, RiskInputs, query_pooling_bias

    if late and engine != "local":
        raise NegauditError("late interaction (--late-interaction) runs on the local engine only")
    eng = get_engine(engine)
    corpus = corpus or load_corpus(store, name)
    late_fn = late_interaction(corpus, model) if late else None
    token_model = model  # the model as the caller named it: the static MaxSim reads its word-piece table
    model, cache = embedding_model(corpus, model, cache)
    cands = store.candidates(name)
    if cands.empty:
        raise NegauditError(f"dataset {name!r} has no candidates; run `negaudit mine --name {name}`")
    if corpus.doc_emb is None:
        eng.embed_corpus(corpus, model, cache, progress=progress)
    _record_embedding(store, name, model, cache)
    progress("scoring candidates" + (" (with late interaction: token MaxSim)" if late else ""), 0.85)
    t0 = time.perf_counter()
    if late_fn is None:
        late_fn = static_token_match(corpus, token_model)
    inputs = RiskInputs(corpus.query_ids, corpus.query_emb, corpus.doc_ids, corpus.doc_emb,
                        corpus.positives, bm25=bm25_rows(corpus), bm25_feedback=bm25_feedback(corpus),
                        late=late_fn, coverage=term_coverage(corpus), lsa=lsa_space(corpus),
                        topic=topic_queries(corpus.query_texts))
    in_play = [i for i in cands.doc_id.astype(str).unique() if i in inputs._dpos]
    _record_lsa(store, name, corpus, inputs.lsa, inputs.drow(in_play), cache)
    cons = consensus_from_labels(store.current_labels(name))
    cons = cons[cons["label"].notna()][["query_id", "doc_id", "label"]]
    # The static score: judgments reach fn_risk through the review app's refit below (one path for both).
    scored = eng.score_candidates(cands, inputs)
    scored["scorer_version"] = SCORER_VERSION + ("+late-maxsim3" if late else "")  # which evidence scored it (3: and its query mean)
    progress("scoring queries", 0.95)
    dense_rank, lexical_rank = _rankings(corpus, judged_k, progress)
    labelled: dict[str, set[str]] = {}
    for qid, did in zip(corpus.qrels["query_id"], corpus.qrels["doc_id"]):
        labelled.setdefault(qid, set()).add(did)
    for qid, did in zip(cons["query_id"], cons["doc_id"]):
        labelled.setdefault(qid, set()).add(did)
    queries = query_pooling_bias(dense_rank, lexical_rank, labelled, corpus.positives, k=judged_k)
    corpus.timings["score"] = time.perf_counter() - t0
    risk_rows = scored.drop_duplicates(["query_id", "doc_id"])
    store.replace_rows("risk", name, risk_rows)
    store.replace_rows("query_bias", name, queries)
    with store.dataset_appender(name) as w:  # what Judged@k was computed from (Insights says it)
        w.merge_meta({"pooling": {"judged_k": int(judged_k), "judgments": len(cons),
                                  "scored_at": datetime.now(UTC).isoformat(timespec="seconds")}})
    refit = None
    if len(cons):  # the learning queue's refit, as the app runs it: anchored, level moved only by random-order judgments
        from core.review import learning

        progress("refitting from judgments", 0.98)
        refit = learning.relearn(store, name, cache)
        if "skipped" not in refit:
            now = store.risk(name)[["query_id", "doc_id", "fn_risk"]].astype({"query_id": str, "doc_id": str})
            scored = scored.drop(columns=["fn_risk"]).merge(now, how="left", on=["query_id", "doc_id"])
    progress("scored", 1.0)
    return ScoreResult(scored, queries, len(cons), dict(corpus.timings), corpus.encoded, refit, judged_k)


def run(store: Any, name: str, top_k: int = 30, model: Any = None, cache: Any = None,
        miners: Sequence[str] = ("dense", "bm25"), progress: Progress = _noop,
        engine: str = "local", late: bool = False) -> ScoreResult:
    """Mine and score a stored dataset, encoding it once (the app's and the demo's entry point)."""
    corpus = load_corpus(store, name)
    mine_dataset(store, name, model=model, top_k=top_k, miners=miners, cache=cache,
                 progress=_part(progress, 0.0, 0.85), corpus=corpus, engine=engine)
    return score_dataset(store, name, model=model, cache=cache, progress=progress, corpus=corpus,
                         engine=engine, late=late)


def _part(progress: Progress, lo: float, hi: float) -> Progress:
    """Progress of one stage mapped into [lo, hi] of the whole run (mine's "100% mined" came before
    score's "85% scoring": the bar went back). Score's own reports start at 0.85."""
    if progress is _noop:
        return progress
    return lambda step, frac: progress(step, lo + (hi - lo) * frac)


CANDIDATE_OUT = ["query_id", "doc_id", "miner", "rank", "score", "pos_score", "fn_risk", "reasons"]
QUERY_OUT = ["query_id", "n_positives", "judged_at_k", "lexical_overlap", "positive_rank",
             "pooling_bias_risk"]


def audit_beir(store: Any, directory: Any, name: str, out: Any, top_k: int = 30,
               replace: bool = False, model: Any = None, cache: Any = None,
               progress: Progress = _noop, late: bool = False) -> ScoreResult:
    """One shot for ML engineers: ingest a BEIR folder, mine, score, write two Parquet files."""
    from pathlib import Path

    from core.ingest import ingest_beir

    if store.has_dataset(name) and not replace:  # before any progress line: checks come before work
        from core.store.store import dataset_exists

        raise dataset_exists(name)
    progress("ingesting", 0.0)
    ingest_beir(store, directory, name, replace=replace)
    res = run(store, name, top_k=top_k, model=model, cache=cache, progress=progress, late=late)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    res.candidates[CANDIDATE_OUT].to_parquet(out / "candidates.parquet", index=False)
    res.queries[QUERY_OUT].astype({"n_positives": "int64", "positive_rank": "Int64"}).to_parquet(
        out / "queries.parquet", index=False)  # a rank is a whole number, NULL where no positive ranks
    return res

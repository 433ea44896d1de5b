"""The lexical miner: bm25s Lucene BM25 (k1 1.5, b 0.75) with one tokeniser for docs and queries.

Tokenisation: lower-case, the scikit-learn ``\\b\\w\\w+\\b`` pattern, bm25s' English stop-words and the
Snowball English stemmer of PyStemmer (pinned in pyproject.toml). There is no fallback: a BM25 score
must not depend on what happens to be installed, so a missing PyStemmer is a clear error, and
:data:`TOKENIZER_ID` (in the scorer version and the export manifest) says which tokeniser ran.
Docs with a BM25 score of 0 share no term with the query; they are not ranked by BM25, so they are
not BM25 candidates.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.mining.candidates import candidate_frame, positive_rows, query_chunk, topk_rows
from core.mining.registry import register
from core.types import NegauditError

STEMMER = "snowball-english"
# the scoring function, passed to bm25s explicitly (not its defaults) and part of the cache key
BM25_PARAMS = {"method": "lucene", "k1": 1.5, "b": 0.75}
_log = logging.getLogger("negaudit.bm25")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "missing"


# e.g. "bm25s-0.3.16+PyStemmer-3.1.0-snowball-english": recorded wherever BM25 scores are kept
TOKENIZER_ID = f"bm25s-{_version('bm25s')}+PyStemmer-{_version('PyStemmer')}-{STEMMER}"


def bm25_stemmer() -> tuple[str, Callable[[list[str]], list[str]]]:
    """(name, stemWords): Snowball English from PyStemmer, the only stemmer BM25 ever uses."""
    try:
        import Stemmer  # PyStemmer
    except ImportError as exc:
        raise NegauditError(
            "BM25 needs PyStemmer (Snowball English stemmer), a dependency of negaudit: "
            "pip install PyStemmer==3.1.0"
        ) from exc
    return STEMMER, Stemmer.Stemmer("english").stemWords


def _bm25s() -> Any:
    """bm25s, its logger at WARNING: it sets DEBUG on import, and once any library has configured the root
    logger, "DEBUG:bm25s:Building index from IDs" lands in the middle of `negaudit mine`'s progress."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def bm25_tokenize(texts: Sequence[str]) -> list[list[str]]:
    """The one tokeniser for docs and queries (see the module docstring)."""
    bm25s = _bm25s()

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
        bm25s = _bm25s()

        tokens = bm25_tokenize(doc_texts)
        # Term ids in sorted-token order: bm25s numbers terms as a Python set yields them, which changes with
        # the interpreter's hash seed, and the RM3 feedback breaks ties between equal term weights by term id
        # (core/mining/feedback.py) — so fn_risk differed between processes (SciFact train s1: AP 0.228 or 0.232).
        vocab = {t: i for i, t in enumerate(sorted({t for doc in tokens for t in doc}))}
        retriever = bm25s.BM25(**BM25_PARAMS)
        retriever.index(([[vocab[t] for t in doc] for doc in tokens], vocab), show_progress=False)
        return cls(retriever, len(doc_texts))

    @classmethod
    def cached(cls, doc_texts: Sequence[str], root: str | os.PathLike | None = None) -> Bm25Index:
        """The index of ``doc_texts`` from the on-disk cache, built and stored there the first time.

        Why: tokenising a corpus is most of an index build (14 s at 104k NFCorpus-length docs, where loading
        the saved arrays takes 0.01 s), and ``negaudit mine`` and ``negaudit score`` are separate processes
        over the same corpus. The key covers the tokeniser (:data:`TOKENIZER_ID`), the BM25 parameters and
        every text in order, so an edit anywhere builds anew. Written under a temporary name, then renamed:
        a reader sees a whole index or none; a folder that fails to load is rebuilt over.
        """
        bm25s = _bm25s()

        folder = Path(root) if root is not None else bm25_cache_dir()
        target = folder / index_key(doc_texts)
        if target.is_dir():
            try:
                retriever = bm25s.BM25.load(str(target), show_progress=False)
                if getattr(retriever, "scores", {}).get("num_docs") == len(doc_texts):
                    return cls(retriever, len(doc_texts))
                _log.warning("cached BM25 index %s holds another corpus size; rebuilding it", target)
            except Exception as exc:  # noqa: BLE001 — a torn or foreign cache folder: rebuild, never fail a run
                _log.warning("cached BM25 index %s does not load (%s); rebuilding it", target, exc)
            shutil.rmtree(target, ignore_errors=True)
        index = cls.build(doc_texts)
        tmp = folder / f".{target.name}.{uuid.uuid4().hex}"
        try:
            tmp.mkdir(parents=True)
            index.retriever.save(str(tmp), show_progress=False)
            os.replace(tmp, target)
        except OSError:  # another process stored it first, or the cache is read-only: the index in hand stands
            shutil.rmtree(tmp, ignore_errors=True)
        return index

    def scores(self, query_tokens: Sequence[list[str]]) -> np.ndarray:
        vocab = self.retriever.vocab_dict
        out = np.zeros((len(query_tokens), self.n_docs), dtype=np.float32)
        for row, toks in enumerate(query_tokens):
            known = [t for t in toks if t in vocab]
            if known:
                out[row] = self.retriever.get_scores(known)
        return out


def bm25_cache_dir() -> Path:
    """Where cached BM25 indexes live: ``bm25/`` beside the embedding cache's model folders."""
    from core.encoders.cache import BM25_FOLDER, default_cache_dir

    return default_cache_dir() / BM25_FOLDER


def index_key(doc_texts: Sequence[str]) -> str:
    """Cache key of a corpus' BM25 index: tokeniser, parameters and every text, in order (length-prefixed)."""
    params = ",".join(f"{k}={v}" for k, v in sorted(BM25_PARAMS.items()))
    h = hashlib.sha256(f"{TOKENIZER_ID}|{params}|sorted-vocab|{len(doc_texts)}".encode())
    for text in doc_texts:
        raw = text.encode("utf-8")
        h.update(len(raw).to_bytes(8, "little"))
        h.update(raw)
    return h.hexdigest()[:40]


def bm25_rows(index: Bm25Index, query_texts: Sequence[str]) -> Callable[[Sequence[int]], np.ndarray]:
    """Full-corpus BM25 rows for a batch of query positions: what ``core.risk.RiskInputs.bm25`` expects."""
    tokens = bm25_tokenize(query_texts)
    return lambda rows: index.scores([tokens[i] for i in rows])


def topic_queries(query_texts: Sequence[str]) -> np.ndarray:
    """Per query: 1.0 where it names a topic (no word of it is one of the BM25 tokeniser's English stop
    words: "deafness", "vitamin d"), 0.0 where it reads as a sentence ("the role of fruit in preventing cancer").

    Why: how much of a query its top docs hold says how many relevant docs it has only when the query names a
    topic (NFCorpus keyword queries: AP 0.62 -> 0.68 with the query-level term); for sentences it measures
    their wording, and the term cost 0.11 AP on NFCorpus' title queries and 0.15 on its description
    queries (docs/benchmarks.md, session 9). The view fuses the term for topic queries only.
    """
    from bm25s.stopwords import STOPWORDS_EN

    stop = set(STOPWORDS_EN)
    words = [re.findall(r"\w+", str(t).lower()) for t in query_texts]
    return np.array([float(bool(w) and not stop.intersection(w)) for w in words], np.float64)


def term_coverage(index: Bm25Index, query_texts: Sequence[str]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """(query rows, doc rows (n, k)) -> (n, k): the idf-weighted share of each query's distinct terms (the BM25
    tokeniser's) that each doc contains; idf ``log(N / (1 + df)) + 1``, a term absent from the corpus counts too.

    Read from the index's postings, no scoring pass: what ``core.risk.RiskInputs.coverage`` expects. Averaged
    over a query's top docs it says how much of the query the collection answers (core/risk/inputs.py).
    """
    scores = getattr(index.retriever, "scores", None)
    if not isinstance(scores, dict) or "indptr" not in scores or "indices" not in scores:
        raise NegauditError(f"term coverage needs bm25s' postings (BM25.scores indptr/indices); bm25s "
                            f"{_version('bm25s')} has none")
    indptr, postings = np.asarray(scores["indptr"]), np.asarray(scores["indices"])
    postings = _sorted_postings(indptr, postings)
    vocab, n = index.retriever.vocab_dict, index.n_docs
    terms = [sorted(set(t) - {""}) for t in bm25_tokenize(query_texts)]

    def coverage(q: np.ndarray, docs: np.ndarray) -> np.ndarray:
        docs = np.asarray(docs, np.int64).reshape(len(q), -1)
        out = np.zeros(docs.shape, np.float64)
        for i, qi in enumerate(np.asarray(q, np.int64).tolist()):
            total = 0.0
            for t in terms[qi]:
                tid = vocab.get(t)
                posting = postings[indptr[tid] : indptr[tid + 1]] if tid is not None else postings[:0]
                w = float(np.log(n / (1.0 + len(posting))) + 1.0)
                total += w
                if len(posting):  # a binary search of the sorted posting, not a set test over all of it
                    at = np.minimum(np.searchsorted(posting, docs[i]), len(posting) - 1)
                    out[i] += w * (posting[at] == docs[i])
            out[i] /= total or 1.0
        return out

    return coverage


def _sorted_postings(indptr: np.ndarray, postings: np.ndarray) -> np.ndarray:
    """Each term's doc ids in ascending order (bm25s' CSC postings are; sorted here if a version's are not)."""
    step = np.diff(postings.astype(np.int64))
    starts = np.zeros(len(postings), bool)
    starts[indptr[:-1][indptr[:-1] < len(postings)]] = True
    if np.all((step > 0) | starts[1:]):
        return postings
    term = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    return postings[np.lexsort((postings, term))]


def bm25_topk(
    index: Bm25Index,
    query_texts: Sequence[str],
    k: int | Sequence[int],
    chunk_size: int | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """BM25 top-k (doc indices, scores) per query, positives included, zero-score docs left out."""
    toks = bm25_tokenize(query_texts)
    ks = np.full(len(toks), k, dtype=np.int64) if np.isscalar(k) else np.asarray(k, dtype=np.int64)
    step = query_chunk(index.n_docs, chunk_size)
    out_idx: list[np.ndarray] = []
    out_scores: list[np.ndarray] = []
    for start in range(0, len(toks), step):
        block = index.scores(toks[start : start + step])
        i, s = topk_rows(block, int(ks[start : start + step].max(initial=0)))
        for row, kk in enumerate(ks[start : start + step]):
            keep = s[row, :kk] > 0
            out_idx.append(i[row, :kk][keep])
            out_scores.append(s[row, :kk][keep])
    return out_idx, out_scores


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
        index = Bm25Index.cached(doc_texts)
    doc_pos = {d: i for i, d in enumerate(doc_ids)}
    pos_rows = positive_rows(query_ids, doc_pos, positives)
    ks = [top_k + len(p) for p in pos_rows]
    idx, sc = bm25_topk(index, query_texts, ks)
    pos_scores = _bm25_positive_scores(index, query_texts, pos_rows)
    return candidate_frame("bm25", query_ids, doc_ids, idx, sc, pos_rows, pos_scores, top_k)


def _bm25_positive_scores(
    index: Bm25Index, query_texts: Sequence[str], pos_rows: list[np.ndarray]
) -> list[np.ndarray]:
    out = [np.zeros(0, np.float32)] * len(query_texts)
    todo = [i for i, p in enumerate(pos_rows) if len(p)]
    toks = bm25_tokenize([query_texts[i] for i in todo]) if todo else []
    for i, t in zip(todo, toks):
        out[i] = index.scores([t])[0][pos_rows[i]]
    return out


def ensure_index(inputs: Any) -> Bm25Index:
    """``inputs.bm25``, built from ``inputs.doc_texts`` the first time (and timed in ``inputs.timings``)."""
    if inputs.bm25 is None:
        if inputs.doc_texts is None:
            raise ValueError("give doc_texts or a prebuilt BM25 index")
        t0 = time.perf_counter()
        inputs.bm25 = Bm25Index.cached(inputs.doc_texts)
        timings = getattr(inputs, "timings", None)
        if timings is not None:
            timings["bm25_index"] = time.perf_counter() - t0
    return inputs.bm25


@register("bm25", position=1)
def bm25_miner(inputs: Any, top_k: int, backend: str = "numpy") -> pd.DataFrame:
    """The registered BM25 miner; builds (and keeps) the index on ``inputs`` the first time."""
    return mine_bm25(inputs.query_ids, inputs.query_texts, inputs.doc_ids,
                     positives=inputs.positives, top_k=top_k, index=ensure_index(inputs))

"""Latent semantic analysis over the BM25 index: which words *this* corpus uses together.

MiniLM knows general English and BM25 matches the query's own words; neither knows that in a nutrition corpus
"homocysteine" keeps company with "b12" and "methylation". A truncated SVD of the corpus' doc x term BM25 weights
does (Deerwester et al., JASIS 1990): docs on one topic share a direction whether or not they share a word.
Fitted on the corpus alone (no label, no query), read from the index the BM25 miner already built, so it adds
no tokenising pass. The scorer uses it as evidence of another kind: closeness to the labelled positives' topic
(core/risk/inputs.py ``_lsa_feedback``; docs/benchmarks.md, session 21).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.mining.bm25 import Bm25Index, bm25_tokenize

LSA_DIMS = 300  # the usual LSA depth; 100 ranked NFCorpus' hidden false negatives worse (AP 0.40 vs 0.46 alone), 600-1000 no better
MIN_DIMS = 2  # fewer (a corpus of a handful of docs or terms): no space worth the name
# Above this many docs the SVD is fitted on a seeded uniform sample of them and every doc is then projected (a
# sparse product): the fit's cost grows with the corpus, a sample this size already shows its co-occurrences.
FIT_DOCS = 50_000


@dataclass(frozen=True)
class LsaSpace:
    """Row-aligned, L2-normalised vectors of the queries and of the corpus' docs in the SVD's space."""

    query: np.ndarray  # (n_queries, k) float32; a query with no corpus term is all zeros
    doc: np.ndarray  # (n_docs, k) float32
    fit_s: float = 0.0  # wall seconds the space took (the benches report the new evidence's cost apart)


def lsa_space(index: Bm25Index, query_texts: Sequence[str], dims: int = LSA_DIMS, seed: int = 0,
              fit_docs: int = FIT_DOCS) -> LsaSpace | None:
    """The corpus' doc x term BM25 weights (each doc's row L2-normalised), reduced to ``dims`` by a truncated
    SVD; each query folded in as its terms' counts x idf (``log(N / (1 + df)) + 1``, as the term coverage).

    Why the index's weights, not a second tf-idf: one tokeniser (stemmed, stop-words out) for every lexical
    signal, and the screen ranked NFCorpus' hidden false negatives better with them (AP 0.50 vs 0.46 alone).
    None when the corpus is too small for ``MIN_DIMS`` dimensions. Deterministic for a given ``seed``. Past
    ``fit_docs`` docs the SVD learns from a seeded sample of that many, so its cost stops growing with the corpus.
    """
    import scipy.sparse as sp
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    t0 = time.perf_counter()
    scores = getattr(index.retriever, "scores", None)
    if not isinstance(scores, dict) or not {"data", "indices", "indptr"} <= set(scores):
        return None
    indptr = np.asarray(scores["indptr"])
    n_docs, n_terms = index.n_docs, len(indptr) - 1
    k = min(dims, min(n_docs, fit_docs) - 1, n_terms - 1)
    if k < MIN_DIMS:
        return None
    docs = sp.csc_matrix((np.asarray(scores["data"], np.float64), np.asarray(scores["indices"]), indptr),
                         shape=(n_docs, n_terms)).tocsr()
    docs = normalize(docs)
    df = np.diff(indptr)
    idf = np.log(n_docs / (1.0 + df)) + 1.0
    vocab = index.retriever.vocab_dict
    rows, cols = [], []
    for i, tokens in enumerate(bm25_tokenize(list(query_texts))):
        for t in tokens:
            tid = vocab.get(t) if t else None
            if tid is not None and tid < n_terms:
                rows.append(i)
                cols.append(tid)
    counts = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(query_texts), n_terms))
    fit = docs
    if n_docs > fit_docs:
        fit = docs[np.sort(np.random.default_rng(seed).choice(n_docs, fit_docs, replace=False))]
    svd = TruncatedSVD(k, random_state=seed).fit(fit)
    doc_vecs = normalize(svd.transform(docs)).astype(np.float32)
    query_vecs = normalize(svd.transform(counts @ sp.diags(idf))).astype(np.float32)
    return LsaSpace(query_vecs, doc_vecs, time.perf_counter() - t0)

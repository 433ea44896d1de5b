"""The corpus' latent semantic space (core/mining/lsa.py) on a real NFCorpus subset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.mining import Bm25Index
from core.mining.lsa import LSA_DIMS, lsa_space

FIX = Path(__file__).parents[1] / "fixtures" / "risk" / "nfcorpus_small"


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    docs = [json.loads(line) for line in (FIX / "corpus.jsonl").read_text().splitlines()]
    queries = [json.loads(line)["text"] for line in (FIX / "queries.jsonl").read_text().splitlines()]
    return [f"{d.get('title', '')} {d['text']}".strip() for d in docs], queries


@pytest.fixture(scope="module")
def index(corpus) -> Bm25Index:
    return Bm25Index.build(corpus[0])


def test_space_is_unit_rows_of_the_usual_depth_and_deterministic(corpus, index) -> None:
    docs, queries = corpus
    a = lsa_space(index, queries)
    assert a is not None and a.doc.shape == (len(docs), LSA_DIMS) and a.query.shape == (len(queries), LSA_DIMS)
    assert a.doc.dtype == a.query.dtype == np.float32
    assert a.fit_s > 0  # its cost, which the benches report apart
    np.testing.assert_allclose(np.linalg.norm(a.doc, axis=1), 1, atol=1e-5)
    # a query is a unit vector when some word of it is in the corpus, else all zeros
    from core.mining import bm25_tokenize

    vocab = index.retriever.vocab_dict
    known = np.array([any(t and t in vocab for t in toks) for toks in bm25_tokenize(queries)])
    assert 0 < (~known).sum() < len(queries)  # this subset leaves some NFCorpus queries without a corpus word
    np.testing.assert_allclose(np.linalg.norm(a.query, axis=1), known.astype(float), atol=1e-5)
    b = lsa_space(index, queries)
    np.testing.assert_array_equal(a.doc, b.doc)
    np.testing.assert_array_equal(a.query, b.query)


def test_a_query_is_folded_in_alone_whatever_the_others(corpus, index) -> None:
    _, queries = corpus
    full = lsa_space(index, queries)
    order = np.random.default_rng(0).permutation(len(queries))
    shuffled = lsa_space(index, [queries[i] for i in order])
    np.testing.assert_allclose(shuffled.query, full.query[order], atol=1e-6)
    np.testing.assert_allclose(lsa_space(index, queries[:3]).query, full.query[:3], atol=1e-6)


def test_a_docs_own_words_find_it_and_a_query_without_corpus_words_is_zero(corpus, index) -> None:
    docs, _ = corpus
    probe = [docs[i] for i in range(0, len(docs), 40)] + ["zzzqx qqxzz"]
    space = lsa_space(index, probe)
    sims = space.query[:-1] @ space.doc.T
    rank = (sims > sims[np.arange(len(probe) - 1), np.arange(0, len(docs), 40)][:, None]).sum(1)
    assert (rank < 3).mean() >= 0.9  # a doc's own text, folded in, lands on (or next to) the doc
    assert not space.query[-1].any()


def test_a_corpus_too_small_for_a_space_gives_none() -> None:
    assert lsa_space(Bm25Index.build(["statin trial", "vitamin bone"]), ["statin"]) is None
    tiny = lsa_space(Bm25Index.build(["statin trial heart", "vitamin bone density", "red meat colon"]), ["statin"])
    assert tiny is not None and tiny.doc.shape == (3, 2)


def test_a_big_corpus_is_fitted_on_a_seeded_sample_and_every_doc_projected(corpus, index) -> None:
    docs, _ = corpus
    probe = [docs[i] for i in range(0, len(docs), 40)]
    full = lsa_space(index, probe, dims=100)
    part = lsa_space(index, probe, dims=100, fit_docs=400)
    again = lsa_space(index, probe, dims=100, fit_docs=400)
    assert part.doc.shape == full.doc.shape == (len(docs), 100)
    np.testing.assert_array_equal(part.doc, again.doc)  # the sample is seeded
    assert not np.allclose(np.abs(part.doc), np.abs(full.doc), atol=1e-3)  # another fit
    sims = part.query @ part.doc.T
    own = np.arange(0, len(docs), 40)
    assert ((sims > sims[np.arange(len(own)), own][:, None]).sum(1) < 3).mean() >= 0.9  # docs outside it too

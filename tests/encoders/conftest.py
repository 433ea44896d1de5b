"""Fixtures shared by the encoder tests: a few real SciFact texts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def texts() -> tuple[list[str], list[str]]:
    """(4 queries, 12 docs as title + text) from the SciFact fixture."""
    root = FIXTURES / "beir_scifact"
    docs = [json.loads(line) for line in (root / "corpus.jsonl").read_text().splitlines()][:12]
    queries = [json.loads(line)["text"] for line in (root / "queries.jsonl").read_text().splitlines()][:4]
    return queries, [(d.get("title", "") + " " + d["text"]).strip() for d in docs]


def assert_query_as_doc_scores_one(pairs, texts: tuple[list[str], list[str]], tol: float) -> None:
    """A MaxSim over (queries, docs + queries): each query, read as a doc, scores 1 (within ``tol``) and beats
    every real doc — the property both token MaxSims (contextual and static) must have."""
    queries, docs = texts
    n = len(docs)
    for qi in range(len(queries)):
        self_score = pairs(np.array([qi]), np.array([n + qi]))[0]
        others = pairs(np.full(n, qi), np.arange(n))
        assert self_score == pytest.approx(1.0, abs=tol) and self_score > others.max()

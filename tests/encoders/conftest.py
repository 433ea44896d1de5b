"""Fixtures shared by the encoder tests: a few real SciFact texts."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def texts() -> tuple[list[str], list[str]]:
    """(4 queries, 12 docs as title + text) from the SciFact fixture."""
    root = FIXTURES / "beir_scifact"
    docs = [json.loads(line) for line in (root / "corpus.jsonl").read_text().splitlines()][:12]
    queries = [json.loads(line)["text"] for line in (root / "queries.jsonl").read_text().splitlines()][:4]
    return queries, [(d.get("title", "") + " " + d["text"]).strip() for d in docs]

"""Consistency finder: near-identical candidates of one query with different labels."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from core.quality import consistency as C

CORPUS = Path(__file__).parents[1] / "fixtures" / "beir_scifact" / "corpus.jsonl"


def _real() -> dict[str, str]:
    docs = [json.loads(line) for line in CORPUS.read_text().splitlines()[:30]]
    return {d["_id"]: d["text"] for d in docs}


def test_real_corpus_has_no_false_pairs_and_finds_planted_copies():
    texts = _real()
    assert C.near_duplicates(texts) == []  # distinct abstracts are not near-identical
    first, second = list(texts)[:2]
    words = texts[first].split()
    texts["copy"] = texts[first].upper().replace(".", " .")  # case and spacing only
    texts["edit"] = " ".join(words[:-1] + ["changed"])  # one word of ~200 differs
    pairs = {(a, b) for a, b, _ in C.near_duplicates(texts)}
    assert pairs == {tuple(sorted(p)) for p in [(first, "copy"), (first, "edit"), ("copy", "edit")]}
    assert (second, first) not in pairs


def test_inconsistencies_across_and_within_annotators():
    texts = _real()
    a, b = list(texts)[:2]
    texts["dup"] = texts[a] + " "
    labels = pd.DataFrame([
        ("q1", a, "ann", "negative"), ("q1", "dup", "ann", "false_negative"),  # ann slipped
        ("q1", b, "ann", "negative"),
        ("q2", a, "ann", "negative"), ("q2", "dup", "bob", "negative"),  # agree: not listed
        ("q3", a, "ann", "negative"), ("q3", "dup", "bob", "partial"),  # two people differ
        ("q4", a, "ann", "negative"), ("q4", "dup", "bob", "unsure"),  # unsure is not a verdict
        ("q5", a, "ann", "negative"), ("q5", a, "bob", "partial"),  # same doc: adjudication's job
    ], columns=["query_id", "doc_id", "annotator", "label"])
    out = C.inconsistencies(labels, texts)
    assert list(out.query_id) == ["q1", "q3"]
    q1 = out.iloc[0]
    assert {q1.doc_a, q1.doc_b} == {a, "dup"} and q1.same_annotator == "ann"
    assert out.iloc[1].same_annotator == "" and out.iloc[1].similarity == 1.0
    assert C.inconsistencies(labels.iloc[:0], texts).empty


@given(st.lists(st.text(max_size=40), max_size=8), st.floats(0.05, 1.0))
def test_pairs_match_brute_force(texts, thr):
    m = {f"d{i}": t for i, t in enumerate(texts)}
    want = set()
    for i, a in enumerate(m):
        for b in list(m)[i + 1:]:
            sa, sb = set(C.normalise(m[a]).split()), set(C.normalise(m[b]).split())
            if C.text_hash(m[a]) == C.text_hash(m[b]) or C.jaccard(sa, sb) >= thr:
                want.add((min(a, b), max(a, b)))
    assert {(a, b) for a, b, _ in C.near_duplicates(m, thr)} == want

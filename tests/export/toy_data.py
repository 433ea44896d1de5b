"""The toy dataset of the export tests (see conftest.py): texts, candidates, risk, judgments."""

from __future__ import annotations

import pandas as pd

DS = "toy"

# Texts that a careless writer would mangle: formulas, unicode, tabs, quotes, leading spaces.
DOC_TEXT = {f"d{i}": f"negative passage {i} about topic {i % 3}" for i in range(1, 19)}
DOC_TEXT.update({"d1": "=SUM(A1:A9) is how the cited trial computed the dose",
                 "d2": "+ménage à trois\tof \"quoted\" terms",
                 "d3": "@mention - partial answer",
                 "p1": "  leading spaces and a trailing newline\n",
                 "p2": "positive two: 检索 works", "p3": "positive three", "p4": "positive four"})
QUERY_TEXT = {"q1": "-what computes the dose?", "q2": "q two", "q3": "q three", "q4": "q four"}

CANDIDATES = (
    [("q1", f"d{i}", "dense", i) for i in range(1, 7)]
    + [("q1", "p1", "dense", 7), ("q1", "d1", "bm25", 3)]
    + [("q2", d, "dense", r) for r, d in enumerate(["d1", "d7", "d8", "d9", "d10"], start=1)]
    + [("q3", d, "dense", r) for r, d in enumerate(["d11", "d12", "d13", "d14"], start=1)]
    + [("q4", d, "dense", r) for r, d in enumerate(["d15", "d16", "d17", "d18"], start=1)]
)
RISK = {("q1", "d1"): 0.95, ("q1", "d2"): 0.7, ("q1", "d3"): 0.6, ("q1", "d4"): 0.8,
        ("q1", "d5"): 0.2, ("q1", "d6"): 0.55, ("q1", "p1"): 0.99,
        ("q2", "d1"): 0.1, ("q2", "d7"): 0.3, ("q2", "d8"): 0.4, ("q2", "d9"): 0.9,
        ("q2", "d10"): 0.05,
        ("q4", "d15"): 0.1, ("q4", "d16"): 0.2, ("q4", "d17"): 0.3, ("q4", "d18"): 0.9}
JUDGMENTS = [  # (query, doc, annotator, label, action)
    ("q1", "d1", "ann", "false_negative", "label"),
    ("q1", "d2", "ann", "negative", "label"), ("q1", "d2", "bob", "negative", "label"),
    ("q1", "d3", "ann", "partial", "label"),
    ("q1", "d4", "ann", "false_negative", "label"), ("q1", "d4", "bob", "negative", "label"),
    ("q2", "d7", "ann", "false_negative", "label"), ("q2", "d7", "bob", "negative", "label"),
    ("q2", "d7", "boss", "false_negative", "adjudicate"),
    ("q2", "d8", "bob", "unsure", "label"),
    ("q2", "d9", "ann", "negative", "label"), ("q2", "d9", "ann", "false_negative", "label"),
]


def build_toy(store) -> None:
    docs = pd.DataFrame({"doc_id": list(DOC_TEXT), "title": ["T " + d if d.startswith("p") else ""
                                                             for d in DOC_TEXT],
                         "text": list(DOC_TEXT.values())})
    queries = pd.DataFrame({"query_id": list(QUERY_TEXT), "text": list(QUERY_TEXT.values())})
    qrels = pd.DataFrame({"query_id": ["q1", "q2", "q3", "q4", "q2"],
                          "doc_id": ["p1", "p2", "p3", "p4", "d9"],
                          "relevance": [1, 1, 1, 1, 0],
                          "split": ["train", "train", "train", "test", "train"],
                          "origin": "dataset"})
    cand = pd.DataFrame(CANDIDATES, columns=["query_id", "doc_id", "miner", "rank"])
    cand["score"] = 1.0 / cand["rank"]
    risk = pd.DataFrame([(q, d, "risk-v1", 0.8, r, "{}", "") for (q, d), r in RISK.items()],
                        columns=["query_id", "doc_id", "scorer_version", "pos_score", "fn_risk",
                                 "signals", "reasons"])
    with store.dataset_writer(DS, source="inline", fmt="test") as w:
        w.add("docs", docs)
        w.add("queries", queries)
        w.add("qrels", qrels)
        w.add("candidates", cand)
        w.add("risk", risk)
    for q, d, who, label, action in JUDGMENTS:
        store.add_judgment(DS, q, d, who, label, action=action)

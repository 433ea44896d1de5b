"""Near-identical candidates labelled differently for one query: rows for adjudication.

Corpora repeat themselves (mirrored pages, boilerplate abstracts, a passage split twice). When two
such copies of one text get different labels for the same query, at least one label is wrong:
across annotators it is a hidden disagreement, by one annotator it is a slip over time. Plain
disagreements on the *same* doc are left to the adjudication list that already handles them.

Near-identical = same normalised text, or word-set Jaccard >= a threshold (0.9): cheap, exact,
and explainable to an admin ("93% of the words are shared").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import pandas as pd

DEFAULT_THRESHOLD = 0.9
DECISIVE = ("negative", "false_negative", "partial")  # unsure and undo say nothing to compare
_WORD = re.compile(r"\w+", re.UNICODE)
COLUMNS = ["query_id", "doc_a", "doc_b", "similarity", "labels_a", "labels_b", "same_annotator"]


def normalise(text: str | None) -> str:
    """Lower-cased words joined by one space: punctuation, case and spacing do not count."""
    return " ".join(_WORD.findall((text or "").lower()))


def text_hash(text: str | None) -> str:
    return hashlib.sha1(normalise(text).encode("utf-8", "surrogatepass")).hexdigest()


def jaccard(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def near_duplicates(texts: Mapping[str, str], threshold: float = DEFAULT_THRESHOLD
                    ) -> list[tuple[str, str, float]]:
    """(id_a, id_b, similarity) for every pair of ids whose texts are near-identical, a < b.

    Sorted by word-set size, a pair is compared only while the smaller set is at least
    `threshold` times the larger (Jaccard can reach the threshold only then).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    items = sorted(((len(s), k, s, text_hash(texts[k]))
                    for k, s in ((k, frozenset(normalise(t).split())) for k, t in texts.items())),
                   key=lambda r: (r[0], r[1]))
    out: list[tuple[str, str, float]] = []
    for i, (na, ka, sa, ha) in enumerate(items):
        for nb, kb, sb, hb in items[i + 1:]:
            if na < threshold * nb:
                break
            sim = 1.0 if ha == hb else jaccard(sa, sb)
            if sim >= threshold:
                out.append((min(ka, kb), max(ka, kb), sim))
    return sorted(out)


def _votes(rows: pd.DataFrame) -> dict[str, str]:
    return dict(zip(rows["annotator"].astype(str), rows["label"].astype(str)))


def inconsistencies(labels: pd.DataFrame, texts: Mapping[str, str],
                    threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Pairs of near-identical candidates of one query whose current labels differ.

    `labels`: one current label per (query_id, doc_id, annotator) with column `label`;
    `texts`: doc_id -> the candidate text shown. `same_annotator` names who labelled both copies
    differently (empty when only different people disagree).
    """
    if labels is None or len(labels) == 0:
        return pd.DataFrame(columns=COLUMNS)
    lab = labels[labels["label"].astype(str).isin(DECISIVE)]
    rows: list[dict] = []
    for qid, grp in lab.groupby("query_id", sort=True):
        by_doc = {str(d): g for d, g in grp.groupby("doc_id", sort=True)}
        if len(by_doc) < 2:
            continue
        docs = {d: texts.get(d, "") for d in by_doc}
        for a, b, sim in near_duplicates(docs, threshold):
            va, vb = _votes(by_doc[a]), _votes(by_doc[b])
            if set(va.values()) == set(vb.values()) and len(set(va.values())) == 1:
                continue  # every label on both copies agrees
            same = sorted(n for n in va.keys() & vb.keys() if va[n] != vb[n])
            rows.append({"query_id": str(qid), "doc_a": a, "doc_b": b, "similarity": round(sim, 3),
                         "labels_a": ", ".join(f"{k}: {v}" for k, v in sorted(va.items())),
                         "labels_b": ", ".join(f"{k}: {v}" for k, v in sorted(vb.items())),
                         "same_annotator": ", ".join(same)})
    return pd.DataFrame(rows, columns=COLUMNS)

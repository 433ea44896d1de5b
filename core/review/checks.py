"""Checks on the team's own work, read from the store: time per decision against the reading
floor, labels that follow the card's risk (shown vs blind cards), near-identical candidates
labelled differently. The definitions are `core.quality`'s pure functions.
"""

from __future__ import annotations

import pandas as pd

from core.quality import consistency, pace
from core.quality.blind import follow_rates
from core.render import shown_text
from core.store import Store

DECISION_COLUMNS = ["query_id", "doc_id", "annotator", "label", "seconds", "floor_s",
                    "too_fast", "created_at"]


def _texts(store: Store, dataset: str, doc_ids: list[str]) -> dict[str, str]:
    """Each doc's title and the words its card shows (the reading floor's text)."""
    if not doc_ids:
        return {}
    docs = store.docs(dataset, doc_ids=sorted(set(doc_ids)))
    return {str(d): shown_text(t, x) for d, t, x in zip(docs.doc_id, docs.title, docs.text)}


def decisions(store: Store, dataset: str) -> pd.DataFrame:
    """Every label decision (undos and adjudications out) with its time and the reading floor
    of its candidate text; `too_fast` marks the ones to look at again."""
    j = store.judgments(dataset)
    if j.empty:
        return pd.DataFrame(columns=DECISION_COLUMNS)
    j = j[j.action == "label"]
    if "seconds" not in j:  # written before time per decision existed
        j = j.assign(seconds=float("nan"))
    texts = _texts(store, dataset, j.doc_id.astype(str).tolist())
    f = pace.flag_fast(j.assign(text=[texts.get(str(d), "") for d in j.doc_id]))
    return f[DECISION_COLUMNS].reset_index(drop=True)


def time_per_annotator(store: Store, dataset: str) -> pd.DataFrame:
    """Per annotator: decisions, timed ones, median seconds, how many beat the reading floor."""
    return pace.per_annotator(decisions(store, dataset))


def too_fast(store: Store, dataset: str) -> pd.DataFrame:
    """Decisions made faster than their passage can be read: for a second look."""
    d = decisions(store, dataset)
    return d[d.too_fast.astype(bool)].reset_index(drop=True)


def suggestion_follow(store: Store, dataset: str) -> pd.DataFrame:
    """How often labels follow the card's risk, shown cards vs blind ones (anchoring)."""
    j = store.judgments(dataset)
    j = j[j.action == "label"] if not j.empty else j
    return follow_rates(j)


def inconsistent(store: Store, dataset: str, threshold: float = consistency.DEFAULT_THRESHOLD
                 ) -> pd.DataFrame:
    """Near-identical candidates of one query with different current labels (adjudicate them)."""
    cur = store.current_labels(dataset)
    if cur.empty:
        return pd.DataFrame(columns=consistency.COLUMNS)
    # an adjudicated item counts with its final label only, so adjudicating both copies alike
    # settles the pair
    adj = cur[cur.action == "adjudicate"].sort_values("id").drop_duplicates(
        ["query_id", "doc_id"], keep="last")
    settled = set(zip(adj.query_id, adj.doc_id))
    rest = cur[[(q, d) not in settled for q, d in zip(cur.query_id, cur.doc_id)]]
    cur = pd.concat([rest[rest.action != "adjudicate"], adj], ignore_index=True)
    texts = _texts(store, dataset, cur.doc_id.astype(str).tolist())
    return consistency.inconsistencies(cur, texts, threshold)

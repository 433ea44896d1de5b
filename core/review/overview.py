"""What the team has done so far: consensus, agreement, progress, throughput, judged items, and
the small look-ups the pages list (miners, queries, item counts, risk aggregates).

Store reads only; the definitions (consensus, κ, α) are `core.labels`'.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from core import labels
from core.store import Store
from core.store import items as SI
from core.store import queue as SQ
from core.types import Label


def consensus(store: Store, dataset: str) -> pd.DataFrame:
    """Per judged item: votes, consensus label and status (`core.labels.consensus_from_labels`)."""
    return labels.consensus_from_labels(store.current_labels(dataset))


def disagreements(store: Store, dataset: str) -> pd.DataFrame:
    c = consensus(store, dataset)
    return c[c.status == "disagreement"].reset_index(drop=True)


def agreement(store: Store, dataset: str) -> dict:
    """Pairwise Cohen's kappa and overall Krippendorff's alpha over the annotators' votes (an
    adjudication is a verdict, not a vote: it neither counts nor hides its author's vote)."""
    return labels.agreement_from_labels(store.current_labels(dataset, votes_only=True))


def progress(store: Store, dataset: str) -> pd.DataFrame:
    """Per annotator: current votes by label value, total, and share of the dataset's items
    (adjudications are not votes: Admin -> Adjudicate lists them)."""
    cur = store.current_labels(dataset, votes_only=True)
    names = [m.value for m in Label]
    if cur.empty:
        return pd.DataFrame(columns=["annotator", *names, "total", "share"])
    t = cur.pivot_table(index="annotator", columns="label", values="id", aggfunc="count",
                        fill_value=0)
    for lab in names:
        if lab not in t.columns:
            t[lab] = 0
    t = t[names]
    t["total"] = t.sum(axis=1)
    t["share"] = t["total"] / max(SQ.count_items(store, dataset), 1)
    return t.reset_index()


def throughput(store: Store, dataset: str) -> pd.DataFrame:
    """Decisions per annotator per hour (undos included: they are work too)."""
    j = store.judgments(dataset)
    if j.empty:
        return pd.DataFrame(columns=["annotator", "hour", "decisions"])
    hours = pd.to_datetime(j.created_at, utc=True).dt.floor("h")
    return (j.assign(hour=hours).groupby(["annotator", "hour"]).size()
            .reset_index(name="decisions"))


def judged_items(store: Store, dataset: str) -> pd.DataFrame:
    """Judged items with consensus label, fn_risk and best mining rank (small: judged only)."""
    c = consensus(store, dataset)
    if c.empty:
        return pd.DataFrame(columns=["query_id", "doc_id", "label", "status", "fn_risk", "rank",
                                     "miner"])
    detail = SI.items_detail(store, dataset, c[["query_id", "doc_id"]])
    return c[["query_id", "doc_id", "label", "status"]].merge(detail, how="left")


def count_items(store: Store, dataset: str) -> int:
    """Distinct (query, candidate) items to review in a dataset."""
    return SQ.count_items(store, dataset)


def labels_since(store: Store, dataset: str, annotator: str, since: datetime) -> int:
    """Your labels in a dataset since `since` (a sign-in), undos taken back: the progress line's "this session"."""
    return SQ.labels_since(store, dataset, annotator, since)


def query_left(store: Store, dataset: str, annotator: str, query_id: str) -> tuple[int, int]:
    """(candidates of one query still without your label, candidates of the query): By query's "x of N left"."""
    return SQ.query_left(store, dataset, annotator, query_id)


def verdicts(store: Store, dataset: str) -> pd.DataFrame:
    """Each adjudicated item's verdict in force (its latest adjudication), newest first: what an admin decided,
    to check or change (an adjudicated item leaves the disagreements)."""
    v = store.judgments(dataset, action="adjudicate")
    if v.empty:
        return v
    return v.sort_values("id", ascending=False).drop_duplicates(["query_id", "doc_id"]).reset_index(drop=True)


def my_label(store: Store, dataset: str, annotator: str, query_id: str, doc_id: str) -> str | None:
    """The annotator's current label of one item (None: unlabelled), read when a key is pressed: another tab of
    the same account may have labelled the card since it was drawn."""
    return SQ.my_labels(store, dataset, annotator, [(query_id, doc_id)]).get((query_id, doc_id))


def miners(store: Store, dataset: str) -> list[str]:
    return SI.miners(store, dataset)


def candidate_queries(store: Store, dataset: str, limit: int = 5000) -> list[tuple[str, str]]:
    """(query_id, text) per query with candidates, by id (at most `limit`)."""
    return SI.candidate_queries(store, dataset, limit)


def rank_risk_summary(store: Store, dataset: str) -> pd.DataFrame:
    """Mean fn_risk and item count per best rank (each item once), aggregated in SQL."""
    return SI.rank_risk_summary(store, dataset)


def risk_histogram(store: Store, dataset: str, bins: int = 20) -> pd.DataFrame:
    """Counts of all items per fn_risk bin (the unjudged bulk), aggregated in SQL."""
    return SI.risk_histogram(store, dataset, bins)

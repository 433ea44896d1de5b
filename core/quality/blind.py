"""Blind audits against anchoring: a fixed share of cards is shown without fn_risk or reasons.

Which cards are blind is a pure hash of (dataset, query, doc, annotator), so a card stays blind
across reloads, sessions and processes without storing anything, and each annotator gets their
own random share (a card one person sees blind another may see with its risk).
"""

from __future__ import annotations

import hashlib
import math

import pandas as pd

DEFAULT_SHARE = 0.2
SETTING_KEY = "blind_share"


def parse_share(raw: str | float | None, default: float = DEFAULT_SHARE) -> float:
    """A stored setting as a share in [0, 1]; anything unreadable falls back to `default`."""
    try:
        v = float(raw) if raw not in (None, "") else default
    except (TypeError, ValueError):
        return default
    return default if math.isnan(v) else min(max(v, 0.0), 1.0)


def blind_score(dataset: str, query_id: str, doc_id: str, annotator: str) -> float:
    """A uniform number in [0, 1) fixed by the four keys (sha256, not Python's salted hash)."""
    key = f"{dataset}\x1f{query_id}\x1f{doc_id}\x1f{annotator}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2.0**64


def is_blind(dataset: str, query_id: str, doc_id: str, annotator: str,
             share: float = DEFAULT_SHARE) -> bool:
    """Whether this annotator sees this card without its risk and reasons."""
    return blind_score(dataset, query_id, doc_id, annotator) < share


SUGGESTS_FN = 0.5  # a card "suggests" a false negative when the risk it carries is at least this
FN_LABELS = ("false_negative", "partial")


def follow_rates(decisions: pd.DataFrame, threshold: float = SUGGESTS_FN) -> pd.DataFrame:
    """How often labels agree with the card's risk, on cards that showed it vs blind ones.

    `decisions`: label, blind (bool), shown_risk (the risk the card carried, shown or not).
    A label follows the suggestion when (risk >= threshold) == (label is false_negative or
    partial); unsure labels and rows without a risk or a blind flag are left out. If annotators
    anchor on the number, the shown cards follow it clearly more often than the blind ones.
    """
    cols = ["cards", "decisions", "follow", "follow_rate"]
    d = decisions
    if d is None or len(d) == 0 or not {"blind", "shown_risk", "label"} <= set(d.columns):
        return pd.DataFrame({"cards": ["shown", "blind"], "decisions": [0, 0], "follow": [0, 0],
                             "follow_rate": [float("nan")] * 2})[cols]
    d = d[d["label"].isin(("negative", *FN_LABELS)) & d["blind"].notna() & d["shown_risk"].notna()]
    follows = (d["shown_risk"].astype(float) >= threshold) == d["label"].isin(FN_LABELS)
    rows = []
    for name, flag in (("shown", False), ("blind", True)):
        m = d["blind"].astype(bool) == flag
        n, k = int(m.sum()), int(follows[m].sum())
        rows.append((name, n, k, k / n if n else float("nan")))
    return pd.DataFrame(rows, columns=cols)

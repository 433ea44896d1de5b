"""Blind audits against anchoring: a fixed share of cards is shown without fn_risk or reasons.

Which cards are blind is a pure hash of (dataset, query, doc, annotator), so a card stays blind
across reloads, sessions and processes without storing anything, and each annotator gets their
own random share (a card one person sees blind another may see with its risk).
"""

from __future__ import annotations

import hashlib
import math

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

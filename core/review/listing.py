"""Per-query list judging: every candidate of one query, in queue order, and the focus rules.

The list is the QUERY queue order with status "any" (labelled rows stay, showing their label);
cards are loaded once per query, labels are re-read per click (they are what changes).
"""

from __future__ import annotations

from core.review.cards import Card, load_card
from core.review.queue import queue_of
from core.store import Store
from core.store import queue as SQ
from core.types import Mode, QueueSpec

MAX_ROWS = 200  # a query with more candidates is judged in card mode (By query)


def query_cards(store: Store, annotator: str, dataset: str, query_id: str,
                limit: int = MAX_ROWS) -> list[Card]:
    """The candidates of one query, highest risk first, as cards (texts, risk, reasons)."""
    spec = QueueSpec(dataset, Mode.QUERY, status="any", query_id=query_id)
    rows = queue_of(store).next_keys(annotator, spec, limit=limit, k=10**6, resume=False)
    return [load_card(store, dataset, r.query_id, r.doc_id, r._asdict())
            for r in rows.itertuples(index=False)]


def my_labels(store: Store, dataset: str, annotator: str, cards: list[Card]
              ) -> dict[tuple[str, str], str]:
    """The annotator's current label of each listed card (absent = unlabelled)."""
    keys = [c.key for c in cards]
    out: dict[tuple[str, str], str] = {}
    for i in range(0, len(keys), 100):  # bounded OR-lists
        out.update(SQ.my_labels(store, dataset, annotator, keys[i:i + 100]))
    return out


def move(focus: int, delta: int, n: int) -> int:
    """Focus after j (+1) or k (-1): clamped to the list."""
    return 0 if n <= 0 else min(max(focus + delta, 0), n - 1)


def after_label(focus: int, n: int) -> int:
    """Focus after labelling the focused row: the next row (the last row keeps the focus)."""
    return move(focus, 1, n)

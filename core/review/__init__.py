"""The annotator's workflow: the queue (`queue`), cards (`cards`), decisions (`decisions`), team
settings (`settings`) and what the team has done (`overview`). No SQL here: the store builds it.

The pages call these names; `Mode` and `QueueSpec` are data (`core.types`).
"""

from core.review.cards import Card, common_terms, load_card
from core.review.decisions import adjudicate, decide, skip, step_away, undo
from core.review.overview import (
    agreement,
    candidate_queries,
    consensus,
    count_items,
    disagreements,
    judged_items,
    labels_since,
    miners,
    my_label,
    progress,
    query_left,
    rank_risk_summary,
    risk_histogram,
    throughput,
    verdicts,
)
from core.review.queue import Queue, next_card, next_keys, queue_of
from core.review.settings import (
    DEFAULT_GUIDELINES,
    LEASE_TTL,
    guidelines,
    overlap_k,
    set_guidelines,
    set_overlap_k,
)
from core.types import Mode, QueueSpec

__all__ = [
    "DEFAULT_GUIDELINES", "LEASE_TTL", "Card", "Mode", "Queue", "QueueSpec", "adjudicate",
    "agreement", "candidate_queries", "common_terms", "consensus", "count_items", "decide", "disagreements",
    "guidelines", "judged_items", "labels_since", "load_card", "miners", "my_label", "next_card", "next_keys", "overlap_k",
    "progress", "query_left", "queue_of", "rank_risk_summary", "risk_histogram", "set_guidelines",
    "set_overlap_k", "skip", "step_away", "throughput", "undo", "verdicts",
]

"""One review card: everything the Review page shows for a (query, candidate) item."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from core.highlight import common_terms as _common_terms
from core.render import CardText
from core.store import Store
from core.store import items as SI
from core.store import samples as SS


@dataclass
class Card:
    """Everything the review card shows for one (query, candidate) item."""

    dataset: str
    query_id: str
    doc_id: str
    query: str
    positives: list[CardText]
    candidate: CardText
    fn_risk: float | None
    reasons: str
    signals: dict = field(default_factory=dict)
    miners: list[dict] = field(default_factory=list)
    my_label: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.query_id, self.doc_id)


def load_card(store: Store, dataset: str, query_id: str, doc_id: str, row: dict | None = None
              ) -> Card:
    """Assemble one card with point look-ups (no scans of the big tables)."""
    row = {**(row or {}), **SI.risk_row(store, dataset, query_id, doc_id)}
    pos_ids, docs = SI.card_docs(store, dataset, query_id, doc_id, max_positives=3)
    docs = docs.set_index("doc_id")

    def card_text(did: str) -> CardText:
        if did in docs.index:
            d = docs.loc[did]
            return CardText(did, str(d["title"] or ""), str(d["text"] or ""))
        return CardText(did, "", "(document text not found)")

    try:
        signals = json.loads(row.get("signals") or "{}")
    except (TypeError, ValueError):
        signals = {}
    risk = row.get("fn_risk")
    return Card(
        dataset=dataset, query_id=query_id, doc_id=doc_id,
        query=SI.query_text(store, dataset, query_id),
        positives=[card_text(p) for p in pos_ids],
        candidate=card_text(doc_id),
        fn_risk=None if risk is None or pd.isna(risk) else float(risk),
        reasons=str(row.get("reasons") or ""),
        signals=signals if isinstance(signals, dict) else {},
        miners=SI.item_candidates(store, dataset, query_id, doc_id).to_dict("records"),
        my_label=None if pd.isna(row.get("my_label")) else row.get("my_label"),
    )


def common_terms(store: Store, dataset: str) -> frozenset[str]:
    """Terms too common in the dataset to mean anything when highlighted (from a doc sample)."""
    return _common_terms(SS.doc_texts(store, dataset))

"""Blind audits in the review: the team's share setting and which cards are blind for whom.

The assignment itself is `core.quality.blind` (a pure hash); this module reads and writes the
admin's setting in the store.
"""

from __future__ import annotations

from core.auth import User, require_role
from core.quality.blind import DEFAULT_SHARE, SETTING_KEY, is_blind, parse_share
from core.store import Store
from core.types import NegauditError, Role


def blind_share(store: Store) -> float:
    """The share of cards shown without fn_risk and reasons (default 20%)."""
    return parse_share(store.get_setting(SETTING_KEY, str(DEFAULT_SHARE)))


def set_blind_share(store: Store, share: float, actor: User) -> None:
    require_role(actor, Role.ADMIN)
    if not 0.0 <= float(share) <= 1.0:
        raise NegauditError("blind audit share must be between 0 and 1 (0% to 100%)")
    store.set_setting(SETTING_KEY, repr(float(share)))


def card_is_blind(store: Store, dataset: str, query_id: str, doc_id: str, annotator: str,
                  share: float | None = None) -> bool:
    """Whether `annotator` sees this card blind under the current (or given) share."""
    return is_blind(dataset, query_id, doc_id, annotator,
                    blind_share(store) if share is None else share)

"""An annotator's decisions: label, skip, undo; an admin's adjudication. Each is durable at once."""

from __future__ import annotations

from core.auth import User, require_role
from core.review.settings import LEASE_TTL
from core.store import Store, leases
from core.types import Label, Role


def _label(label: Label | str) -> Label:
    return Label.parse(label.value if isinstance(label, Label) else label)


def decide(store: Store, user: User, dataset: str, query_id: str, doc_id: str,
           label: Label | str, note: str = "", seconds: float | None = None,
           blind: bool | None = None, shown_risk: float | None = None, queue: str | None = None) -> int:
    """Write one label now (durable before the next card is chosen) and free the lease.

    `seconds` (card shown -> decision), `blind`, `shown_risk` and `queue` (the queue order the card came
    from) are stored with the judgment.
    """
    jid = store.add_judgment(dataset, query_id, doc_id, user.name, _label(label),
                             note=note.strip(), seconds=seconds, blind=blind,
                             shown_risk=shown_risk, queue=queue)
    leases.release(store, dataset, query_id, doc_id, user.name)
    return jid


def skip(store: Store, user: User, dataset: str, query_id: str, doc_id: str) -> None:
    """Move on without a row: only the lease goes, so someone else may take the item."""
    leases.release(store, dataset, query_id, doc_id, user.name)


def step_away(store: Store, user: User) -> int:
    """Give back the cards `user` holds (signing out, or opening a page other than Review): a card on a
    screen nobody works at must not count toward overlap k, nor hide the queue's head, until its lease runs
    out. Coming back to Review takes the queue's head again."""
    return leases.release_all(store, user.name)


def undo(store: Store, user: User, dataset: str) -> dict | None:
    """Append an undo row; the undone item is leased back so it is the next card shown."""
    out = store.undo_last(dataset, user.name)
    if out is not None:
        leases.lease(store, dataset, out["query_id"], out["doc_id"], user.name, LEASE_TTL)
    return out


def adjudicate(store: Store, actor: User, dataset: str, query_id: str, doc_id: str,
               label: Label | str, note: str = "") -> int:
    """An admin's final label for a disputed item."""
    require_role(actor, Role.ADMIN)
    return store.add_judgment(dataset, query_id, doc_id, actor.name, _label(label), note=note,
                              action="adjudicate")

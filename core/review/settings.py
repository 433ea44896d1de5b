"""The review's team settings (overlap k, guidelines): stored in the store, changed by admins."""

from __future__ import annotations

from datetime import timedelta

from core.auth import User, require_role
from core.store import Store
from core.types import NegauditError, Role

LEASE_TTL = timedelta(minutes=30)  # how long an item shown to an annotator stays theirs
OVERLAP_KEY = "overlap_k"
GUIDELINES_KEY = "guidelines"
DEFAULT_GUIDELINES = """\
- **Negative (N)**: the candidate does not answer the query; safe to train on as a negative.
- **False negative (F)**: the candidate answers the query as well as a labelled positive would.
- **Partial (P)**: it answers part of the query, or a closely related question.
- **Unsure (U)**: you cannot tell from the text; add a note saying why.

**Skip (S)** moves on without writing anything; **Undo (Z)** takes back your last decision, one per press.
"""  # a markdown list: single newlines ran the four labels together into one paragraph


def int_setting(store: Store, key: str, default: int, minimum: int) -> int:
    """A whole-number team setting: `default` when unset or unreadable, never under `minimum`."""
    try:
        return max(minimum, int(store.get_setting(key, str(default)) or default))
    except ValueError:
        return default


def overlap_k(store: Store) -> int:
    """How many annotators an item goes to (and at most holds at once); 1 = no overlap."""
    return int_setting(store, OVERLAP_KEY, 1, minimum=1)


def set_overlap_k(store: Store, k: int, actor: User) -> None:
    require_role(actor, Role.ADMIN)
    if not 1 <= int(k) <= 20:
        raise NegauditError("overlap k must be between 1 and 20")
    store.set_setting(OVERLAP_KEY, str(int(k)))


def guidelines(store: Store) -> str:
    return store.get_setting(GUIDELINES_KEY, DEFAULT_GUIDELINES) or ""


def set_guidelines(store: Store, markdown: str, actor: User) -> None:
    require_role(actor, Role.ADMIN)
    store.set_setting(GUIDELINES_KEY, markdown or "")

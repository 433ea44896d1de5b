"""What both review views share: the label keys, the one-screen layout, cached common terms."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

import streamlit as st

from core import auth, render, review
from core.auth import User
from core.review import learning
from core.store import Store
from pages._ui import DB_ERRORS, database_down

LABELS = [  # (label, button text, shortcut: Streamlit shows the key on the button)
    ("negative", "Negative", "N"),
    ("false_negative", "False negative", "F"),
    ("partial", "Partial", "P"),
    ("unsure", "Unsure", "U"),
]
WORDS = {label: text for label, text, _ in LABELS}  # what the annotator sees on the buttons, in messages too


def guarded(fn: Callable[..., None]) -> Callable[..., None]:
    """A review callback that meets a database that stopped answering: the progress line says nothing was
    saved, instead of a stack trace (a callback's error escapes the page's own handling)."""
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except DB_ERRORS as exc:
            st.session_state["flash"] = "Not saved. " + database_down(exc)
    return run


def item_tag(query_id: str, doc_id: str) -> str:
    """A short id of one item for its buttons' keys: Streamlit runs a click with the args of the latest run that
    drew the widget id, so buttons shared by every item could act on an item drawn after the one on screen."""
    return hashlib.sha1(f"{query_id}\x1f{doc_id}".encode()).hexdigest()[:10]


def saved_line(label: str, qid: str, did: str, replaced: str | None = None) -> str:
    """The save message; ``replaced``: your label the card did not show (another tab or window set it since)."""
    was = f" It replaces your {WORDS.get(replaced, replaced)} from another tab or window." if replaced else ""
    return f"Saved {WORDS.get(label, label)} for query {qid} / doc {did}.{was}"


def undone_line(out: dict) -> str:
    """What Undo did, naming the query too (one doc is often labelled for several queries)."""
    now = WORDS.get(out["restored"], out["restored"]) if out["restored"] else "unlabelled"
    return f"Undid your last decision on query {out['query_id']} / doc {out['doc_id']}: now {now}."


# Both passage boxes (and the list) take what the viewport leaves after the fixed rows:
# at 1280x800 about 390 px, never under 160 px; each scrolls inside itself.
BOX_HEIGHT = "max(160px, calc(100vh - 410px))"
# Our own static CSS: a tighter page so query, passages, risk and keys fit one screen; a button's
# label wraps instead of ending in an ellipsis ("False n..." with the sidebar open at 1024 px); an opened
# "show more" goes (it read "show more" above the text it had shown) and its words go on the same line
# (Chromium's details content is a block of its own: the text broke off mid-sentence).
CSS = """<style>
[data-testid="stMainBlockContainer"]{padding-top:3rem;padding-bottom:1rem;
  padding-left:2rem;padding-right:2rem}
h1{font-size:1.5rem !important;padding:0 0 0.1rem 0 !important}
[data-testid="stMain"] [data-testid="stVerticalBlock"]{gap:0.5rem}
[data-testid="stMain"] [data-testid^="stBaseButton"] .stMarkdownEllipsis,
[data-testid="stMain"] [data-testid^="stBaseButton"] .stMarkdownEllipsis p{white-space:normal;
  overflow:visible;text-overflow:clip;line-height:1.2;word-break:keep-all;overflow-wrap:normal}
details.na-more[open] > summary{display:none !important}
details.na-more[open]::details-content{display:inline}
@media (max-width:1200px){[data-testid="stMain"] [data-testid^="stBaseButton"]{padding-left:6px;
  padding-right:6px}}
</style>"""


@st.cache_data(ttl=600, show_spinner=False)
def _common(url: str, dataset: str, _store: Store) -> frozenset[str]:
    return review.common_terms(_store, dataset)


def common_terms(store: Store, dataset: str) -> frozenset[str]:
    """Terms in more than 10% of (a sample of) the dataset's docs: never highlighted."""
    return _common(store.url, dataset, store)


def flash_line(store: Store, me: User, dataset: str, flash: str | None, query_id: str | None = None) -> str:
    """Progress and the last action's message on one line (no banner pushing the card down); with ``query_id``
    (By query) also how many of that query's candidates still want your label."""
    prog = review.progress(store, dataset)
    mine = prog[prog.annotator == me.name]
    done = int(mine.total.iloc[0]) if not mine.empty else 0
    total = review.count_items(store, dataset)
    # since this sign-in, from the log: a reload or a second tab of the same session keeps the count (a counter
    # in the browser session went back to 0 on a reload), and an undo takes one back
    since = auth.session_started(store, st.session_state.get("token"))
    now = review.labels_since(store, dataset, me.name, since) if since is not None else 0
    msg = f" &#183; {render.plain(flash)}" if flash else ""
    if query_id is not None:
        left, n = review.query_left(store, dataset, me.name, query_id)
        msg = f" &#183; {left:,} of {n:,} left in this query{msg}"
    style = "font-size:0.9em;opacity:0.85;line-height:1.5;padding-bottom:0.35rem"
    return (f'<div class="na-progress" style="{style}">You&#58; {done:,} of '
            f"{total:,} labelled, {now:,} this session{msg}</div>")


def learned_line(store: Store, dataset: str) -> str:
    """Sidebar note on the learning queue: when risk was last refitted from judgments."""
    every = learning.learn_every(store)
    if every <= 0:
        return "Learning queue: off (Admin sets it)."
    hist = [h for h in learning.history(store, dataset) if "skipped" not in h]
    if not hist:
        return f"Learning queue: risk is refitted after every {every} judgments."
    last = hist[-1]
    level = (f" Risk percentages re-levelled from {last['level_sample']} random-order judgments."
             if last.get("level_shift") else "")
    return (f"Learning queue: refitted at {last['judgments']} judgments "
            f"({last['head_moved']} of the top {learning.HEAD} moved); every {every}.{level}")


def query_choice(query_id: str, text: str, width: int = 70) -> str:
    """A query picker's option: its id and the start of what it asks (plain text: pickers render none)."""
    text = " ".join(str(text).split())
    return f"{query_id} · {text[:width - 1] + '…' if len(text) > width else text}" if text else str(query_id)


def next_query_button(qtexts: dict[str, str], current: str | None, picker_key: str, key: str) -> bool:
    """The "Next query (Q)" button after `current` in the picker's order (both review views); False when
    `current` is the last. A click sets the sidebar picker `picker_key` before it is drawn again."""
    ids = list(qtexts)
    after = ids[ids.index(current) + 1:] if current in qtexts else []
    if not after:
        return False

    def _go() -> None:
        st.session_state[picker_key] = after[0]

    st.button(f"Next query: {render.plain(query_choice(after[0], qtexts[after[0]]))}", key=key,
              shortcut="Q", type="primary", on_click=_go)
    return True

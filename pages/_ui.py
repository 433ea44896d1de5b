"""Streamlit glue shared by the pages: the store, the signed-in user, small widgets. No logic."""

from __future__ import annotations

import os

import streamlit as st
from sqlalchemy.exc import DBAPIError

from core import auth, render
from core.auth import User
from core.store import Store, resolve_url
from core.types import AuthorizationError, Role

TOKEN_PARAM = "session"


@st.cache_resource(show_spinner=False)
def _open_store(url: str) -> Store:
    return Store.open(url)


def store() -> Store:
    """The app process's one Store for `NEGAUDIT_DB` (DuckDB: this process owns the file)."""
    return _open_store(resolve_url(os.environ.get("NEGAUDIT_DB")))


def current_user() -> User | None:
    """The signed-in user; a refresh or a new tab re-signs in from the URL's session token."""
    token = st.session_state.get("token") or st.query_params.get(TOKEN_PARAM)
    user = auth.user_for_token(store(), token) if token else None
    if user is None:
        if token:  # a session that ended: say why the sign-in page is back
            st.session_state["session_ended"] = True
        st.session_state.pop("token", None)
        st.session_state.pop("user", None)
        if TOKEN_PARAM in st.query_params:
            del st.query_params[TOKEN_PARAM]
        return None
    st.session_state["token"], st.session_state["user"] = token, user
    if st.query_params.get(TOKEN_PARAM) != token:
        st.query_params[TOKEN_PARAM] = token  # page switches drop query params: put it back
    return user


def sign_in_page() -> None:
    st.title("negaudit — sign in")
    if st.session_state.pop("session_ended", False):
        st.info("Your session ended: it expired, or an admin changed your account. "
                "Sign in again.")
    with st.form("sign-in"):
        name = st.text_input("User name")
        password = st.text_input("Password", type="password")
        ok = st.form_submit_button("Sign in", type="primary")
    if ok:
        result = auth.sign_in(store(), name.strip(), password)
        if result is None:
            st.error("Unknown user name or wrong password.")
        else:
            user, token = result
            st.session_state["token"], st.session_state["user"] = token, user
            st.query_params[TOKEN_PARAM] = token
            st.rerun()
    st.caption("Accounts are created with `negaudit users add NAME --role annotator` "
               "(`negaudit serve --demo` creates demo/demo).")


def sign_out() -> None:
    u = st.session_state.get("user")
    if u is not None:  # the card on screen goes back to the queue
        off_review(u, always=True)
    auth.sign_out(store(), st.session_state.get("token"))
    for k in ("token", "user"):
        st.session_state.pop(k, None)
    if TOKEN_PARAM in st.query_params:
        del st.query_params[TOKEN_PARAM]


def user() -> User:
    """The signed-in user (app.py only routes signed-in users to the pages)."""
    u = st.session_state.get("user")
    if u is None:
        st.stop()
    return u


ON_REVIEW = "on_review"  # set by the Review page: this session may hold a card


def off_review(u: User, always: bool = False) -> None:
    """Called by every page but Review (and on sign-out, `always`): the card `u` held there goes back to the
    queue (overlap k counts holders, and signing in lands on Review, so an admin who went straight to Admin
    held the head). Only once per visit to Review: the other pages' reruns write nothing."""
    if st.session_state.pop(ON_REVIEW, False) or always:
        from core import review

        review.step_away(store(), u)


def require_admin() -> User:
    """Page-level guard; core functions check the role again."""
    u = user()
    try:
        auth.require_role(u, Role.ADMIN)
    except AuthorizationError as exc:
        st.error(f"Admins only: {exc}")
        st.stop()
    return u


DB_ERRORS = (DBAPIError,)  # the driver lost its server mid-run (PostgreSQL stopped, network gone)


def database_down(exc: BaseException) -> str:
    """What the page says when the store stops answering: one line, not a stack trace, and what became of
    the keys pressed (each label is written when pressed and confirmed by its 'Saved' message)."""
    from core.store.engine import first_line

    return (f"The database did not answer ({first_line(exc)}). Anything without a 'Saved' message was not "
            "saved; reload this page once the database is back.")


# Commands core's messages name that the app does with a button (a shell command means nothing in a browser).
APP_COMMANDS = {"negaudit mine": "Mine + score (Datasets page)", "negaudit score": "Mine + score (Datasets page)"}


def show_error(exc: Exception, controls: dict[str, str] | None = None) -> None:
    """A core error on the page, shown literally, its CLI flags named as this page's controls
    (`controls`: flag -> the words for the control, e.g. {"--out": "output path"}) and its commands as the
    app's buttons (`APP_COMMANDS`)."""
    st.error(render.plain(render.in_app_words(str(exc), controls or {}, APP_COMMANDS)))


def dataset_picker(key: str = "dataset", where=st.sidebar) -> str | None:
    names = store().dataset_names()
    if not names:
        st.info("No datasets yet: import one on the **Datasets** page.")
        return None
    # One choice for every picker (pages and tabs): the one last changed wins, set before any is drawn;
    # each picker keeping its own value showed Admin's Adjudicate another dataset than Consistency's.
    choice = st.session_state.get("dataset_choice")
    st.session_state[key] = choice if choice in names else names[0]
    name = where.selectbox("Dataset", names, key=key, on_change=_chose_dataset, args=(key,))
    st.session_state["dataset_choice"] = name
    return name


def _chose_dataset(key: str) -> None:
    st.session_state["dataset_choice"] = st.session_state[key]


# Our own static script (no data in it): after a sidebar choice (queue, filter, query) the control keeps
# the keyboard focus, so the label keys went into its search box and nothing said so.
# A control the user has just opened again (its list expanded) keeps the focus: the script can run a moment
# after the next click, and closed that list under the pointer.
_RELEASE_FOCUS = """<script data-run="{n}">
(() => {{ const a = document.activeElement;
  if (a && a.closest && a.closest('[data-testid="stSidebar"]') && a.getAttribute('aria-expanded') !== 'true')
    a.blur(); }})();
</script>"""


# Enter or Escape in the note field hands the keyboard back to the label keys (Streamlit keeps the focus in a
# text input after Enter, so the next F was typed into the note). Installed once per browser tab.
_NOTE_KEYS = """<script>
(() => {{ if (window.__naNoteKeys) return; window.__naNoteKeys = true;
  document.addEventListener('keydown', (e) => {{
    const t = e.target;
    if ((e.key === 'Enter' || e.key === 'Escape') && t && t.tagName === 'INPUT'
        && (t.getAttribute('placeholder') || '').startsWith('{prefix}'))
      setTimeout(() => t.blur(), 0);
  }}, true); }})();
</script>"""
NOTE_PLACEHOLDER = "note (optional)"


def note_field_returns_keys() -> None:
    """Enter or Escape in a field whose placeholder starts with :data:`NOTE_PLACEHOLDER` leaves it."""
    st.sidebar.html(_NOTE_KEYS.format(prefix=NOTE_PLACEHOLDER), unsafe_allow_javascript=True)


def release_sidebar_focus() -> None:
    """Give the keyboard back to the page's shortcut keys once a sidebar control has changed."""
    n = st.session_state["release_focus"] = st.session_state.get("release_focus", 0) + 1
    st.sidebar.html(_RELEASE_FOCUS.format(n=n), unsafe_allow_javascript=True)

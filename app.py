"""negaudit review app: navigation and sign-in only; every page is thin and calls `core`."""

from __future__ import annotations

import streamlit as st

from core import render
from pages._ui import DB_ERRORS, current_user, database_down, sign_in_page, sign_out

st.set_page_config(page_title="negaudit", page_icon=":material/fact_check:", layout="wide")


def main() -> None:
    user = current_user()
    if user is None:
        nav = st.navigation([st.Page(sign_in_page, title="Sign in", icon=":material/login:")])
    else:
        pages = [
            st.Page("pages/review.py", title="Review", icon=":material/rate_review:", default=True),
            st.Page("pages/datasets.py", title="Datasets", icon=":material/database:"),
            st.Page("pages/insights.py", title="Insights", icon=":material/insights:"),
        ]
        if user.is_admin:
            pages += [
                st.Page("pages/export.py", title="Export", icon=":material/download:"),
                st.Page("pages/admin.py", title="Admin", icon=":material/admin_panel_settings:"),
            ]
        nav = st.navigation(pages)
        with st.sidebar:
            st.caption(f"Signed in as **{user.name}** ({user.role.value})")
            if st.button("Sign out", key="sign_out"):
                sign_out()
                st.rerun()
    nav.run()


try:
    main()
except DB_ERRORS as exc:  # the server went away mid-run: one line, not a stack trace
    said = render.plain(database_down(exc))
    # A run that never reached st.navigation would fall back to running the last page's script, which meets
    # the same error with a stack trace: this run's one page is the message.
    st.navigation([st.Page(lambda: st.error(said), title="Database unreachable", icon=":material/cloud_off:")]
                  ).run()

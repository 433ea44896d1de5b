"""A PostgreSQL server that stops answering while an annotator labels, in Chromium: one line on the page, not a
stack trace (the team audit saw sqlalchemy's OperationalError with its traceback), and no "Saved" for the key."""

from __future__ import annotations

import os

import pytest
from synthetic import seed_sample

from core import auth
from core.store import Store
from tests.browser.conftest import (
    focus_page,
    require_chromium,
    sign_in,
    start_server,
    stop_server,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
require_chromium()


@pytest.fixture()
def own_server():
    """A PostgreSQL server of this test's own: it is stopped mid-test (the session's shared one serves others)."""
    from core.store.pgserver import PostgresUnavailable, TempPostgres

    try:
        server = TempPostgres().start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true needs PostgreSQL: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield server
    server.stop()


def test_the_server_going_away_mid_labelling_is_one_line(own_server, browser_page):
    url = own_server.create_database()
    with Store.open(url) as s:
        seed_sample(s, "mini", n_queries=2, n_docs=60, per_query=4)
        auth.add_user(s, "ann", "annotator", "pw-ann")
    app, proc = start_server(url)
    try:
        page = browser_page(1280, 800)
        sign_in(page, app, "ann", "pw-ann")
        focus_page(page)
        page.keyboard.press("n")
        page.get_by_text("Saved Negative", exact=False).wait_for(timeout=30_000)
        own_server.stop()
        focus_page(page)
        page.keyboard.press("f")
        page.get_by_text("The database did not answer", exact=False).wait_for(timeout=30_000)
        wait_idle(page)
        body = page.locator("body").inner_text()
        assert "reload this page once the database is back" in body
        assert "Traceback" not in body and "OperationalError" not in body and "sqlalchemy" not in body
        assert "Saved False negative" not in body
    finally:
        stop_server(proc)

"""Real Chromium against `streamlit run app.py` on a really scored store (tests/scored_store.py):
sign in, label by keyboard, undo, reload, XSS.

Needs Debian's /usr/bin/chromium (never `playwright install`); skips without it unless CI=true.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from scored_store import build_scored_store

from core import auth
from core.store import Store
from tests.browser.conftest import (
    ARGS,
    ARTIFACTS,
    CHROMIUM,
    focus_page,
    require_chromium,
    start_server,
    stop_server,
    wait_idle,
)

pytestmark = pytest.mark.browser
DS = "mini"
MARKERS = {"hostile-bold": "**bold**", "hostile-img": "onerror", "hostile-link": "javascript:",
           "hostile-script": "<script>"}  # what each hostile passage must show as plain text

require_chromium()


@pytest.fixture()
def server(tmp_path):
    db = build_scored_store(tmp_path / "browser.duckdb", tmp_path, DS)
    with Store.open(str(db)) as s:
        auth.add_user(s, "ann", "annotator", "pw-ann")
    url, proc = start_server(db)
    yield url, db, proc
    stop_server(proc)


def _card(page) -> str:
    return page.locator(".na-candidate").inner_text(timeout=30_000)


def _press_on_card(page, key: str) -> str:
    """Press a label key on the card shown (no click on the page first); returns the next card's text."""
    page.wait_for_timeout(300)
    shown = _card(page)
    page.keyboard.press(key)
    nxt = _wait_card_change(page, shown)
    wait_idle(page)
    return nxt


def _wait_card_change(page, old: str) -> str:
    deadline = time.time() + 30
    while time.time() < deadline:
        text = _card(page)
        if text != old:
            return text
        time.sleep(0.2)
    raise AssertionError("the next card never appeared")


def _assert_inert(page) -> None:
    for part in (".na-query", ".na-positive", ".na-candidate", ".na-risk"):
        card = page.locator(part)
        for tag in ("script", "img", "a", "strong", "em", "code", "h1", "span.katex"):
            assert card.locator(tag).count() == 0, f"<{tag}> rendered from text in {part}"


def _by_query_order(db: Path) -> list[str]:
    """The "By query" queue of the first query (the page's default): its items by fn_risk."""
    with Store.open(str(db)) as s:
        r = s.risk(DS)
    r = r[r.query_id == min(r.query_id)]
    return list(r.sort_values(["fn_risk", "doc_id"], ascending=[False, True]).doc_id)


def test_keyboard_review_survives_reload_and_stays_inert(server):
    from playwright.sync_api import expect, sync_playwright

    url, db, proc = server
    order = _by_query_order(db)
    # The real scorer ranks the hostile near-duplicates of this query's positive near the top;
    # the walk below covers the first five items, so at least three hostile cards are judged.
    assert len(set(order[:5]) & set(MARKERS)) >= 3, order[:8]
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        page.get_by_role("textbox", name="User name").fill("ann")
        page.get_by_role("textbox", name="Password").fill("pw-ann")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator(".na-candidate")).to_be_visible(timeout=30_000)
        text = _card(page)
        page.get_by_text("By query", exact=True).click()  # the hostile query's cards
        _wait_card_change(page, text)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "review_page.png"), full_page=True)
        page.locator(".na-candidate").screenshot(path=str(ARTIFACTS / "review_card.png"))

        seen, text = [], _card(page)
        for key in ("n", "f", "p"):
            seen.append(text)
            _assert_inert(page)
            focus_page(page)
            page.keyboard.press(key)
            text = _wait_card_change(page, text)
        assert all(MARKERS[doc] in card for doc, card in zip(order, seen) if doc in MARKERS)
        wait_idle(page)
        page.keyboard.press("z")  # undo the third decision: its card comes back
        text = _wait_card_change(page, text)
        assert text == seen[2]
        page.reload()
        expect(page.locator(".na-candidate")).to_be_visible(timeout=30_000)
        assert _card(page) == seen[2]  # still signed in, resumed on the same card
        _assert_inert(page)
        # the items after it, reached by skipping, show hostile passages as text too, and the
        # first ordinary one highlights the terms it shares with the query
        text, pos = seen[2], 3
        while True:
            focus_page(page)
            page.keyboard.press("s")
            text = _wait_card_change(page, text)
            _assert_inert(page)
            if order[pos] not in MARKERS:
                break
            assert MARKERS[order[pos]] in text
            pos += 1
        assert page.locator(".na-candidate mark").count() > 0
        page.locator(".na-candidate").screenshot(path=str(ARTIFACTS / "review_card_highlight.png"))
        browser.close()
    assert dialogs == []
    proc.terminate()
    proc.wait(10)
    with Store.open(str(db)) as s:
        j = s.judgments(DS)
        got = list(zip(j.doc_id, j.label, j.action))
        cur = s.current_labels(DS)
    assert got == [(order[0], "negative", "label"), (order[1], "false_negative", "label"),
                   (order[2], "partial", "label"), (order[2], "", "undo")]
    assert sorted(zip(cur.doc_id, cur.label)) == sorted([(order[0], "negative"),
                                                         (order[1], "false_negative")])


def _signed_in(p, url: str):
    """Chromium at 1280x800 on the app, signed in as the annotator, the first card up."""
    from playwright.sync_api import expect

    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(url)
    page.get_by_role("textbox", name="User name").fill("ann")
    page.get_by_role("textbox", name="Password").fill("pw-ann")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".na-candidate")).to_be_visible(timeout=30_000)
    return browser, page


def _judgments_after(proc, db: Path):
    """Stop the app (it holds the DuckDB file), then read what it wrote."""
    proc.terminate()
    proc.wait(10)
    with Store.open(str(db)) as s:
        return s.judgments(DS)


def test_a_burst_of_keys_labels_each_card_once(server):
    """F pressed five times 40 ms apart: each card gets at most one judgment (a burst once wrote one card
    five times, four with a decision time of 0 s, and Z then seemed to do nothing); keys that arrive before
    the next card is up save nothing and say so."""
    from playwright.sync_api import sync_playwright

    url, db, proc = server
    with sync_playwright() as p:
        browser, page = _signed_in(p, url)
        first = _card(page)
        focus_page(page)
        for _ in range(5):
            page.keyboard.press("f")
            page.wait_for_timeout(40)
        _wait_card_change(page, first)
        wait_idle(page)
        browser.close()
    j = _judgments_after(proc, db)
    assert len(j) >= 1 and set(j.action) == {"label"} and set(j.label) == {"false_negative"}
    per_card = j.groupby(["query_id", "doc_id"]).size()
    assert per_card.max() == 1, per_card[per_card > 1]
    assert (j.seconds > 0).all(), j.seconds.tolist()


def test_keys_work_right_after_a_sidebar_choice(server):
    """After picking a queue and a query in the sidebar the keys label the card: the control kept the focus,
    so N went into the query box's search and nothing was saved or said."""
    from playwright.sync_api import sync_playwright

    url, db, proc = server
    with sync_playwright() as p:
        browser, page = _signed_in(p, url)
        wait_idle(page)
        page.get_by_text("By query", exact=True).click()
        wait_idle(page)
        box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Query")
        box.locator("input").click()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        wait_idle(page)
        # the page hands the keys back from the picker once the run is drawn: wait for that (a loaded machine
        # drew it after the run had gone idle), then press; a picker that kept the focus fails here
        page.wait_for_function("!['INPUT', 'TEXTAREA'].includes(document.activeElement.tagName)", timeout=20_000)
        _press_on_card(page, "n")
        browser.close()
    j = _judgments_after(proc, db)
    assert list(j.label) == ["negative"] and set(j.queue) == {"query"}  # labelled by the key, in By query


def test_keys_work_after_switching_view_and_after_a_note(server):
    """Two traps of an annotator's day: after switching View the keyboard stayed on the sidebar radio (every
    key did nothing, nothing said), and after Enter in the note the next F was typed into the note."""
    from playwright.sync_api import sync_playwright

    url, db, proc = server
    with sync_playwright() as p:
        browser, page = _signed_in(p, url)
        wait_idle(page)
        page.get_by_text("List by query", exact=True).click()
        wait_idle(page)
        page.get_by_text("One card", exact=True).click()
        wait_idle(page)
        _press_on_card(page, "n")  # straight after the View radio
        note = page.get_by_placeholder("note (optional)", exact=False)
        note.click()
        note.type("same cohort as the positive")
        page.keyboard.press("Enter")
        wait_idle(page)
        _press_on_card(page, "f")
        browser.close()
    j = _judgments_after(proc, db)
    assert list(j.label) == ["negative", "false_negative"], list(j.label)
    assert list(j.note) == ["", "same cohort as the positive"]  # no stray "f" in it

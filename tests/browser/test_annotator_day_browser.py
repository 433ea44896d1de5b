"""Issue 15 in real Chromium at 1280x800: one-screen card, list judging by keys, blind cards,
export downloads. Screenshots go to tests/artifacts/ (look at them).
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from synthetic import seed_sample

from core import auth
from core.store import Store
from tests.browser.conftest import (
    ARTIFACTS,
    focus_page,
    require_chromium,
    sign_in,
    start_server,
    stop_server,
)

require_chromium()
pytestmark = pytest.mark.browser
DS = "mini"
W, H = 1280, 800


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """A real SciFact sample (full-length abstracts) with 8 candidates per query."""
    db = tmp_path_factory.mktemp("day") / "seed.duckdb"
    with Store.open(str(db)) as s:
        seed_sample(s, DS, n_queries=3, n_docs=200, per_query=8)
        auth.add_user(s, "ann", "annotator", "pw-ann")
        auth.add_user(s, "boss", "admin", "pw-boss")
        s.set_setting("blind_share", "0")  # deterministic: no blind card unless a test asks
    return db


@pytest.fixture()
def server(seeded, tmp_path):
    db = tmp_path / "day.duckdb"
    shutil.copy(seeded, db)
    url, proc = start_server(db)
    yield url, db, proc
    stop_server(proc)


def _inside(box: dict | None, what: str) -> None:
    assert box is not None, f"{what} not rendered"
    assert box["y"] >= 0 and box["y"] + box["height"] <= H, f"{what} outside the viewport: {box}"
    assert box["x"] >= 0 and box["x"] + box["width"] <= W, f"{what} outside the viewport: {box}"


def _wait_text_change(page, selector: str, old: str, timeout: float = 30) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = page.locator(selector).first.inner_text()
        if now != old:
            return now
        time.sleep(0.1)
    raise AssertionError(f"{selector} never changed")


def test_card_fits_one_screen_at_1280x800(server, browser_page):
    from playwright.sync_api import expect

    url, _, _ = server
    page = browser_page(W, H)
    sign_in(page, url, "ann", "pw-ann")
    expect(page.locator(".na-candidate")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(800)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review_card_1280x800.png"))
    assert page.evaluate("window.scrollY") == 0
    _inside(page.locator(".na-query").bounding_box(), "query")
    _inside(page.locator(".na-candidate").bounding_box(), "candidate text box")
    _inside(page.locator(".na-positive").bounding_box(), "positive box")
    _inside(page.locator(".na-risk").bounding_box(), "risk and reasons")
    for name in ("Negative", "False negative", "Partial", "Unsure", "Skip", "Undo"):
        _inside(page.get_by_role("button", name=re.compile(f"^{name}\\b")).bounding_box(),
                f"{name} button")
    pos, cand = (page.locator(s).bounding_box() for s in (".na-positive", ".na-candidate"))
    assert abs(pos["width"] - cand["width"]) < 2 and abs(pos["y"] - cand["y"]) < 2  # side by side
    assert cand["x"] > pos["x"] + pos["width"] - 1
    # the full abstract is reachable: long passages collapse behind "show more", and its words go on on the
    # same line (Chromium put a details element's content on a line of its own, mid-sentence)
    more = page.locator(".na-positive .na-more, .na-candidate .na-more").first
    assert more.count(), "the first card holds no passage long enough for 'show more'"
    closed = more.evaluate("d => [d.getBoundingClientRect().height, d.querySelector('summary').getBoundingClientRect().height]")
    assert closed[0] <= closed[1] + 1, closed  # closed, only "show more" takes room (an inline rule showed every word)
    more.locator("summary").scroll_into_view_if_needed()
    line = more.locator("summary").evaluate("s => { const b = s.getClientRects()[0]; return {y: b.top, height: b.height}; }")
    more.locator("summary").click()
    page.wait_for_timeout(300)
    first = more.evaluate("""d => { const r = document.createRange(); r.selectNodeContents(d);
        const b = [...r.getClientRects()].find(x => x.width > 0); return b ? b.top : null; }""")
    assert first is not None and abs(first - line["y"]) < line["height"] / 2, (first, line)
    page.locator(".na-candidate").evaluate("e => e.scrollTop = 0")
    page.locator(".na-positive").evaluate("e => e.scrollTop = 0")
    assert page.get_by_text("Deploy", exact=True).count() == 0  # no developer toolbar
    # labels by key still move on quickly (issue 15 measured 0.37 s median before)
    took, old = [], page.locator(".na-candidate").inner_text()
    for key in ("n", "f", "n", "p", "n"):
        focus_page(page)
        t0 = time.perf_counter()
        page.keyboard.press(key)
        old = _wait_text_change(page, ".na-candidate", old)
        took.append(time.perf_counter() - t0)
    took.sort()
    (ARTIFACTS / "keypress_seconds.txt").write_text(" ".join(f"{t:.2f}" for t in took) + "\n")
    assert took[2] < 3.0, took  # median, generous for a loaded 2-core machine
    # signing out gives the card on screen back to the queue (it was held for 30 minutes)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
    stop_server(server[2])  # the server holds the file: read it once stopped
    from core.store import leases

    with Store.open(str(server[1]), read_only=True) as s:
        assert leases.my_leases(s, DS, "ann") == []


def test_list_mode_labels_five_by_keys(server, browser_page):
    from playwright.sync_api import expect

    url, db, proc = server
    page = browser_page(W, H)
    sign_in(page, url, "boss", "pw-boss")  # a fresh annotator: nothing labelled yet
    page.get_by_text("List by query", exact=True).click()
    expect(page.locator(".na-list")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(500)
    head = ".na-focus > div:first-child"  # "#i · doc_id · risk · label" of the focused row
    assert "candidates 1–5 of 8" in page.locator(".na-list").inner_text()
    # keys: label row 1, down to row 3, label it, back up to row 2, label, then rows 4 and 5
    plan = [("n", 1), ("j", 2), ("f", 3), ("k", 2), ("k", 1), ("p", 2), ("j", 3), ("u", 4),
            ("n", 5)]
    names = {"n": "negative", "f": "false_negative", "p": "partial", "u": "unsure"}
    expected, focus = {}, page.locator(head).inner_text()
    assert focus.startswith("#1 ·")
    for key, _ in plan:
        if key in names:
            expected[focus.split("·")[1].strip()] = names[key]
        focus_page(page)
        page.keyboard.press(key)
        focus = _wait_text_change(page, head, focus)
    assert focus.startswith("#6 ·")  # labelled rows 1-5, the focus moved on to row 6
    page.screenshot(path=str(ARTIFACTS / "review_list_1280x800.png"))
    _inside(page.get_by_role("button", name=re.compile(r"^Down\b")).bounding_box(), "Down")
    _inside(page.locator(".na-focus > div:first-child").bounding_box(), "focused row's head")
    lst, foc = page.locator(".na-list").bounding_box(), page.locator(".na-focus").bounding_box()
    assert foc["y"] + 60 <= lst["y"] + lst["height"]  # its text starts inside the list box
    assert "candidates 5–8 of 8" in page.locator(".na-list").inner_text()  # from above the focus
    # written at once: read the store through the running app's own process is not possible
    # (DuckDB: one process), so stop the server, then look.
    stop_server(proc)
    with Store.open(str(db)) as s:
        j = s.judgments(DS, annotator="boss")
    assert len(j) == 5
    assert dict(zip(j.doc_id, j.label)) == expected
    assert j.seconds.notna().all() and (j.seconds > 0).all()


def test_blind_card_shows_no_risk(server, browser_page):
    from playwright.sync_api import expect

    url, _, _ = server
    admin = browser_page(W, H)
    sign_in(admin, url, "boss", "pw-boss")
    admin.get_by_role("link", name="Admin").click()
    admin.get_by_role("tab", name="Review settings").click()
    share = admin.get_by_role("spinbutton", name="Blind audit share (%)")
    share.fill("100")
    share.press("Enter")
    admin.get_by_role("button", name="Save review settings").click()
    expect(admin.get_by_text("Blind audits: 100% of cards")).to_be_visible(timeout=30_000)
    page = browser_page(W, H)
    sign_in(page, url, "ann", "pw-ann")
    expect(page.locator(".na-candidate")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "review_blind_1280x800.png"))
    assert page.locator(".na-blind").count() == 1
    assert page.locator(".na-risk").count() == 0
    body = page.locator("[data-testid=\"stMain\"]").inner_text()
    assert "false-negative risk" not in body  # no score ...
    assert not re.search(r"shares \d+ query terms|lexical rank", body)  # ... and no reasons
    assert page.locator(".na-miners").count() == 0  # nor the miner ranks behind them


def test_exported_triplets_download_and_load_with_datasets(server, browser_page, tmp_path):
    import datasets
    from playwright.sync_api import expect

    url, _, _ = server
    page = browser_page(W, H, accept_downloads=True)
    sign_in(page, url, "boss", "pw-boss")
    page.get_by_role("link", name="Export").click()
    out = tmp_path / "server-side" / "mini-triplet.parquet"
    path_box = page.get_by_label(re.compile("^Output path on the server"))
    expect(path_box).to_be_visible(timeout=30_000)
    path_box.fill(str(out))
    path_box.press("Enter")
    page.get_by_role("button", name="Export", exact=True).click()
    button = page.get_by_role("button", name=re.compile(r"^Download mini-triplet\.parquet"))
    expect(button).to_be_visible(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "export_download_1280x800.png"))
    with page.expect_download(timeout=30_000) as info:
        button.click()
    got = tmp_path / "downloaded" / info.value.suggested_filename
    got.parent.mkdir()
    info.value.save_as(str(got))
    assert got.name == "mini-triplet.parquet" and got.read_bytes() == out.read_bytes()
    ds = datasets.load_dataset("parquet", data_files=str(got), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert ds.column_names[:3] == ["anchor", "positive", "negative"] and len(ds) > 0


def test_random_order_judgments_set_the_level_and_say_so(server, browser_page):
    """Judgments from the random order that find far fewer false negatives than the scorer claims move the
    level; the review sidebar says so and Insights lists the shift (screenshots at 1280x800)."""
    from playwright.sync_api import expect

    from core.review import learning
    from core.store import learning as SL

    url, db, _ = server
    with Store.open(str(db)) as s:
        items = SL.risk_rows(s, DS).sample(20, random_state=0)
        for i, r in enumerate(items.itertuples()):
            s.add_judgment(DS, r.query_id, r.doc_id, "ann", "false_negative" if i < 2 else "negative",
                           queue="random")
        rec = learning.relearn(s, DS)
    assert rec["level_sample"] == 20 and rec["level_shift"] < 0
    page = browser_page(W, H)
    sign_in(page, url, "ann", "pw-ann")
    expect(page.locator(".na-candidate")).to_be_visible(timeout=30_000)
    line = page.get_by_text("re-levelled from 20 random-order judgments", exact=False)
    expect(line).to_be_visible(timeout=30_000)
    line.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review_level_1280x800.png"))
    boss = browser_page(W, H)
    sign_in(boss, url, "boss", "pw-boss")
    boss.get_by_role("link", name="Insights").click()
    heading = boss.get_by_text("The learning queue: calibration before and after")
    expect(heading).to_be_visible(timeout=60_000)
    heading.scroll_into_view_if_needed()
    expect(boss.locator("code", has_text="level_shift").first).to_be_visible(timeout=30_000)
    boss.wait_for_timeout(800)
    boss.screenshot(path=str(ARTIFACTS / "insights_level_1280x800.png"))

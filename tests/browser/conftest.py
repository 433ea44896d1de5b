"""Shared set-up of the real-browser tests: Debian's Chromium and a `streamlit run app.py` server.

Needs /usr/bin/chromium (never `playwright install`): each test module calls `require_chromium()`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def wait_idle(page, timeout_ms: int = 30_000) -> None:
    """Wait until the app's script run has finished: a shortcut key pressed while the run is still
    drawing the page (the card is up, its buttons not yet) reaches no button and is lost."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           state="attached", timeout=timeout_ms)


def focus_page(page) -> None:
    """Ready for a shortcut key: the run has drawn the buttons, and keys go to the page, not an input."""
    wait_idle(page)
    page.locator("h1").first.click()


def require_chromium() -> None:
    """Skip the calling test module without Chromium (fail under CI=true)."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} missing under CI=true (run scripts/install_browser.sh as root)",
                    pytrace=False)
    pytest.skip(f"{CHROMIUM} not installed (Debian: apt-get install chromium, or "
                "`make browser` as root); the real-browser tests need it",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path) -> tuple[str, subprocess.Popen]:
    """`streamlit run app.py` on `db`, run from the repository root as `negaudit serve` does
    (so .streamlit/config.toml applies)."""
    port = _free_port()
    env = {**os.environ, "NEGAUDIT_DB": str(db)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return f"http://127.0.0.1:{port}", proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    pytest.fail("streamlit did not start: " + proc.stdout.read().decode()[-2000:])
    raise AssertionError("unreachable")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(15)


@pytest.fixture()
def browser_page() -> Iterator[Callable]:
    """A factory of Chromium pages at a given viewport; every browser is closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browsers = []

        def make(width: int = 1280, height: int = 800, **kw):
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            browsers.append(b)
            return b.new_page(viewport={"width": width, "height": height}, **kw)

        yield make
        for b in browsers:
            b.close()


def sign_in(page, url: str, name: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1").first).to_be_visible(timeout=30_000)

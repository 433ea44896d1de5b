"""AppTest fixtures: a real temp DuckDB file (NEGAUDIT_DB) holding a SciFact subset that the
product's own pipeline ingested, mined and scored (real fn_risk, reasons and signals; see
tests/scored_store.py), built once per session and copied per test."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from scored_store import build_scored_store
from streamlit.testing.v1 import AppTest

from core import auth
from core.store import Store

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # app.py imports `pages._ui`, as under `streamlit run`
DS = "mini"


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("app")
    path = build_scored_store(work / "seed.duckdb", work, DS)
    with Store.open(str(path)) as s:
        auth.add_user(s, "boss", "admin", "pw-boss")
        auth.add_user(s, "ann", "annotator", "pw-ann")
    return path


@pytest.fixture()
def db(seeded_db, tmp_path, monkeypatch) -> Path:
    dst = tmp_path / "app.duckdb"
    shutil.copy(seeded_db, dst)
    monkeypatch.setenv("NEGAUDIT_DB", str(dst))
    return dst


@pytest.fixture()
def app(db):
    """A factory: AppTest on app.py signed in as `name` (None: signed out) via the URL token."""
    from pages._ui import _open_store

    def make(name: str | None = "boss", page: str | None = None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        if name:
            _, token = auth.sign_in(_open_store(str_url(db)), name, f"pw-{name}")
            at.query_params["session"] = token
        at.run()
        if page:
            at.switch_page(page)
            at.run()
        return at

    yield make
    _open_store.clear()


def str_url(db: Path) -> str:
    from core.store.engine import resolve_url

    return resolve_url(str(db))


@pytest.fixture()
def store_of(db):
    """The app's own Store (same process, same DuckDB instance) for assertions."""
    from pages._ui import _open_store

    return _open_store(str_url(db))


def card_button(at: AppTest, name: str):
    """The shown card's own button (`lab_negative`, `lab_false_negative`, ..., `skip`): each card's buttons
    carry its tag, so a key on a card no longer drawn cannot reach the next card's callback."""
    return at.button(key=f"{name}_{at.session_state['card_tag']}")


def list_button(at: AppTest, name: str):
    """The list view's label button for the focused row (`list_negative`, ...): its key carries the row's tag."""
    from pages._review_common import item_tag

    row = at.session_state["list_cards"][at.session_state["list_focus"]]
    return at.button(key=f"{name}_{item_tag(*row.key)}")

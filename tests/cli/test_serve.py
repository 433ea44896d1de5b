"""`negaudit serve`: binds to localhost unless told, and a SIGKILL mid-burst loses no relabel.

The crash test drives the real server process (`python -m core.cli serve`, which execs Streamlit)
over Streamlit's own websocket protocol, exactly as the browser does: a rerun with the button's
trigger is a click, and the rerun's end — with the app's "Saved" notice — is the acknowledgement
the annotator sees. No browser is needed.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synthetic import seed_sample

from core import auth
from core.store import Store

ROOT = Path(__file__).resolve().parents[2]
DS = "mini"
LABELS = {"negative": "Negative", "false_negative": "False negative",
          "partial": "Partial", "unsure": "Unsure"}  # button labels (the key is shown apart)


# ---- bind address ---------------------------------------------------------------------------
def _serve_argv(monkeypatch, tmp_path, *extra: str) -> list[str]:
    """The argv `negaudit serve` hands to exec (captured instead of exec'ing)."""
    from typer.testing import CliRunner

    from core.cli import app as cli

    seen: list[list[str]] = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: seen.append(list(argv)))
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "s.duckdb"), *extra])
    assert r.exit_code == 0, r.output
    assert len(seen) == 1
    return seen[0]


def _opt(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_serve_binds_to_localhost_unless_told(monkeypatch, tmp_path):
    argv = _serve_argv(monkeypatch, tmp_path)
    assert _opt(argv, "--server.address") == "127.0.0.1"
    assert _opt(argv, "--server.headless") == "true"
    argv = _serve_argv(monkeypatch, tmp_path, "--host", "0.0.0.0", "--port", "9999")
    assert _opt(argv, "--server.address") == "0.0.0.0"
    assert _opt(argv, "--server.port") == "9999"


@pytest.mark.postgres
def test_serve_names_a_postgres_store_without_its_password(monkeypatch, tmp_path, databases):
    """The team audit: the start line printed the URL with its password into every service log."""
    from typer.testing import CliRunner

    from core.cli import app as cli

    url = databases.new("postgres", tmp_path).replace("://negaudit@", "://negaudit:s3cret@")
    assert "s3cret" in url  # trust auth: the server ignores the password, the URL still carries it
    seen: list[dict] = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: seen.append(env))
    r = CliRunner().invoke(cli, ["serve", "--db", url])
    assert r.exit_code == 0, r.output
    assert "s3cret" not in r.output and "negaudit:***@" in r.output
    assert seen and seen[0]["NEGAUDIT_DB"] == url  # the app still gets the real URL


def test_demo_refuses_a_database_url(monkeypatch, tmp_path):
    """`serve --demo --db postgresql://...` made a DuckDB file named after the URL (password in a folder name)."""
    from typer.testing import CliRunner

    from core.cli import app as cli

    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["serve", "--demo", "--db", "postgresql://me:pw@127.0.0.1:1/demo"])
    assert r.exit_code == 2 and "--demo builds a DuckDB file" in r.output, r.output
    assert not list(tmp_path.iterdir())  # nothing written


def test_postgres_url_spellings_reach_the_driver():
    from core.store.engine import resolve_url

    for url in ("postgres://me@h/db", "postgresql://me@h/db", "postgresql+psycopg://me@h/db"):
        assert resolve_url(url) == "postgresql+psycopg://me@h/db"


# ---- crash safety ---------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(db: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "serve", "--db", str(db), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"negaudit serve exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("negaudit serve did not listen within 60 s")


class Session:
    """One browser tab's worth of Streamlit protocol: reruns carrying widget triggers."""

    def __init__(self, port: int, token: str):
        from websockets.sync.client import connect

        self._conn = connect(f"ws://127.0.0.1:{port}/_stcore/stream",
                             subprotocols=["streamlit"], max_size=None, open_timeout=30)
        self.ws = self._conn.__enter__()
        self.token = token
        self.buttons: dict[str, str] = {}

    def send(self, button: str | None = None) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        msg.rerun_script.query_string = f"session={self.token}"
        if button is not None:
            w = msg.rerun_script.widget_states.widgets.add()
            w.id, w.trigger_value = self.buttons[button], True
        self.ws.send(msg.SerializeToString())

    def finish(self) -> list[str]:
        """Read until the rerun ends; returns the alert and acknowledgement texts (button ids kept)."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        alerts: list[str] = []
        buttons: dict[str, str] = {}
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(self.ws.recv(timeout=60))
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                el = msg.delta.new_element
                if el.WhichOneof("type") == "button":
                    buttons[el.button.label] = el.button.id
                elif el.WhichOneof("type") == "alert":
                    alerts.append(el.alert.body)
                elif (el.WhichOneof("type") == "markdown"
                      and "na-progress" in el.markdown.body):  # the acknowledgement line
                    alerts.append(html.unescape(re.sub(r"<[^>]+>", "", el.markdown.body)))
                elif el.WhichOneof("type") == "exception":
                    raise AssertionError(f"the app raised: {el.exception.message}")
            elif kind == "script_finished":
                self.buttons = buttons
                return alerts

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the server may be dead already
            self._conn.__exit__(None, None, None)


SAVED = re.compile(r"Saved ([A-Z][a-z ]*?) for query \S+ / doc (\S+?)\.(?:\s|$)")  # the button's words


def test_sigkill_mid_burst_loses_no_acknowledged_relabel(tmp_path):
    """Kills the real `negaudit serve` process (Streamlit server) with SIGKILL while a click is
    in flight, after 25 acknowledged relabels; then reopens the DuckDB file and restarts the
    server on it."""
    db = tmp_path / "crash.duckdb"
    with Store.open(str(db)) as s:
        seed_sample(s, DS, n_queries=10, n_docs=150, per_query=8)
        auth.add_user(s, "ann", "annotator", "pw-ann")
        _, token = auth.sign_in(s, "ann", "pw-ann")
    port = _free_port()
    proc = _start(db, port)
    acked: list[tuple[str, str]] = []  # (doc_id, label) the app confirmed
    sent = 0
    try:
        tab = Session(port, token)
        tab.send()
        tab.finish()
        order = list(LABELS)
        while len(acked) < 25:
            label = order[sent % len(order)]
            tab.send(LABELS[label])
            sent += 1
            saved = [m.groups() for a in tab.finish() if (m := SAVED.search(a))]
            assert saved and saved[0][0] == LABELS[label], saved
            acked.append((saved[0][1], label))
        tab.send(LABELS[order[sent % len(order)]])  # one more click, in flight ...
        sent += 1
        time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # ... when the server dies
        proc.wait(10)
        tab.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    with Store.open(str(db)) as s:  # opens cleanly: the DuckDB WAL replays
        j = s.judgments(DS)
        stored = list(zip(j.doc_id, j.label))
    print(f"\ncrash: relabels attempted {sent}, acknowledged {len(acked)}, stored {len(j)}")
    assert set(acked) <= set(stored)  # every acknowledged relabel survived
    assert len(j) in (len(acked), len(acked) + 1)  # + at most the one in flight
    assert j.id.is_unique and not j.duplicated(["query_id", "doc_id", "annotator"]).any()
    assert (j.annotator == "ann").all() and (j.action == "label").all()

    proc = _start(db, port)  # the restarted app serves the same file and resumes the queue
    try:
        tab = Session(port, token)
        tab.send()
        assert not any("Error" in a for a in tab.finish())
        tab.send(LABELS["negative"])
        saved = [m.groups() for a in tab.finish() if (m := SAVED.search(a))]
        assert saved and saved[0][1] not in set(j.doc_id)  # a new item, not a relabel
        tab.close()
    finally:
        proc.terminate()
        proc.wait(10)
    with Store.open(str(db)) as s:
        assert len(s.judgments(DS)) == len(j) + 1


def test_in_process_main_returns_even_with_torch_loaded(tmp_path):
    """`main(argv)` in-process (as the CLI tests call it) must not `os._exit`: with torch loaded
    that ended a pytest run mid-suite with exit code 0 and no summary."""
    db = tmp_path / "m.duckdb"
    Store.open(str(db)).close()  # `datasets` only reads: it lists an existing (empty) store
    code = ("import torch, sys\nfrom core.cli import main\n"
            f"try:\n    main(['datasets', '--db', {str(db)!r}])\n"
            "except SystemExit as exc:\n    print('returned', exc.code)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"}, check=False)
    assert "returned 0" in r.stdout, r.stdout + r.stderr[-2000:]

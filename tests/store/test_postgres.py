"""Why teams switch to PostgreSQL: several processes open, migrate and write one store at once
(DuckDB admits one writing process per file; see test_store.py's locked-file test)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.store import Store

pytestmark = pytest.mark.postgres

WRITER = """
import sys
from core.store import Store
url, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Store.open(url) as s:  # the first open of an empty database migrates it (advisory lock)
    for i in range(n):
        s.add_judgment("ds", f"q{i % 7}", f"d{i}", name, "negative" if i % 2 else "false_negative")
print("done", flush=True)
"""


def test_several_processes_write_one_store(databases, tmp_path) -> None:
    url = databases.new("postgres", tmp_path)  # empty: the writers race to migrate it
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, f"w{i}", "40"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    with Store.open(url) as app:  # the app process holds its store open meanwhile and writes too
        for i in range(10):
            app.add_judgment("ds", "q0", f"a{i}", "app", "unsure")
        outs = [p.communicate(timeout=120) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err
            assert out.strip() == "done"
        j = app.judgments("ds")
    assert len(j) == 2 * 40 + 10
    assert j.id.is_unique
    assert j.groupby("annotator").size().to_dict() == {"app": 10, "w0": 40, "w1": 40}


REPLACER = """
import sys
import pandas as pd
from core.store import Store
url = sys.argv[1]
rows = pd.DataFrame({"query_id": [f"q{i % 50}" for i in range(4000)], "doc_id": [f"d{i}" for i in range(4000)],
                     "miner": "dense", "rank": 1, "score": 0.5})
with Store.open(url) as s:
    for _ in range(8):
        s.replace_rows("candidates", "ds", rows)
print("done", flush=True)
"""


def test_two_processes_replacing_a_datasets_rows_store_them_once(databases, tmp_path) -> None:
    """The team audit: two `mine` runs at once each deleted what they could see and inserted, so every
    candidate was stored twice (66,537 -> 133,074 rows). One writer of a dataset's rows at a time now."""
    url = databases.new("postgres", tmp_path)
    with Store.open(url):
        pass  # migrated before the race
    procs = [subprocess.Popen([sys.executable, "-c", REPLACER, url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and out.strip() == "done", err
    with Store.open(url, read_only=True) as s:
        got = s.candidates("ds")
    assert len(got) == 4000 and not got.duplicated(["query_id", "doc_id", "miner"]).any()


def test_unreachable_server_is_one_clear_line_without_the_password() -> None:
    from core.types import NegauditError

    with pytest.raises(NegauditError, match=r"cannot connect to .*me:\*\*\*@127\.0\.0\.1") as info:
        Store.open("postgresql+psycopg://me:secret@127.0.0.1:1/negaudit")
    assert "secret" not in str(info.value)


OWNER = """
from core.store.pgserver import TempPostgres
s = TempPostgres().start()
print(s.dir, flush=True)
input()  # killed here, before any clean-up can run
"""


def test_a_killed_owner_takes_its_server_along(databases) -> None:
    """SIGKILL (or a timeout's SIGTERM, which skips atexit) must not leave a server behind."""
    import os
    import signal
    import time
    from pathlib import Path

    databases.server()  # skips (or fails under CI=true) where PostgreSQL is missing
    proc = subprocess.Popen([sys.executable, "-c", OWNER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    folder = Path(proc.stdout.readline().strip())
    pid = int((folder / "data" / "postmaster.pid").read_text().split()[0])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 20
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not folder.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)

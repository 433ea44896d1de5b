"""`negaudit serve`: run the Streamlit review app on a DB (localhost unless --host); --demo builds one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from core.cli.common import DbOption, open_store

ROOT = Path(__file__).resolve().parents[2]


def serve(
    db: DbOption = None,
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="port to listen on"),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="address to bind (default localhost only; 0.0.0.0 = everyone)"),
    demo: bool = typer.Option(False, "--demo", help="build .negaudit/demo.duckdb from "
                              "data/scifact if missing (ingest, mine, score) and serve it"),
    headless: bool | None = typer.Option(True, "--headless/--browser",
                                            help="don't open a browser window"),
) -> None:
    """Start the review app. On a DuckDB file the app process is its one writer while it runs."""
    from core.store.engine import duckdb_file, resolve_url, shown_url

    if demo:
        if db and duckdb_file(resolve_url(db)) is None:
            raise typer.BadParameter("--demo builds a DuckDB file: give --db a file path or leave it out (to put "
                                     "the demo data in this database: `negaudit audit data/scifact --name scifact "
                                     "--db URL`, then `negaudit serve --db URL`)", param_hint="--demo")
        from core.demo import DEMO_DB, DEMO_PASSWORD, DEMO_USER, build_demo

        target = Path(db) if db else DEMO_DB
        build_demo(target, log=lambda m: typer.echo(m))
        db = str(target)
        typer.echo(f"demo ready: sign in as {DEMO_USER} / {DEMO_PASSWORD} (admin)")
    else:
        # Open (and migrate) once here: a file that is not a database, a locked one or an
        # unreachable server is one line now, not a stack trace in the browser later.
        open_store(db).close()
    url = resolve_url(db)
    env = {**os.environ, "NEGAUDIT_DB": url}
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
           "--server.address", host, "--server.port", str(port),
           "--server.headless", "true" if headless else "false",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    shown = "localhost" if host in ("127.0.0.1", "localhost") else host
    typer.echo(f"negaudit review app on http://{shown}:{port}  (db: {shown_url(url)})")  # no password in logs
    sys.stdout.flush()
    os.chdir(ROOT)
    # Become the Streamlit process: signals (Ctrl-C, kill) reach the server directly.
    os.execve(sys.executable, cmd, env)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)

"""`negaudit users add NAME --role ROLE` (password from a prompt or stdin), `users list`, `users rm`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from core.cli.common import DbOption, open_store
from core.types import Role

users_app = typer.Typer(help="Accounts of the review app (admins and annotators).",
                        no_args_is_help=True)


def _read_password(stdin: bool) -> str:
    if stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def add(
    name: str,
    role: Annotated[Role, typer.Option("--role", help="admin or annotator")] = Role.ANNOTATOR,
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="read the password from stdin (first line)"),
    db: DbOption = None,
) -> None:
    """Create an account, or reset its password and role (argon2-hashed; never stored in clear)."""
    from core import auth

    password = _read_password(password_stdin)
    with open_store(db) as store:
        inherited = auth.earlier_judgments(store, name)
        user = auth.add_user(store, name, role.value, password)
    typer.echo(f"saved {user.name} ({user.role.value})")
    if inherited:
        many = "s" if inherited != 1 else ""
        typer.echo(f"note: {name} already has {inherited:,} judgment{many} from an earlier account of that "
                   "name; they count as this account's")


@users_app.command("list")
def list_users(db: DbOption = None) -> None:
    """Names and roles."""
    with open_store(db) as store:
        df = store.annotators()
    if df.empty:
        typer.echo("no accounts yet; `negaudit users add NAME --role admin`")
    for r in df.itertuples():
        typer.echo(f"{r.name}\t{r.role}")


@users_app.command("rm")
def remove(name: str, db: DbOption = None) -> None:
    """Remove an account (its judgments stay: the log is append-only)."""
    from core import auth

    with open_store(db) as store:
        auth.remove_user(store, name)
    typer.echo(f"removed {name}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")

"""Accounts: argon2 hashes, expiring hashed session tokens, roles enforced in core."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core import auth, review
from core.store import Store
from core.store import schema as S
from core.types import AuthorizationError, NegauditError, Role


@pytest.fixture()
def store(tmp_path):
    s = Store.open(str(tmp_path / "a.duckdb"))
    yield s
    s.close()


def test_password_is_hashed_with_argon2(store):
    auth.add_user(store, "ann", "annotator", "secret-pw")
    row = store.annotator("ann")
    assert row["password_hash"].startswith("$argon2")
    assert "secret-pw" not in row["password_hash"]
    assert auth.authenticate(store, "ann", "secret-pw").role == Role.ANNOTATOR
    assert auth.authenticate(store, "ann", "wrong") is None
    assert auth.authenticate(store, "nobody", "x") is None


def test_sessions_store_only_a_hash_and_expire(store):
    auth.add_user(store, "ann", "annotator", "pw12")
    user, token = auth.sign_in(store, "ann", "pw12")
    with store.engine.connect() as conn:
        hashes = list(conn.execute(select(S.sessions.c.token_hash)).scalars())
    assert token not in hashes and len(hashes) == 1
    assert auth.user_for_token(store, token) == user
    assert auth.user_for_token(store, token + "x") is None
    _, old = auth.sign_in(store, "ann", "pw12", ttl=timedelta(seconds=-1))
    assert auth.user_for_token(store, old) is None
    auth.sign_out(store, token)
    assert auth.user_for_token(store, token) is None
    assert auth.sign_in(store, "ann", "bad") is None


def test_password_change_signs_out(store):
    auth.add_user(store, "ann", "annotator", "pw12")
    _, token = auth.sign_in(store, "ann", "pw12")
    auth.add_user(store, "ann", "annotator", "pw34")
    assert auth.user_for_token(store, token) is None


def test_roles_enforced_in_core(store):
    admin = auth.add_user(store, "boss", "admin", "pw12")
    ann = auth.add_user(store, "ann", "annotator", "pw12")
    with pytest.raises(AuthorizationError):
        auth.require_role(ann, Role.ADMIN)
    with pytest.raises(AuthorizationError):
        auth.require_role(None, Role.ANNOTATOR)
    assert auth.require_role(admin, Role.ANNOTATOR) is admin
    with pytest.raises(AuthorizationError):
        review.set_overlap_k(store, 2, ann)
    with pytest.raises(AuthorizationError):
        auth.add_user(store, "eve", "admin", "pw12", actor=ann)
    with pytest.raises(AuthorizationError):
        review.adjudicate(store, ann, "d", "q", "x", "negative")
    review.set_overlap_k(store, 2, admin)
    assert review.overlap_k(store) == 2


def test_a_changed_account_keeps_its_creation_time(store):
    boss = auth.add_user(store, "boss", "admin", "pw12")
    auth.add_user(store, "bob", "annotator", "pw12")
    born = store.annotators().set_index("name").created_at["bob"]
    auth.set_role(store, "bob", "admin", boss)
    auth.add_user(store, "bob", "annotator", "pw34", actor=boss)  # a password reset
    row = store.annotators().set_index("name").loc["bob"]
    assert row.created_at == born and row.role == "annotator"
    assert auth.authenticate(store, "bob", "pw34") is not None


def test_the_last_admin_stays(store):
    """No path leaves the store without an admin: removing (app or CLI), re-roling, or re-saving
    the account as an annotator. With a second admin each of them goes through."""
    boss = auth.add_user(store, "boss", "admin", "pw12")
    auth.add_user(store, "ann", "annotator", "pw12")
    for change in (lambda: auth.remove_user(store, "boss"),
                   lambda: auth.set_role(store, "boss", "annotator", boss),
                   lambda: auth.add_user(store, "boss", "annotator", "pw34", actor=boss)):
        with pytest.raises(NegauditError, match="last admin"):
            change()
        assert store.annotator("boss")["role"] == "admin"
    assert auth.authenticate(store, "boss", "pw12").is_admin  # the password was not reset either
    auth.remove_user(store, "ann")  # an annotator goes, admin or not left
    auth.add_user(store, "second", "admin", "pw12", actor=boss)
    auth.set_role(store, "boss", "annotator", auth.User("second", Role.ADMIN))
    assert store.annotators().set_index("name").role.to_dict() == {"boss": "annotator",
                                                                    "second": "admin"}
    with pytest.raises(NegauditError, match="no user named 'ann'"):
        auth.remove_user(store, "ann")


def test_bad_input_is_a_clear_error(store):
    with pytest.raises(NegauditError, match="role"):
        auth.add_user(store, "x", "root", "pw12")
    with pytest.raises(NegauditError, match="name"):
        auth.add_user(store, "bad name!", "admin", "pw12")
    with pytest.raises(NegauditError, match="short"):
        auth.add_user(store, "x", "admin", "")


def test_users_cli_reads_password_from_stdin(tmp_path):
    from typer.testing import CliRunner

    from core.cli import app as cli

    db = str(tmp_path / "cli.duckdb")
    r = CliRunner().invoke(cli, ["users", "add", "alice", "--role", "admin", "--db", db],
                           input="pw-alice\n")
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["users", "list", "--db", db])
    assert "alice\tadmin" in r.output
    with Store.open(db) as s:
        assert auth.authenticate(s, "alice", "pw-alice").is_admin


def test_demo_db_has_a_demo_admin(tmp_path):
    from synthetic import seed_sample

    from core.demo import DEMO_DATASET, DEMO_PASSWORD, DEMO_USER, build_demo

    path = tmp_path / "demo.duckdb"
    with Store.open(str(path)) as s:  # the dataset is there: build_demo only adds the admin
        seed_sample(s, DEMO_DATASET, n_queries=3, n_docs=50, per_query=2)
    build_demo(path, log=lambda m: None)
    with Store.open(str(path)) as s:
        assert auth.authenticate(s, DEMO_USER, DEMO_PASSWORD).is_admin
        c = s.counts(DEMO_DATASET)[0]
        assert c.candidates > 0 and c.queries > 0

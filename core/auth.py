"""Accounts and sessions: argon2 password hashes, expiring session tokens stored only as hashes.

Roles are enforced here (`require_role`), not by hiding pages: any core function that exports or
administers takes the acting `User` and calls `require_role` first.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.store import Store
from core.store import accounts as SA
from core.types import AuthorizationError, NegauditError, Role

SESSION_TTL = timedelta(hours=12)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 4


@dataclass(frozen=True, slots=True)
class User:
    """The signed-in person: a name and a role, nothing secret."""

    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_user(store: Store, name: str, role: Role | str, password: str,
             actor: User | None = None) -> User:
    """Create or replace an account. `actor` (when given, e.g. from the app) must be an admin."""
    if actor is not None:
        require_role(actor, Role.ADMIN)
    if not _NAME.match(name or ""):
        raise NegauditError(
            f"invalid user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'")
    try:
        role = Role(role)
    except ValueError:
        raise NegauditError(f"unknown role {role!r}; expected admin or annotator") from None
    if len(password or "") < MIN_PASSWORD:
        raise NegauditError(f"password too short (at least {MIN_PASSWORD} characters)")
    _keep_an_admin(store, name, role)
    store.add_annotator(name, role.value, hash_password(password))
    SA.drop_sessions_of(store, name)  # a new password or role signs the old sessions out
    return User(name, role)


def earlier_judgments(store: Store, name: str) -> int:
    """Judgments already in the log under `name` while no account holds it (a removed account's): a new
    account of that name would take them over, so the app and the CLI say so."""
    return 0 if store.annotator(name) is not None else SA.judgments_by(store, name)


def _keep_an_admin(store: Store, name: str, role: Role | None) -> None:
    """Refuse a change that leaves no admin: nobody could then export, adjudicate or add accounts
    in the app (`role` None = the account is removed)."""
    row = store.annotator(name)
    if row is None or row["role"] != Role.ADMIN.value or role == Role.ADMIN:
        return
    admins = store.annotators().query("role == 'admin'")
    if len(admins) <= 1:
        raise NegauditError(
            f"{name!r} is the last admin; add another admin first "
            "(`negaudit users add NAME --role admin`, or Admin -> Annotators)")


def remove_user(store: Store, name: str, actor: User | None = None) -> None:
    """Remove an account (its judgments stay: the log is append-only). `actor` None is the CLI,
    which holds the database file; from the app it must be an admin other than `name`."""
    if actor is not None:
        require_role(actor, Role.ADMIN)
        if name == actor.name:
            raise NegauditError("you cannot remove your own account")
    if store.annotator(name) is None:
        raise NegauditError(f"no user named {name!r}")
    _keep_an_admin(store, name, None)
    SA.delete_annotator(store, name)


def set_role(store: Store, name: str, role: Role | str, actor: User) -> None:
    """Change a role without touching the password hash."""
    require_role(actor, Role.ADMIN)
    row = store.annotator(name)
    if row is None:
        raise NegauditError(f"no user named {name!r}")
    _keep_an_admin(store, name, Role(role))
    store.add_annotator(name, Role(role).value, row["password_hash"])
    SA.drop_sessions_of(store, name)


def authenticate(store: Store, name: str, password: str) -> User | None:
    row = store.annotator(name)
    if row is None:
        _hasher().hash(password or "x")  # same cost whether or not the name exists
        return None
    if not verify_password(row["password_hash"], password):
        return None
    return User(row["name"], Role(row["role"]))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(store: Store, name: str, password: str, ttl: timedelta = SESSION_TTL
            ) -> tuple[User, str] | None:
    """Check the password and open a session; returns the user and the (only) copy of the token."""
    user = authenticate(store, name, password)
    if user is None:
        return None
    token = secrets.token_urlsafe(32)
    SA.add_session(store, _token_hash(token), user.name, ttl)
    return user, token


def user_for_token(store: Store, token: str | None) -> User | None:
    """The user of a live session token (None when missing, unknown or expired)."""
    if not token or len(token) > 200:
        return None
    name = SA.session_annotator(store, _token_hash(token))
    if name is None:
        return None
    row = store.annotator(name)
    return User(row["name"], Role(row["role"])) if row else None


def session_started(store: Store, token: str | None) -> datetime | None:
    """When the session of `token` began (None when missing, unknown or expired)."""
    if not token or len(token) > 200:
        return None
    return SA.session_started(store, _token_hash(token))


def sign_out(store: Store, token: str | None) -> None:
    if token:
        SA.drop_session(store, _token_hash(token))


def require_role(user: User | None, role: Role) -> User:
    """Raise AuthorizationError unless `user` holds `role` (admins hold every role)."""
    if user is None:
        raise AuthorizationError("sign in first")
    if role == Role.ADMIN and user.role != Role.ADMIN:
        raise AuthorizationError(f"{user.name!r} is an {user.role.value}; this needs an admin")
    return user

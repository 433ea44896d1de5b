"""Accounts and sign-in sessions: the SQL behind `core.auth` (hashes only; never a password)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select

from core.store import schema as S
from core.store.base import utcnow
from core.store.store import Store


def add_session(store: Store, token_hash: str, annotator: str, ttl: timedelta) -> datetime:
    now = utcnow()
    expires = now + ttl
    with store.engine.begin() as conn:
        conn.execute(delete(S.sessions).where(S.sessions.c.expires_at < now))
        conn.execute(insert(S.sessions).values(token_hash=token_hash, annotator=annotator,
                                               created_at=now, expires_at=expires))
    return expires


def session_annotator(store: Store, token_hash: str) -> str | None:
    """The annotator of a live session, or None when unknown or expired."""
    with store.engine.connect() as conn:
        return conn.execute(select(S.sessions.c.annotator).where(
            S.sessions.c.token_hash == token_hash, S.sessions.c.expires_at > utcnow())).scalar()


def session_started(store: Store, token_hash: str) -> datetime | None:
    """When a live session began (None when unknown or expired)."""
    with store.engine.connect() as conn:
        return conn.execute(select(S.sessions.c.created_at).where(
            S.sessions.c.token_hash == token_hash, S.sessions.c.expires_at > utcnow())).scalar()


def drop_session(store: Store, token_hash: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(S.sessions).where(S.sessions.c.token_hash == token_hash))


def drop_sessions_of(store: Store, annotator: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(S.sessions).where(S.sessions.c.annotator == annotator))


def delete_annotator(store: Store, name: str) -> None:
    """Remove an account (its judgments stay: the log is append-only)."""
    with store.engine.begin() as conn:
        conn.execute(delete(S.sessions).where(S.sessions.c.annotator == name))
        conn.execute(delete(S.assignments).where(S.assignments.c.annotator == name))
        conn.execute(delete(S.annotators).where(S.annotators.c.name == name))


def judgments_by(store: Store, name: str) -> int:
    """Rows of the judgment log written under `name`, in every dataset (a name is the account's identity:
    a new account with a removed one's name inherits its votes)."""
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(S.judgments)
                                .where(S.judgments.c.annotator == name)).scalar_one())

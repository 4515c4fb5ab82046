"""The console's sessions, in the relational store so that every process and node shares
them: a random cookie value per sign-in, of which only the SHA-256 is kept, with idle and
absolute timeouts, a CSRF value, and a one-time flash message."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from passgate.store.schema import console_sessions

IDLE = 30 * 60  # seconds without a request before a session ends
ABSOLUTE = 12 * 3600  # seconds after sign-in when a session ends, however busy
TOUCH = 60  # seen_at is written at most once this many seconds
MAX_COOKIE = 256


@dataclass(frozen=True)
class Session:
    id: str  # the SHA-256 (hex) of the cookie's value
    user_id: int
    csrf: str
    created_at: float
    seen_at: float


def session_id(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def _session(m: sa.RowMapping) -> Session:
    return Session(m["id"], m["user_id"], m["csrf"], m["created_at"], m["seen_at"])


class SessionStore:
    """Creates, finds and ends console sessions in the relational store."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(self, user_id: int, now: float) -> tuple[str, Session]:
        """A new session: (the cookie's value, to send once; the session)."""
        cookie = secrets.token_urlsafe(32)
        session = Session(session_id(cookie), user_id, secrets.token_urlsafe(32), now, now)
        with self.engine.begin() as conn:
            conn.execute(
                console_sessions.insert().values(
                    id=session.id,
                    user_id=user_id,
                    csrf=session.csrf,
                    created_at=now,
                    seen_at=now,
                    flash=None,
                )
            )
        return cookie, session

    def get(self, cookie: str, now: float, touch: bool = True) -> Session | None:
        """The live session the cookie names, or None (unknown, idle too long, or too old:
        then it is deleted). `touch` False reads it without counting as activity (a page's
        own polling must not keep a forgotten tab signed in)."""
        if not cookie or len(cookie) > MAX_COOKIE:
            return None
        sid = session_id(cookie)
        table = console_sessions
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == sid)).first()
        if row is None:
            return None
        session = _session(row._mapping)
        if now - session.seen_at > IDLE or now - session.created_at > ABSOLUTE:
            with self.engine.begin() as conn:
                conn.execute(table.delete().where(table.c.id == sid))
            return None
        if touch and now - session.seen_at >= TOUCH:
            with self.engine.begin() as conn:
                conn.execute(
                    table.update()
                    .where(table.c.id == sid, table.c.seen_at < now)
                    .values(seen_at=now)
                )
            session = Session(session.id, session.user_id, session.csrf, session.created_at, now)
        return session

    def revoke(self, cookie: str) -> None:
        """End the session the cookie names (sign-out)."""
        with self.engine.begin() as conn:
            conn.execute(
                console_sessions.delete().where(console_sessions.c.id == session_id(cookie))
            )

    def revoke_user(self, user_id: int) -> int:
        """End all of a user's sessions; returns how many there were."""
        with self.engine.begin() as conn:
            gone = conn.execute(
                console_sessions.delete().where(console_sessions.c.user_id == user_id)
            ).rowcount
        return int(gone)

    def set_flash(self, session_id: str, blob: bytes | None) -> None:
        """Keep a one-time message (encrypted by the caller) in the session."""
        with self.engine.begin() as conn:
            conn.execute(
                console_sessions.update()
                .where(console_sessions.c.id == session_id)
                .values(flash=blob)
            )

    def pop_flash(self, session_id: str) -> bytes | None:
        """The session's flash, cleared: of two concurrent pops, only one gets it."""
        table = console_sessions
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table.c.flash).where(table.c.id == session_id)).first()
        if row is None or row[0] is None:
            return None
        blob = bytes(row[0])
        with self.engine.begin() as conn:  # compare-and-clear: the winner clears this blob
            won = conn.execute(
                table.update()
                .where(table.c.id == session_id, table.c.flash == blob)
                .values(flash=None)
            ).rowcount
        return blob if won == 1 else None

    def prune(self, now: float) -> int:
        """Delete the sessions that have timed out; returns how many."""
        table = console_sessions
        with self.engine.begin() as conn:
            gone = conn.execute(
                table.delete().where(
                    (table.c.seen_at < now - IDLE) | (table.c.created_at < now - ABSOLUTE)
                )
            ).rowcount
        return int(gone)

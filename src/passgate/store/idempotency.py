"""Turnstile's siteverify idempotency: the first answer given for an (idempotency key, token)
pair, kept in the relational store until the token would have expired, so that a retry on
any process or node answers the same instead of `timeout-or-duplicate`.

Rows are keyed by `result_id`, a SHA-256 over the pair; neither the key nor the token is
stored in clear (the token is a credential). `put` is insert-if-absent in one statement
(SQLite and PostgreSQL `ON CONFLICT`), so of two first requests racing on one pair, both
answer what the first to commit stored. A row past its expiry is invisible to `get`, and a
`put` over it replaces it (it is what was left before `prune` came by, not an answer to
keep). A result must hold no secret: it is the siteverify answer, which holds none.

Every call is synchronous; callers run them in the threadpool with
`passgate.tokenapi.db.run` (reads) and `passgate.tokenapi.db.write` (writes: `put`,
`prune`). Driver errors raise `StoreUnavailable`, naming only the error's type.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from passgate.store import StoreUnavailable
from passgate.store.schema import siteverify_idempotency as table

T = TypeVar("T")

_DOMAIN = b"passgate/siteverify-idempotency/v1\x00"


def result_id(idempotency_key: str, response: str) -> str:
    """The row id for (`idempotency_key`, `response`): hex SHA-256 over both, each prefixed
    with its length in bytes, so no two distinct pairs share an encoding."""
    h = hashlib.sha256(_DOMAIN)
    for part in (idempotency_key, response):
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def _decode(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _guarded(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
        # the type alone: a driver's message may quote the statement's parameters
        raise StoreUnavailable(f"idempotency store: {type(exc).__name__}") from None


class IdempotencyStore:
    """Siteverify results per `result_id`, in the relational store."""

    PRUNE_CHUNK = 1000  # rows per delete: no lock is held for long

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def get(self, rid: str, now: float) -> dict[str, Any] | None:
        """The result stored for `rid`, or None when there is none or it has expired."""

        def read() -> dict[str, Any] | None:
            with self.engine.connect() as conn:
                text = conn.execute(
                    sa.select(table.c.result).where(table.c.id == rid, table.c.expires_at > now)
                ).scalar()
            return None if text is None else _decode(text)

        return _guarded(read)

    def put(
        self,
        rid: str,
        sitekey: str | None,
        result: dict[str, Any],
        expires_at: float,
        now: float,
    ) -> dict[str, Any]:
        """Store `result` for `rid` unless an unexpired result is there already, and return
        the stored one: the first to commit wins, and every racer answers with it. A result
        that expires by `now` is not stored, and is returned as given."""
        if expires_at <= now:
            return result
        row = {
            "id": rid,
            "sitekey": sitekey,
            "result": json.dumps(result, separators=(",", ":")),
            "created_at": now,
            "expires_at": expires_at,
        }

        def write() -> dict[str, Any]:
            with self.engine.begin() as conn:
                insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
                stmt = insert(table).values(**row)
                stmt = stmt.on_conflict_do_update(  # only over a row left expired
                    index_elements=[table.c.id],
                    set_={k: stmt.excluded[k] for k in row if k != "id"},
                    where=table.c.expires_at <= now,
                )
                conn.execute(stmt)
                text = conn.execute(sa.select(table.c.result).where(table.c.id == rid)).scalar()
            stored = None if text is None else _decode(text)
            return result if stored is None else stored

        return _guarded(write)

    def prune(self, now: float) -> int:
        """Delete expired rows, `PRUNE_CHUNK` at a time, each chunk its own transaction.
        Returns how many."""
        chunk = max(1, self.PRUNE_CHUNK)
        oldest = (
            sa.select(table.c.id)
            .where(table.c.expires_at <= now)
            .order_by(table.c.expires_at)
            .limit(chunk)
        )
        stmt = table.delete().where(table.c.id.in_(oldest))

        def delete() -> int:
            total = 0
            while True:
                with self.engine.begin() as conn:
                    n = conn.execute(stmt).rowcount
                total += n
                if n < chunk:
                    return total

        return _guarded(delete)

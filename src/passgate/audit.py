"""The audit log: who changed what, and when, through the CLI, the admin API or the console,
kept in the relational store. Its details never hold a secret, token, API key or password."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from passgate.store.schema import audit_log

# The columns' widths (store/schema.py): longer values are cut, never refused.
MAX_ACTOR, MAX_ACTION, MAX_TARGET, MAX_IP = 80, 64, 200, 64


@dataclass(frozen=True)
class Entry:
    id: int
    at: float
    actor: str  # "cli", "admin-api" or "user:NAME"
    action: str  # "site.add", "signin.failed", ...
    target: str
    detail: dict[str, object]
    ip: str | None

    def public(self) -> dict[str, object]:
        """The entry as JSON, `at` as ISO 8601 UTC."""
        return {
            "id": self.id,
            "at": iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
            "ip": self.ip,
        }


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _detail(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _entry(m: sa.RowMapping) -> Entry:
    return Entry(
        id=m["id"],
        at=m["at"],
        actor=m["actor"],
        action=m["action"],
        target=m["target"],
        detail=_detail(m["detail"]),
        ip=m["ip"],
    )


RETENTION_DAYS = 400  # entries older than this are pruned (a year and more of history)


class AuditLog:
    """Appends to and reads the audit log in the relational store."""

    def prune(self, now: float, days: int = RETENTION_DAYS) -> int:
        """Delete entries older than `days`. Returns how many."""
        with self.engine.begin() as conn:
            return conn.execute(
                audit_log.delete().where(audit_log.c.at < now - days * 86_400)
            ).rowcount

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(
        self,
        actor: str,
        action: str,
        target: str = "",
        detail: dict[str, object] | None = None,
        ip: str | None = None,
        now: float | None = None,
    ) -> None:
        """Append one entry. `detail` must hold no secret: the callers pass only names,
        settings and counts."""
        with self.engine.begin() as conn:
            conn.execute(
                audit_log.insert().values(
                    at=time.time() if now is None else now,
                    actor=actor[:MAX_ACTOR],
                    action=action[:MAX_ACTION],
                    target=target[:MAX_TARGET],
                    detail=json.dumps(detail or {}, sort_keys=True, default=str),
                    ip=None if ip is None else ip[:MAX_IP],
                )
            )

    def list(
        self, limit: int = 100, actor: str | None = None, action: str | None = None
    ) -> list[Entry]:
        """Entries newest first; `actor` matches exactly, `action` as a prefix ("site."
        matches site.add and site.remove)."""
        query = sa.select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if action:
            query = query.where(sa.func.substr(audit_log.c.action, 1, len(action)) == action)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(max(1, limit))).all()
        return [_entry(r._mapping) for r in rows]

"""The audit log: entries newest first, filters by actor and by action prefix, JSON details,
over-long values cut to the columns' widths."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from passgate import settings
from passgate.audit import MAX_TARGET, AuditLog
from passgate.service import open_engine


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    return open_engine(settings.load(env={}, data_dir=str(tmp_path / "data")))


@pytest.fixture
def log(engine: sa.Engine) -> AuditLog:
    audit = AuditLog(engine)
    audit.add("cli", "site.add", "sk-1", {"hostnames": ["a.example"]}, now=1000.0)
    audit.add("admin-api", "key.add", "ci", ip="203.0.113.7", now=1001.0)
    audit.add("user:alice", "site.remove", "sk-1", ip="2001:db8::1", now=1002.0)
    audit.add("user:alice", "signin", "alice", now=1003.0)
    audit.add("user:bob", "signin.failed", "bob", now=1004.0)
    return audit


def test_entries_come_newest_first_with_their_fields(log: AuditLog) -> None:
    entries = log.list()
    assert [e.action for e in entries] == [
        "signin.failed", "signin", "site.remove", "key.add", "site.add",
    ]  # fmt: skip
    oldest = entries[-1]
    assert (oldest.actor, oldest.target, oldest.ip) == ("cli", "sk-1", None)
    assert oldest.detail == {"hostnames": ["a.example"]}
    assert entries[-2].ip == "203.0.113.7" and entries[-2].detail == {}


def test_same_second_entries_keep_their_order(engine: sa.Engine) -> None:
    log = AuditLog(engine)
    for n in range(3):
        log.add("cli", "key.add", f"k{n}", now=5.0)
    assert [e.target for e in log.list()] == ["k2", "k1", "k0"]


def test_filters_by_actor_and_action_prefix_and_limit(log: AuditLog) -> None:
    assert [e.action for e in log.list(actor="user:alice")] == ["signin", "site.remove"]
    assert [e.action for e in log.list(action="site.")] == ["site.remove", "site.add"]
    assert [e.action for e in log.list(action="signin")] == ["signin.failed", "signin"]
    assert [e.action for e in log.list(action="signin", actor="user:alice")] == ["signin"]
    assert [e.action for e in log.list(limit=2)] == ["signin.failed", "signin"]
    assert log.list(actor="user") == []  # exact, not a prefix


@pytest.mark.parametrize("pattern", ["%", "site_", "_ite.", "SITE."])
def test_action_prefix_is_literal(log: AuditLog, pattern: str) -> None:
    assert log.list(action=pattern) == []


def test_public_shape_has_iso_time(log: AuditLog) -> None:
    entry = log.list(actor="cli")[0]
    assert entry.public() == {
        "id": entry.id,
        "at": "1970-01-01T00:16:40Z",
        "actor": "cli",
        "action": "site.add",
        "target": "sk-1",
        "detail": {"hostnames": ["a.example"]},
        "ip": None,
    }


def test_long_values_are_cut_not_refused(engine: sa.Engine) -> None:
    log = AuditLog(engine)
    log.add("user:" + "x" * 200, "signin.failed", "y" * 5000, ip="z" * 100)
    entry = log.list()[0]
    assert len(entry.target) == MAX_TARGET and len(entry.actor) == 80 and len(entry.ip or "") == 64


def test_details_that_are_not_json_types_are_written_as_text(engine: sa.Engine) -> None:
    log = AuditLog(engine)
    log.add("cli", "site.update", "sk", {"hostnames": ("a.example",), "path": Path("/x")})
    assert log.list()[0].detail == {"hostnames": ["a.example"], "path": "/x"}

"""Console sessions: a new random cookie per sign-in, only its hash kept; idle and absolute
timeouts; revocation; the one-time flash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from passgate import settings
from passgate.console.sessions import ABSOLUTE, IDLE, SessionStore
from passgate.service import open_engine
from passgate.store.schema import console_sessions

T0 = 1_000_000.0


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    return open_engine(settings.load(env={}, data_dir=str(tmp_path / "data")))


@pytest.fixture
def store(engine: sa.Engine) -> SessionStore:
    return SessionStore(engine)


def rows(engine: sa.Engine) -> list[sa.RowMapping]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(console_sessions)).mappings())


def test_each_sign_in_gets_a_new_id_and_only_its_hash_is_kept(
    store: SessionStore, engine: sa.Engine
) -> None:
    first, s1 = store.create(7, T0)
    second, s2 = store.create(7, T0)
    assert first != second and s1.id != s2.id and s1.csrf != s2.csrf
    assert len(first) >= 43
    assert s1.id == hashlib.sha256(first.encode()).hexdigest()
    stored = {r["id"] for r in rows(engine)}
    assert stored == {s1.id, s2.id} and first not in stored
    assert store.get(first, T0 + 1) == s1


@pytest.mark.parametrize("cookie", ["", "nope", "x" * 5000])
def test_unknown_cookies_find_nothing(store: SessionStore, cookie: str) -> None:
    store.create(1, T0)
    assert store.get(cookie, T0) is None


def test_idle_timeout(store: SessionStore, engine: sa.Engine) -> None:
    cookie, _ = store.create(1, T0)
    assert store.get(cookie, T0 + IDLE) is not None  # and seen now
    assert store.get(cookie, T0 + 2 * IDLE) is not None  # IDLE after the last request
    assert store.get(cookie, T0 + 3 * IDLE + 1) is None
    assert rows(engine) == []  # deleted when found dead


def test_absolute_timeout_however_busy(store: SessionStore) -> None:
    cookie, _ = store.create(1, T0)
    now = T0
    while now + IDLE / 2 <= T0 + ABSOLUTE:
        now += IDLE / 2
        assert store.get(cookie, now) is not None
    assert store.get(cookie, T0 + ABSOLUTE + 1) is None
    assert store.get(cookie, T0 + ABSOLUTE + 2) is None


def test_seen_at_is_written_at_most_once_a_minute(store: SessionStore) -> None:
    cookie, _ = store.create(1, T0)
    got = store.get(cookie, T0 + 30)
    assert got is not None and got.seen_at == T0
    got = store.get(cookie, T0 + 61)
    assert got is not None and got.seen_at == T0 + 61
    got = store.get(cookie, T0 + 90)
    assert got is not None and got.seen_at == T0 + 61


def test_revoke_and_revoke_user(store: SessionStore) -> None:
    a1, _ = store.create(1, T0)
    a2, _ = store.create(1, T0)
    b, _ = store.create(2, T0)
    store.revoke(a1)
    assert store.get(a1, T0) is None and store.get(a2, T0) is not None
    assert store.revoke_user(1) == 1
    assert store.get(a2, T0) is None
    assert store.get(b, T0) is not None
    assert store.revoke_user(1) == 0


def test_flash_pops_once(store: SessionStore) -> None:
    cookie, session = store.create(1, T0)
    assert store.pop_flash(session.id) is None
    store.set_flash(session.id, b"\x00sealed secret")
    assert store.pop_flash(session.id) == b"\x00sealed secret"
    assert store.pop_flash(session.id) is None
    store.set_flash(session.id, b"one")
    store.set_flash(session.id, b"two")  # the newest replaces
    store.set_flash(session.id, None)
    assert store.pop_flash(session.id) is None
    store.set_flash(session.id, b"three")
    assert store.get(cookie, T0) is not None  # reading the session leaves the flash
    assert store.pop_flash(session.id) == b"three"
    assert store.pop_flash("0" * 64) is None


def test_prune_deletes_timed_out_sessions(store: SessionStore) -> None:
    store.create(1, T0 - ABSOLUTE - 10)
    store.create(1, T0 - IDLE - 10)
    fresh, _ = store.create(1, T0)
    assert store.prune(T0) == 2
    assert store.get(fresh, T0) is not None
    assert store.prune(T0) == 0

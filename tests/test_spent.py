"""The SQLite spend set: first use wins, grouped commits, pruning, and closing."""

import asyncio
import sqlite3

import pytest

from passgate import settings
from passgate.service import open_engine
from passgate.store import StoreUnavailable
from passgate.store.spent import SqliteSpends

pytestmark = pytest.mark.anyio


@pytest.fixture
async def spends(tmp_path):
    cfg = settings.load(env={}, data_dir=str(tmp_path))
    open_engine(cfg).dispose()
    s = SqliteSpends(str(tmp_path / "passgate.db"))
    yield s
    await s.close()


async def test_first_use_wins_under_concurrency(spends) -> None:
    keys = [f"t:{i}" for i in range(200)]
    results = await asyncio.gather(*(spends.spend(k, 9e9) for k in keys * 3))
    assert sum(results) == 200


async def test_prune_forgets_only_expired(spends) -> None:
    await spends.spend("old", 100.0)
    await spends.spend("new", 9e9)
    assert await spends.prune(1000.0) == 1
    assert await spends.spend("new", 9e9) is False
    assert await spends.spend("old", 9e9) is True


async def test_closed_store_fails_closed(spends) -> None:
    await spends.close()
    with pytest.raises(StoreUnavailable):
        await spends.spend("x", 9e9)


async def test_a_held_write_lock_delays_then_succeeds(spends, tmp_path) -> None:
    other = sqlite3.connect(tmp_path / "passgate.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing, e.g. the CLI
    asyncio.get_running_loop().call_later(0.05, other.execute, "COMMIT")
    assert await spends.spend("held", 9e9) is True
    other.close()


async def test_a_lock_held_past_the_deadline_fails_closed(spends, tmp_path) -> None:
    spends.BUSY_DEADLINE = 0.05
    other = sqlite3.connect(tmp_path / "passgate.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreUnavailable):
        await spends.spend("stuck", 9e9)
    other.execute("COMMIT")
    assert await spends.spend("stuck", 9e9) is True  # recovers once the lock is gone
    other.close()


async def test_prune_works_in_chunks(spends) -> None:
    spends.PRUNE_CHUNK = 7
    await asyncio.gather(*(spends.spend(f"k{i}", 10.0) for i in range(30)))
    assert await spends.prune(100.0) == 30


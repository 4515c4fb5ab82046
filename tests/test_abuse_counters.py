"""abuse.counters: the in-process and SQLite versions behave alike: decaying counts that add
up across instances, quiet entries pruned, escalated ones kept, and a cap on new sources."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from passgate.abuse import prefix
from passgate.abuse.counters import SPREAD, Counters, Full, MemoryCounters, SqliteCounters
from passgate.abuse.difficulty import TAU
from passgate.store.db import make_engine, migrate

pytestmark = pytest.mark.anyio

KEY = prefix.derive_key(b"k" * 32)
T0 = 1_800_000_000.0


def src(ip: str) -> prefix.Source:
    return prefix.source(KEY, ip)


def sqlite_file(tmp_path: Path) -> str:
    path = str(tmp_path / "passgate.db")
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["memory", "sqlite"])
async def counters(request, tmp_path: Path) -> AsyncIterator[Counters]:
    made: Counters = (
        MemoryCounters(max_entries=50)
        if request.param == "memory"
        else SqliteCounters(sqlite_file(tmp_path), max_entries=50)
    )
    yield made
    await made.close()


async def test_charges_add_and_decay(counters: Counters) -> None:
    s = src("203.0.113.7")
    for i in range(10):
        mine, parent = await counters.charge(s, T0 + i * 0.001)
    assert mine.solved == pytest.approx(10, rel=1e-3)
    # past SPREAD solves, a prefix's own count prices it; its parent stops counting them
    assert parent.solved == pytest.approx(SPREAD, rel=1e-3)
    mine, parent = await counters.read(s, T0 + TAU)
    assert mine.solved == pytest.approx(10 * math.exp(-1), rel=1e-3)
    sibling, sib_parent = await counters.read(src("203.0.114.7"), T0)
    assert sibling.solved == 0 and sib_parent.solved == pytest.approx(SPREAD, rel=1e-3)


async def test_one_busy_network_does_not_heat_its_parent_but_many_quiet_ones_do(
    counters: Counters,
) -> None:
    for i in range(100):
        await counters.charge(src("198.51.100.7"), T0 + i * 0.01)
    _, parent = await counters.read(src("198.51.7.9"), T0 + 1)
    assert parent.solved <= SPREAD  # the neighbours' parent: only the first few counted
    for i in range(40):  # rotation: forty sibling /24s, two solves each
        for _ in range(2):
            await counters.charge(src(f"203.0.{i}.7"), T0 + 2)
    _, parent = await counters.read(src("203.0.200.1"), T0 + 2)
    assert parent.solved == pytest.approx(80, rel=1e-3)


async def test_fetching_alone_creates_no_entry(counters: Counters) -> None:
    for i in range(40):
        counters.issued(src(f"10.{i}.0.1"))  # one fetch each from many networks
    for _ in range(5):
        counters.issued(src("192.0.2.1"))  # a batch from one
    await counters.flush(T0)
    assert await counters.live() == 1
    assert (await counters.read(src("192.0.2.1"), T0))[0].issued == pytest.approx(5)


async def test_issued_challenges_reach_the_store_at_flush(counters: Counters) -> None:
    s = src("203.0.113.7")
    for _ in range(30):
        counters.issued(s)
    assert (await counters.read(s, T0))[0].issued == 0  # not yet flushed
    await counters.flush(T0)
    await counters.charge(s, T0)
    mine, _ = await counters.read(s, T0)
    assert mine.issued == pytest.approx(30) and mine.unsolved == pytest.approx(29)


async def test_prune_forgets_quiet_entries_and_keeps_escalated_ones(counters: Counters) -> None:
    await counters.charge(src("198.51.100.1"), T0)
    for _ in range(50):
        await counters.charge(src("203.0.113.7"), T0 + 200)
    assert await counters.live() == 4  # two prefixes, two parents
    gone = await counters.prune(T0 + 400)  # the first source decayed below the threshold
    assert gone == 2 and await counters.live() == 2
    mine, _ = await counters.read(src("203.0.113.7"), T0 + 400)
    assert mine.solved > 1  # still carrying weight: kept
    assert await counters.prune(T0 + 200 + 3601) == 2  # an hour unused: gone whatever


async def test_new_sources_are_refused_once_full_and_known_ones_are_not(
    counters: Counters,
) -> None:
    for i in range(49):  # 49 prefixes and their one parent: 50 entries
        await counters.charge(src(f"10.0.{i}.1"), T0)
    await counters.prune(T0)
    assert counters.full
    with pytest.raises(Full):
        await counters.charge(src("198.51.100.1"), T0)
    mine, _ = await counters.charge(src("10.0.3.1"), T0)
    assert mine.solved == pytest.approx(2)


async def test_two_sqlite_instances_add_up(tmp_path: Path) -> None:
    path = sqlite_file(tmp_path)
    a, b = SqliteCounters(path), SqliteCounters(path)
    s = src("203.0.113.7")
    try:
        await asyncio.gather(*(c.charge(s, T0) for c in (a, b) for _ in range(50)))
        for c in (a, b):
            for _ in range(5):
                c.issued(s)
        await asyncio.gather(a.flush(T0), b.flush(T0))
        for c in (a, b):
            mine, parent = await c.read(s, T0)
            assert (mine.solved, mine.issued, parent.solved) == (100, 10, SPREAD)
    finally:
        await a.close()
        await b.close()


async def test_a_missing_store_fails_closed(tmp_path: Path) -> None:
    from passgate.store import StoreUnavailable

    broken = SqliteCounters(str(tmp_path / "no" / "such" / "dir" / "passgate.db"))
    with pytest.raises(StoreUnavailable):
        await broken.read(src("203.0.113.7"), T0)
    with pytest.raises(StoreUnavailable):
        await broken.charge(src("203.0.113.7"), T0)

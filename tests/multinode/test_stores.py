"""The PostgreSQL and Redis backends on their own, against the real servers: spend sets
and grant buckets behave exactly as the SQLite and in-memory ones do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import sqlalchemy as sa

from passgate.store import SpendRefused
from passgate.store.db import make_engine, migrate
from passgate.store.postgres import PostgresRateLimiter, PostgresSpends
from passgate.store.redis import EPOCH_KEY, RedisRateLimiter, RedisSpends
from passgate.tokenapi.ratelimit import MemoryRateLimiter, RateLimiter

from .conftest import Stores

pytestmark = [pytest.mark.multinode, pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture(scope="module")
def pg_url(stores: Stores) -> Iterator[str]:
    url = stores.pg.create_database("passgate_units")
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url


def _own_db(stores: Stores) -> str:
    """Redis database 1: flushing it leaves the clusters' database 0 (and epoch) alone."""
    return stores.redis.url.rsplit("/", 1)[0] + "/1"


@pytest.fixture
async def redis_spends(stores: Stores) -> AsyncIterator[RedisSpends]:
    spends = RedisSpends(_own_db(stores))
    await spends.client.flushdb()
    await spends.ping()  # a fresh epoch, a second ahead (its margin)
    yield spends
    await spends.close()


async def test_postgres_first_use_wins_even_within_one_batch(pg_url: str) -> None:
    spends = PostgresSpends(pg_url)
    try:
        keys = [f"t:pg{i}" for i in range(300)]
        results = await asyncio.gather(*(spends.spend(k, 9e9) for k in keys * 3))
        assert sum(results) == 300
        assert await spends.spend("old", 100.0) is True
        assert await spends.prune(1000.0) == 1
        assert await spends.spend("t:pg1", 9e9) is False
    finally:
        await spends.close()


async def test_redis_first_use_wins(redis_spends: RedisSpends) -> None:
    await asyncio.sleep(1.1)
    now = time.time()
    keys = [f"t:r{i}" for i in range(300)]
    results = await asyncio.gather(*(redis_spends.spend(k, now + 60, now) for k in keys * 3))
    assert sum(results) == 300
    ttl = await redis_spends.client.pttl("passgate:spent:t:r0")
    assert 100_000 < ttl <= 120_000  # the token's remaining minute, plus a minute of slack


async def test_redis_refuses_what_was_issued_before_its_epoch(redis_spends: RedisSpends) -> None:
    epoch = await redis_spends.epoch()
    with pytest.raises(SpendRefused):
        await redis_spends.spend("t:early", epoch + 60, epoch - 0.001)
    assert await redis_spends.spend("t:late", epoch + 60, epoch + 0.01) is True
    with pytest.raises(SpendRefused):  # no issue time: assumed as early as can be
        await redis_spends.spend("t:unknown", epoch + 60)
    await asyncio.sleep(0.1)
    await redis_spends.client.delete(EPOCH_KEY)  # what a restart or a flush leaves: a new epoch
    with pytest.raises(SpendRefused):
        await redis_spends.spend("t:late", epoch + 60, epoch + 0.01)


async def test_a_retried_redis_spend_still_wins(redis_spends: RedisSpends) -> None:
    epoch = await redis_spends.epoch()
    args = [int((epoch + 1) * 1000), int((epoch + 60) * 1000), 1000, 60_000, "nonce-1", ""]
    keys = [EPOCH_KEY, "passgate:spent:t:retry"]
    current = int(epoch * 1000)
    assert await redis_spends._spend(keys=keys, args=args) == [1, current]
    assert await redis_spends._spend(keys=keys, args=args) == [1, current]  # the same again
    assert await redis_spends._spend(keys=keys, args=[*args[:4], "nonce-2", ""]) == [0, current]


async def test_redis_keys_minted_under_the_epoch_need_no_margin(redis_spends: RedisSpends) -> None:
    """A key naming the current epoch is checked however soon after the epoch began; one
    naming an earlier epoch is refused unless issued after this epoch began."""
    await redis_spends.client.delete(EPOCH_KEY)
    current = await redis_spends.current_epoch()
    assert redis_spends.epoch_ms == current
    now = time.time()
    assert now < current / 1000  # still inside the epoch's one-second margin
    assert await redis_spends.spend("t:bound", now + 60, now, epoch=current) is True
    assert await redis_spends.spend("t:bound", now + 60, now, epoch=current) is False
    with pytest.raises(SpendRefused):  # naming no epoch: the margin applies
        await redis_spends.spend("t:unbound", now + 60, now)
    with pytest.raises(SpendRefused):  # naming another epoch: the margin applies
        await redis_spends.spend("t:stale", now + 60, now, epoch=current - 5000)
    later = current / 1000 + 0.01
    assert await redis_spends.spend("t:stale-late", later + 60, later, epoch=current - 5000)
    await redis_spends.client.delete(EPOCH_KEY)  # a restart or a flush: a new epoch
    await asyncio.sleep(0.01)
    for key in ("t:bound", "t:fresh"):  # spent or not, minted under the old epoch: refused
        with pytest.raises(SpendRefused):
            await redis_spends.spend(key, now + 60, now, epoch=current)
    assert redis_spends.epoch_ms is not None and redis_spends.epoch_ms > current
    assert await redis_spends.spend("t:new", now + 60, now, epoch=redis_spends.epoch_ms)


async def _answers(limiter: RateLimiter, bucket: str) -> list[tuple[bool, float]]:
    out = []
    t0 = 1_800_000_000.0
    for dt in (0, 0, 0, 0, 0.5, 1, 1, 2.5, 30, 30, 30, 30, 29.9):
        take = await limiter.take(bucket, 6.0, 3, t0 + dt)
        out.append((take.allowed, round(take.retry_after, 6)))
    return out


async def test_grant_buckets_match_the_reference(stores: Stores, pg_url: str) -> None:
    expected = await _answers(MemoryRateLimiter(), "b")
    redis = RedisSpends(_own_db(stores))
    engine = make_engine(pg_url)
    try:
        assert await _answers(RedisRateLimiter(redis.client), f"b{time.time()}") == expected
        assert await _answers(PostgresRateLimiter(engine), f"b{time.time()}") == expected
    finally:
        await redis.close()
        engine.dispose()


async def test_postgres_buckets_never_overdraw_under_concurrency(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        limiter = PostgresRateLimiter(engine)
        now = time.time()
        takes = await asyncio.gather(*(limiter.take("hot", 0.001, 7, now) for _ in range(40)))
        assert sum(t.allowed for t in takes) == 7
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM rate_buckets")).scalar() >= 1
    finally:
        engine.dispose()

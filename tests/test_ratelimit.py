"""The per-grant token bucket: its arithmetic, and takes that stay exact under concurrency,
in one process and across processes sharing one SQLite file."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from passgate.store.db import make_engine, migrate
from passgate.tokenapi.ratelimit import (
    Bucket,
    MemoryRateLimiter,
    RateLimiter,
    SqliteRateLimiter,
    open_limiter,
    spend,
)

pytestmark = pytest.mark.anyio


def test_a_new_bucket_is_full() -> None:
    state, take = spend(None, 60, 5, 1000.0)
    assert take.allowed and state == Bucket(4.0, 1000.0)


def test_refill_and_retry_after() -> None:
    state, take = spend(Bucket(0.0, 1000.0), 60, 5, 1000.5)  # half a token came back
    assert not take.allowed and take.retry_after == pytest.approx(0.5)
    state, take = spend(state, 60, 5, 1001.0)
    assert take.allowed and state.tokens == pytest.approx(0.0)


def test_refill_caps_at_burst_and_ignores_clocks_behind() -> None:
    state, _ = spend(Bucket(0.0, 1000.0), 60, 3, 5000.0)
    assert state.tokens == pytest.approx(2.0)
    behind, take = spend(Bucket(0.0, 1000.0), 60, 3, 900.0)
    assert not take.allowed and behind.updated_at == 1000.0


@pytest.fixture
def sqlite_limiter(tmp_path: Path) -> SqliteRateLimiter:
    engine = make_engine(f"sqlite:///{tmp_path / 'rl.db'}")
    migrate(engine)
    return SqliteRateLimiter(engine)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_concurrent_takes_are_exact(kind: str, sqlite_limiter: SqliteRateLimiter) -> None:
    limiter: RateLimiter = MemoryRateLimiter() if kind == "memory" else sqlite_limiter
    answers = await asyncio.gather(*(limiter.take("g", 1.0, 50, 1000.0) for _ in range(200)))
    assert sum(a.allowed for a in answers) == 50
    assert all(a.retry_after > 0 for a in answers if not a.allowed)
    assert (await limiter.take("other", 1.0, 1, 1000.0)).allowed  # buckets are independent


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_prune_forgets_full_buckets(kind: str, sqlite_limiter: SqliteRateLimiter) -> None:
    limiter: RateLimiter = MemoryRateLimiter() if kind == "memory" else sqlite_limiter
    await limiter.take("g", 60.0, 2, 1000.0)
    assert await limiter.prune(1000.5) == 0
    assert await limiter.prune(1002.0) == 1


def test_open_limiter_on_sqlite(sqlite_limiter: SqliteRateLimiter) -> None:
    assert isinstance(open_limiter(sqlite_limiter.engine), SqliteRateLimiter)


WORKER = """
import asyncio, json, sys
from passgate.store.db import make_engine
from passgate.tokenapi.ratelimit import SqliteRateLimiter
lim = SqliteRateLimiter(make_engine("sqlite:///" + sys.argv[1]))
async def main():
    answers = await asyncio.gather(*(lim.take("shared", 0.001, 120, 1000.0) for _ in range(80)))
    print(json.dumps(sum(a.allowed for a in answers)))
asyncio.run(main())
"""


def test_takes_are_atomic_across_processes(sqlite_limiter: SqliteRateLimiter) -> None:
    """Four processes race 320 takes at a bucket of 120: exactly 120 pass."""
    path = str(sqlite_limiter.engine.url.database)
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, path], stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    allowed = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(allowed) == 120

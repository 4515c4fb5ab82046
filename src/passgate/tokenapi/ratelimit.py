"""Per-grant rate limits: a token bucket behind a small interface, and its implementations.

`RateLimiter` is the interface every backing store implements (this module: in-memory and
the relational store on SQLite; Redis and PostgreSQL implementations follow the same
contract). `take` is atomic per bucket: among concurrent takes, across every process that
shares the store, no more than `burst` pass at once and the refill never exceeds
`rate_per_min`. The bucket arithmetic is `spend`, pure, so every implementation shares it.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from passgate.store.schema import rate_buckets
from passgate.tokenapi import db


@dataclass(frozen=True)
class Take:
    """The answer to one take: allowed, or how many seconds until a token is there."""

    allowed: bool
    retry_after: float = 0.0


@dataclass(frozen=True)
class Bucket:
    """A bucket's state: `tokens` as of `updated_at` (seconds since the epoch)."""

    tokens: float
    updated_at: float


class RateLimiter(Protocol):
    async def take(self, bucket: str, rate_per_min: float, burst: int, now: float) -> Take:
        """Take one token from `bucket` (created full, with `burst` tokens), refilled at
        `rate_per_min`. Atomic per bucket. Raises StoreUnavailable."""
        ...

    async def prune(self, now: float) -> int:
        """Forget buckets that are full again by `now` (a full bucket is the default)."""
        ...

    async def close(self) -> None: ...


def spend(state: Bucket | None, rate_per_min: float, burst: int, now: float) -> tuple[Bucket, Take]:
    """One take on a bucket: its new state and the answer. Pure."""
    if state is None:
        tokens, at = float(burst), now
    else:
        at = max(now, state.updated_at)  # a clock behind another process's never refills twice
        elapsed = max(0.0, now - state.updated_at)
        tokens = min(float(burst), state.tokens + elapsed * rate_per_min / 60.0)
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, at), Take(True)
    wait = (1.0 - tokens) * 60.0 / rate_per_min if rate_per_min > 0 else math.inf
    return Bucket(tokens, at), Take(False, wait)


def full_at(state: Bucket, rate_per_min: float, burst: int) -> float:
    """When the bucket holds `burst` tokens again: past that, it may be forgotten."""
    if rate_per_min <= 0:
        return math.inf
    return state.updated_at + (burst - state.tokens) * 60.0 / rate_per_min


class MemoryRateLimiter:
    """Buckets in this process's memory: for one process, and for tests."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[Bucket, float]] = {}
        self._lock = asyncio.Lock()

    async def take(self, bucket: str, rate_per_min: float, burst: int, now: float) -> Take:
        async with self._lock:
            held = self._buckets.get(bucket)
            state, answer = spend(held[0] if held else None, rate_per_min, burst, now)
            self._buckets[bucket] = (state, full_at(state, rate_per_min, burst))
        return answer

    async def prune(self, now: float) -> int:
        async with self._lock:
            done = [k for k, (_, full) in self._buckets.items() if full <= now]
            for k in done:
                del self._buckets[k]
        return len(done)

    async def close(self) -> None:
        self._buckets.clear()


class SqliteRateLimiter:
    """Buckets in the relational store on SQLite: one `BEGIN IMMEDIATE` transaction per take,
    so takes are atomic across every process sharing the database file."""

    def __init__(self, engine: sa.Engine) -> None:
        if engine.dialect.name != "sqlite":
            raise ValueError("SqliteRateLimiter needs a SQLite engine")
        self.engine = engine

    async def take(self, bucket: str, rate_per_min: float, burst: int, now: float) -> Take:
        return await db.write(self.engine, self._take, bucket, rate_per_min, burst, now)

    async def prune(self, now: float) -> int:
        return await db.write(self.engine, self._prune, now)

    async def close(self) -> None:
        return None

    def _take(self, bucket: str, rate_per_min: float, burst: int, now: float) -> Take:
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    sa.select(rate_buckets.c.tokens, rate_buckets.c.updated_at).where(
                        rate_buckets.c.bucket == bucket
                    )
                ).first()
                held = Bucket(row[0], row[1]) if row else None
                state, answer = spend(held, rate_per_min, burst, now)
                values = {
                    "tokens": state.tokens,
                    "updated_at": state.updated_at,
                    "full_at": min(full_at(state, rate_per_min, burst), 1e300),
                }
                conn.execute(
                    sqlite_insert(rate_buckets)
                    .values(bucket=bucket, **values)
                    .on_conflict_do_update(index_elements=["bucket"], set_=values)
                )
                conn.exec_driver_sql("COMMIT")
            except BaseException:
                try:
                    conn.exec_driver_sql("ROLLBACK")
                except (sa.exc.SQLAlchemyError, sqlite3.Error):
                    pass
                raise
        return answer

    def _prune(self, now: float) -> int:
        with self.engine.begin() as conn:
            return conn.execute(rate_buckets.delete().where(rate_buckets.c.full_at <= now)).rowcount


def open_limiter(engine: sa.Engine) -> RateLimiter:
    """The rate limiter for the relational store: SQLite's is shared by every process on the
    file. Other stores get theirs from the multi-node backends; until then, one process's."""
    if engine.dialect.name == "sqlite":
        return SqliteRateLimiter(engine)
    return MemoryRateLimiter()

"""State shared through PostgreSQL when there is no Redis: `PostgresSpends`, the single-use
spend set (durable across restarts), and `PostgresRateLimiter`, the token API's grant buckets.

The write is `INSERT ... ON CONFLICT DO NOTHING RETURNING key`: the row's primary key makes
the first insert win, on any node. Spends that arrive together go out as one statement (one
round trip, one commit) on one async psycopg connection per process, so the spend path
needs no threadpool. Every wait is bounded: a store that does not answer fails the request
closed (`StoreUnavailable`) and the connection is opened afresh for the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from passgate.store import StoreUnavailable
from passgate.store.db import CONNECT_TIMEOUT, STATEMENT_TIMEOUT_MS, libpq_url
from passgate.store.schema import rate_buckets
from passgate.store.spent import DurableSpends
from passgate.tokenapi import db as tokenapi_db
from passgate.tokenapi import ratelimit
from passgate.tokenapi.ratelimit import Take

log = logging.getLogger("passgate.store")

CALL_TIMEOUT = 3.0  # seconds a batch may take, connecting included
MAX_BATCH = 500

_SPEND = (
    "INSERT INTO spent (key, expires_at)"
    " SELECT * FROM unnest(%s::varchar[], %s::float8[])"
    " ON CONFLICT (expires_at, key) DO NOTHING RETURNING key"
)

_Pending = tuple[str, float, "asyncio.Future[bool]"]
T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]


class PostgresSpends(DurableSpends):
    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._pending: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False

    async def spend(
        self,
        key: str,
        expires_at: float,
        issued_at: float | None = None,
        epoch: int | None = None,
    ) -> bool:
        """First use of `key` wins. `issued_at` and `epoch` are not needed: PostgreSQL
        forgets nothing."""
        if self._closed:
            raise StoreUnavailable("spend store is closed")
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((key, expires_at, fut))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await fut

    async def prune(self, now: float) -> int:
        # a minute of slack: nodes whose clocks run behind still see the key while it lives
        rows = await self._call("DELETE FROM spent WHERE expires_at < %s", (now - 60.0,))
        return rows

    async def ping(self) -> None:
        await self._call("SELECT 1", ())

    async def close(self) -> None:
        self._closed = True
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._writer), CALL_TIMEOUT)
        for _, _, fut in self._pending:
            if not fut.done():
                fut.set_exception(StoreUnavailable("spend store is closed"))
        self._pending = []
        await self._drop()

    async def _drain(self) -> None:
        """Send what is pending as batches until nothing is left."""
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                won = await self._insert([k for k, _, _ in batch], [e for _, e, _ in batch])
            except StoreUnavailable as exc:
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(StoreUnavailable(str(exc)))
                continue
            for key, _, fut in batch:
                if fut.done():
                    continue
                fut.set_result(key in won)
                won.discard(key)  # a key twice in one batch: only its first caller wins

    async def _insert(self, keys: list[str], expires: list[float]) -> set[str]:
        async def run(conn: Conn) -> set[str]:
            cur = await conn.execute(_SPEND, (keys, expires))
            return {row[0] for row in await cur.fetchall()}

        return await self._with_conn(run)

    async def _call(self, sql: str, params: tuple[Any, ...]) -> int:
        async def run(conn: Conn) -> int:
            cur = await conn.execute(sql, params)
            return cur.rowcount

        return await self._with_conn(run)

    async def _with_conn(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            try:
                return await asyncio.wait_for(self._run(fn), CALL_TIMEOUT)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                await self._drop()
                raise StoreUnavailable(f"PostgreSQL: {type(exc).__name__}: {exc}") from None

    async def _run(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self._url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            )
        return await fn(self._conn)

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 1.0)


class PostgresRateLimiter:
    """Grant buckets in PostgreSQL (`rate_buckets`), for deployments without Redis: each take
    is one transaction holding the bucket's row lock, so nodes queue on it and never overdraw.
    """

    def __init__(self, engine: sa.Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("PostgresRateLimiter needs a PostgreSQL engine")
        self.engine = engine

    async def take(self, bucket: str, rate_per_min: float, burst: int, now: float) -> Take:
        return await tokenapi_db.run(self._take, bucket, rate_per_min, burst, now)

    async def prune(self, now: float) -> int:
        return await tokenapi_db.run(self._prune, now)

    async def close(self) -> None:
        return None

    def _take(self, bucket: str, rate_per_min: float, burst: int, now: float) -> Take:
        b = rate_buckets.c
        with self.engine.begin() as conn:
            conn.execute(  # a new bucket starts full: the same state `spend(None, ...)` starts from
                pg_insert(rate_buckets)
                .values(bucket=bucket, tokens=float(burst), updated_at=now, full_at=now)
                .on_conflict_do_nothing(index_elements=["bucket"])
            )
            row = conn.execute(
                sa.select(b.tokens, b.updated_at).where(b.bucket == bucket).with_for_update()
            ).one()
            state, answer = ratelimit.spend(
                ratelimit.Bucket(row[0], row[1]), rate_per_min, burst, now
            )
            conn.execute(
                rate_buckets.update()
                .where(b.bucket == bucket)
                .values(
                    tokens=state.tokens,
                    updated_at=state.updated_at,
                    full_at=min(ratelimit.full_at(state, rate_per_min, burst), 1e300),
                )
            )
        return answer

    def _prune(self, now: float) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(rate_buckets.delete().where(rate_buckets.c.full_at <= now))
            return int(result.rowcount)

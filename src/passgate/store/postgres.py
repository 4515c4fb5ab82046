"""`PostgresSpends`: the single-use spend set in PostgreSQL, durable across restarts.

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

from passgate.store import StoreUnavailable
from passgate.store.db import CONNECT_TIMEOUT, STATEMENT_TIMEOUT_MS, libpq_url

log = logging.getLogger("passgate.store")

CALL_TIMEOUT = 3.0  # seconds a batch may take, connecting included
MAX_BATCH = 500

_SPEND = (
    "INSERT INTO spent (key, expires_at)"
    " SELECT * FROM unnest(%s::varchar[], %s::float8[])"
    " ON CONFLICT (key) DO NOTHING RETURNING key"
)

_Pending = tuple[str, float, "asyncio.Future[bool]"]
T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]


class PostgresSpends:
    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._pending: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False

    async def spend(self, key: str, expires_at: float, issued_at: float | None = None) -> bool:
        """First use of `key` wins. `issued_at` is not needed: PostgreSQL forgets nothing."""
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

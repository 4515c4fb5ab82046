"""Single-use spend sets: the atomic "first use wins" write behind tokens and challenges.

`SqliteSpends` runs every write through one writer thread on the sqlite3 driver, grouping
the writes that arrive together into one transaction (one commit for many requests).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from passgate.store import StoreUnavailable

Op = Callable[[sqlite3.Connection], Any]


class Spends(Protocol):
    async def spend(self, key: str, expires_at: float, issued_at: float | None = None) -> bool:
        """Record `key` as used; True only for the first use. Raises StoreUnavailable, or
        SpendRefused when the set cannot vouch for keys issued at `issued_at` (Redis that
        restarted empty since); `issued_at` None means "as early as the key could be"."""
        ...

    async def prune(self, now: float) -> int:
        """Forget keys whose expiry has passed; returns how many."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class SqliteSpends:
    def __init__(self, path: str) -> None:
        self._path = path
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="passgate-spends", daemon=True)
        self._thread.start()

    async def spend(self, key: str, expires_at: float, issued_at: float | None = None) -> bool:
        result: bool = await self._submit(
            lambda c: (
                c.execute(
                    "INSERT OR IGNORE INTO spent (key, expires_at) VALUES (?, ?)", (key, expires_at)
                ).rowcount
                == 1
            )
        )
        return result

    async def prune(self, now: float) -> int:
        count: int = await self._submit(
            lambda c: c.execute("DELETE FROM spent WHERE expires_at < ?", (now,)).rowcount
        )
        return count

    async def ping(self) -> None:
        await self._submit(lambda c: c.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 5)

    async def _submit(self, op: Op) -> Any:
        if self._closed:
            raise StoreUnavailable("spend store is closed")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._pending.append((op, fut))
        self._wake.set()
        return await fut

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, []
            if batch:
                conn = self._apply(conn, batch)
            if self._closed:
                with self._lock:
                    rest, self._pending = self._pending, []
                _settle([(f, StoreUnavailable("closed")) for _, f in rest])
                if conn is not None:
                    conn.close()
                return

    def _apply(
        self, conn: sqlite3.Connection | None, batch: list[tuple[Op, asyncio.Future[Any]]]
    ) -> sqlite3.Connection | None:
        try:
            conn = conn or self._connect()
            conn.execute("BEGIN IMMEDIATE")
            results = [op(conn) for op, _ in batch]
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn is not None:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            time.sleep(0.01)
            _settle([(f, StoreUnavailable(str(exc))) for _, f in batch])
            return None
        _settle([(f, r) for (_, f), r in zip(batch, results, strict=True)])
        return conn


def _settle(outcomes: list[tuple[asyncio.Future[Any], Any]]) -> None:
    """Resolve futures from the writer thread, one wake-up per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for fut, value in outcomes:
        by_loop.setdefault(fut.get_loop(), []).append((fut, value))
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, items)
        except RuntimeError:  # the loop has closed; nobody is waiting
            pass


def _resolve(items: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for fut, value in items:
        if fut.done():
            continue
        if isinstance(value, BaseException):
            fut.set_exception(value)
        else:
            fut.set_result(value)

"""Single-use spend sets: the atomic "first use wins" write behind tokens and challenges.

`SqliteSpends` writes on the sqlite3 driver directly, on the event loop's thread, grouping
the spends of one loop tick into one transaction (one commit for many requests).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Protocol

from passgate.store import StoreUnavailable


class Spends(Protocol):
    epoch_ms: int | None  # the epoch last seen (Redis only; see store.redis), without I/O

    async def spend(
        self,
        key: str,
        expires_at: float,
        issued_at: float | None = None,
        epoch: int | None = None,
    ) -> bool:
        """Record `key` as used; True only for the first use. Raises StoreUnavailable, or
        SpendRefused when the set cannot vouch for the key: it was minted under `epoch` and
        the set has lost its memory since (Redis restarted empty), or, naming no epoch, it
        was issued at `issued_at` before that; `issued_at` None means "as early as the key
        could be"."""
        ...

    async def current_epoch(self) -> int | None:
        """The epoch a key minted now should name, read from the set (None: a set that
        never forgets, which needs none). Raises StoreUnavailable."""
        ...

    async def prune(self, now: float) -> int:
        """Forget keys whose expiry has passed; returns how many."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class DurableSpends:
    """What a set that never forgets (SQLite, PostgreSQL) answers about epochs: none."""

    epoch_ms: int | None = None

    async def current_epoch(self) -> int | None:
        return None


class SqliteSpends(DurableSpends):
    """Spends written on the event loop's own thread, grouped: every spend that arrives in one
    loop tick shares one transaction and one commit. No thread hand-off on the hot path.

    The write never waits on a lock: when another process (the CLI, a pruner) holds it, the
    batch retries a few milliseconds later, and fails closed after `BUSY_DEADLINE`. Pruning
    and WAL checkpoints, which may fsync, run in a worker thread on their own connection.
    """

    BUSY_DEADLINE = 2.0
    BUSY_RETRY = 0.002
    CHECKPOINT_EVERY = 0.5
    PRUNE_CHUNK = 5000

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[str, float, asyncio.Future[bool]]] = []
        self._scheduled = False
        self._busy_since: float | None = None
        self._closed = False
        self._checkpointed = time.monotonic()
        self._checkpointing = False

    async def spend(
        self,
        key: str,
        expires_at: float,
        issued_at: float | None = None,
        epoch: int | None = None,
    ) -> bool:
        if self._closed:
            raise StoreUnavailable("spend store is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._pending.append((key, expires_at, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await fut

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            results = self._write(batch)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc) and self._retry(batch):
                return
            self._fail(batch, exc)
            return
        except sqlite3.Error as exc:
            self._fail(batch, exc)
            return
        self._busy_since = None
        for (_, _, fut), first in zip(batch, results, strict=True):
            if not fut.done():
                fut.set_result(first)
        self._maybe_checkpoint()

    def _write(self, batch: list[tuple[str, float, asyncio.Future[bool]]]) -> list[bool]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            results = [
                conn.execute(
                    "INSERT OR IGNORE INTO spent (key, expires_at) VALUES (?, ?)", (key, exp)
                ).rowcount
                == 1
                for key, exp, _ in batch
            ]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    def _retry(self, batch: list[tuple[str, float, asyncio.Future[bool]]]) -> bool:
        """Put a batch that met a locked database back in line; False past the deadline."""
        now = time.monotonic()
        self._busy_since = self._busy_since or now
        if now - self._busy_since > self.BUSY_DEADLINE:
            return False
        self._pending[:0] = batch
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(self.BUSY_RETRY, self._flush)
        return True

    def _fail(self, batch: list[tuple[str, float, asyncio.Future[bool]]], exc: Exception) -> None:
        self._busy_since = None
        self._drop_connection()
        for _, _, fut in batch:
            if not fut.done():
                fut.set_exception(StoreUnavailable(str(exc)))

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = connect(self._path, busy_ms=0)
            conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run off the loop
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def _maybe_checkpoint(self) -> None:
        now = time.monotonic()
        if self._checkpointing or now - self._checkpointed < self.CHECKPOINT_EVERY:
            return
        self._checkpointing = True
        self._checkpointed = now
        task = asyncio.get_running_loop().run_in_executor(None, self._checkpoint)
        task.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, task: asyncio.Future[None]) -> None:
        self._checkpointing = False
        if not task.cancelled():
            task.exception()  # retrieved; a failed checkpoint is tried at the next interval

    def _checkpoint(self) -> None:
        """Copy the WAL into the database and start it again from its beginning. PASSIVE
        copies the bulk while the writer goes on; RESTART then copies what arrived meanwhile
        and restarts the WAL, while the writer, which meets a busy database for those few
        milliseconds, retries. PASSIVE alone never catches up with a writer that never
        pauses, and the WAL grows without end (37 MB every 4 s of siteverify load:
        BENCHMARKS.md); RESTART alone held the writer for the whole copy (a 94 ms stall
        every 2 s under load, against 8.5 ms every 0.5 s this way). The journal size limit
        gives the file back once it has restarted."""
        conn = connect(self._path, busy_ms=CHECKPOINT_BUSY_MS)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            conn.execute("PRAGMA wal_checkpoint(RESTART)")
        finally:
            conn.close()

    async def prune(self, now: float) -> int:
        return await asyncio.get_running_loop().run_in_executor(None, self._prune, now)

    def _prune(self, now: float) -> int:
        """Delete expired keys in short chunks, so no lock is held for long."""
        try:
            conn = connect(self._path, busy_ms=5000)
            try:
                total = 0
                while True:
                    n = conn.execute(
                        "DELETE FROM spent WHERE (expires_at, key) IN (SELECT expires_at, "
                        "key FROM spent WHERE expires_at < ? ORDER BY expires_at LIMIT ?)",
                        (now, self.PRUNE_CHUNK),
                    ).rowcount
                    total += n
                    if n < self.PRUNE_CHUNK:
                        return total
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from None

    async def ping(self) -> None:
        if self._closed:
            raise StoreUnavailable("spend store is closed")
        try:
            self._connection().execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            self._drop_connection()
            raise StoreUnavailable(str(exc)) from None

    async def close(self) -> None:
        self._closed = True
        if self._pending:
            self._flush()
        self._drop_connection()


CHECKPOINT_BUSY_MS = 1000  # how long a checkpoint waits for the writer and readers
JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024  # bytes of WAL kept after a restart


def connect(path: str, busy_ms: int) -> sqlite3.Connection:
    """A connection to the SQLite file as passgate's writers use it: autocommit, WAL,
    synchronous=NORMAL, a busy timeout of `busy_ms`."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
    return conn


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text

"""Where a source's history lives: decaying counts of solves and of challenges issued, per
prefix hash (abuse.prefix). The interface, the in-process version for unit tests, and the
embedded SQLite version; PostgreSQL's and Redis's live beside the other shared state in
store/.

Every version decays the same way (abuse.difficulty.decay), adds atomically, so processes
and nodes never overwrite each other, and caps its own size: entries whose counts have
decayed to nothing are pruned (and every entry within an hour of its last use), an entry
still carrying weight is never evicted, and when `max_entries` are live a new source is not
recorded: it is priced at the site's cap (`Full`) until pruning makes room.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from dataclasses import dataclass
from typing import Protocol

from passgate.abuse.difficulty import TAU, decay
from passgate.abuse.prefix import Source
from passgate.store import StoreUnavailable
from passgate.store.spent import connect

RETENTION = 3600.0  # seconds: no entry outlives an hour without use
QUIET = 0.05  # a count decayed below this is gone (its price effect is under 0.1%)
MAX_BUFFERED = 100_000  # distinct prefixes whose issued challenges one process holds
DEFAULT_MAX_ENTRIES = 2_000_000
FLUSH_CHUNK = 2_000
# A prefix's solve counts towards its parent only while the prefix's own count (this solve
# included) is at most SPREAD: past that the prefix is priced and scored by its own count, so
# one busy network cannot raise its neighbours' price; rotation through many quiet siblings
# still heats the parent.
SPREAD = 8.0
# Fetching challenges alone creates no entry: a flush records a new prefix only when it
# fetched at least this many in one interval (no store growth from one fetch per address).
NEW_FROM_ISSUES = 4


class Full(StoreUnavailable):
    """The counters hold `max_entries` live sources and this one is new: it cannot be
    tracked, so it is priced at the site's cap."""


@dataclass(frozen=True)
class History:
    """A source's decayed counts as of a moment."""

    solved: float = 0.0
    issued: float = 0.0

    @property
    def unsolved(self) -> float:
        """Challenges fetched and not (yet) solved, decayed."""
        return max(0.0, self.issued - self.solved)


QUIET_HISTORY = History()


class Counters(Protocol):
    @property
    def full(self) -> bool:
        """`max_entries` are live (as of the last prune): new sources are not tracked."""
        ...

    async def read(self, source: Source, now: float) -> tuple[History, History]:
        """(prefix, parent) as of `now`. Raises StoreUnavailable."""
        ...

    async def charge(self, source: Source, now: float) -> tuple[History, History]:
        """Add one solve to the prefix, and to its parent while the prefix's count is at most
        SPREAD; their histories after it. Raises StoreUnavailable, or Full when the prefix is
        new and the counters are full (nothing is written then)."""
        ...

    def issued(self, source: Source) -> None:
        """Note one challenge issued to the prefix, without I/O: the counts reach the store
        at the next `flush` (every second), added to what other processes flushed."""
        ...

    async def flush(self, now: float) -> None:
        """Write the noted issues. Raises StoreUnavailable (they are kept for the next)."""
        ...

    async def prune(self, now: float) -> int:
        """Forget quiet and hour-old entries; returns how many."""
        ...

    async def live(self) -> int:
        """Entries held now."""
        ...

    async def close(self) -> None: ...


def _decayed(row: tuple[float, float, float] | None, now: float) -> History:
    if row is None:
        return QUIET_HISTORY
    solved, issued, at = row
    return History(decay(solved, at, now), decay(issued, at, now))


class IssueBuffer:
    """Challenges issued per prefix since the last flush, bounded: past MAX_BUFFERED
    distinct prefixes in one interval, further new ones are not counted (the count is a
    risk signal, never a gate)."""

    def __init__(self) -> None:
        self.pending: dict[str, float] = {}

    def add(self, key: str) -> None:
        pending = self.pending
        if key in pending:
            pending[key] += 1
        elif len(pending) < MAX_BUFFERED:
            pending[key] = 1

    def take(self) -> dict[str, float]:
        taken, self.pending = self.pending, {}
        return taken

    def give_back(self, taken: dict[str, float]) -> None:
        for key, n in taken.items():
            if key in self.pending or len(self.pending) < MAX_BUFFERED:
                self.pending[key] = self.pending.get(key, 0) + n


class MemoryCounters:
    """In-process counters: for unit tests only (they hold in one process)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.rows: dict[str, tuple[float, float, float]] = {}
        self.max_entries = max_entries
        self.buffer = IssueBuffer()

    @property
    def full(self) -> bool:
        return len(self.rows) >= self.max_entries

    async def read(self, source: Source, now: float) -> tuple[History, History]:
        return _decayed(self.rows.get(source.prefix), now), _decayed(
            self.rows.get(source.parent), now
        )

    async def charge(self, source: Source, now: float) -> tuple[History, History]:
        if source.prefix not in self.rows and len(self.rows) >= self.max_entries:
            raise Full("the abuse counters are full")
        mine = self._add(source.prefix, 1, 0, now)
        return mine, self._add(source.parent, 1 if mine.solved <= SPREAD else 0, 0, now)

    def _add(self, key: str, solved: float, issued: float, now: float) -> History:
        h = _decayed(self.rows.get(key), now)
        if key not in self.rows and len(self.rows) >= self.max_entries:
            return History(h.solved + solved, h.issued + issued)
        self.rows[key] = (h.solved + solved, h.issued + issued, now)
        return History(h.solved + solved, h.issued + issued)

    def issued(self, source: Source) -> None:
        self.buffer.add(source.prefix)

    async def flush(self, now: float) -> None:
        for key, n in self.buffer.take().items():
            if key in self.rows or n >= NEW_FROM_ISSUES:
                self._add(key, 0, n, now)

    async def prune(self, now: float) -> int:
        gone = [k for k, row in self.rows.items() if _gone(row, now)]
        for k in gone:
            del self.rows[k]
        return len(gone)

    async def live(self) -> int:
        return len(self.rows)

    async def close(self) -> None:
        return None


def _gone(row: tuple[float, float, float], now: float) -> bool:
    solved, issued, at = row
    return now - at > RETENTION or max(decay(solved, at, now), decay(issued, at, now)) < QUIET


def key_int(key: str) -> int:
    """A prefix hash (16 hex chars) as the signed 64-bit integer the relational stores key
    rows by."""
    value = int(key, 16)
    return value - (1 << 64) if value >= 1 << 63 else value


# One atomic add: decays what is there to `at`, adds, returns the counts after.
SQLITE_ADD = (
    "INSERT INTO abuse_counters (key, solved, issued, at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET "
    "solved = solved * passgate_decay(excluded.at - at) + excluded.solved, "
    "issued = issued * passgate_decay(excluded.at - at) + excluded.issued, "
    "at = max(at, excluded.at) RETURNING solved, issued"
)
SQLITE_READ = "SELECT solved, issued, at FROM abuse_counters WHERE key = ?"
PARENT_CACHE = 1.0  # seconds a process may price with a parent's count as it read it

SQLITE_ADD_EXISTING = (
    "UPDATE abuse_counters SET solved = solved * passgate_decay(? - at) + ?, "
    "issued = issued * passgate_decay(? - at) + ?, at = max(at, ?) WHERE key = ? "
    "RETURNING solved, issued"
)

SQLITE_ADD_ISSUED_EXISTING = (
    "UPDATE abuse_counters SET solved = solved * passgate_decay(?3 - at), "
    "issued = issued * passgate_decay(?3 - at) + ?2, at = max(at, ?3) WHERE key = ?1"
)


def _decay_factor(dt: float) -> float:
    return math.exp(-dt / TAU) if dt > 0 else 1.0


def connect_sqlite(path: str, busy_ms: int) -> sqlite3.Connection:
    """store.spent.connect's connection, with the decay function the upserts call."""
    conn = connect(path, busy_ms)
    conn.create_function("passgate_decay", 1, _decay_factor, deterministic=True)
    return conn


class SqliteCounters:
    """Counters in the SQLite file, shared by every process on the machine.

    Reads and solve charges run on the event loop's thread (a primary-key lookup, and an
    upsert in a short transaction; a lock held by another process is retried for up to
    BUSY_DEADLINE, then the charge fails closed). Flushes of issued challenges and pruning
    run in a worker thread on connections of their own."""

    BUSY_DEADLINE = 2.0
    BUSY_RETRY = 0.002

    def __init__(self, path: str, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._path = path
        self.max_entries = max_entries
        self._conn: sqlite3.Connection | None = None
        self.full = False  # set by prune
        self._parents: dict[str, tuple[float, tuple[float, float, float] | None]] = {}
        self.buffer = IssueBuffer()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect_sqlite(self._path, busy_ms=0)
        return self._conn

    def _fail(self, exc: sqlite3.Error) -> StoreUnavailable:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None
        return StoreUnavailable(f"abuse counters: {exc}")

    async def read(self, source: Source, now: float) -> tuple[History, History]:
        """Two primary-key lookups on the loop's thread. A parent, shared by many prefixes,
        is read at most once a second per process (PARENT_CACHE seconds stale at most)."""
        try:
            conn = self._connection()
            mine = conn.execute(SQLITE_READ, (key_int(source.prefix),)).fetchone()
            cached = self._parents.get(source.parent)
            if cached is not None and 0 <= now - cached[0] < PARENT_CACHE:
                parent = cached[1]
            else:
                parent = conn.execute(SQLITE_READ, (key_int(source.parent),)).fetchone()
                if len(self._parents) > 4096:
                    self._parents.clear()
                self._parents[source.parent] = (now, parent)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None
        return _decayed(mine, now), _decayed(parent, now)

    async def charge(self, source: Source, now: float) -> tuple[History, History]:
        started = time.monotonic()
        while True:
            try:
                mine, parent = self._charge(source, now)
                self._parents[source.parent] = (now, (parent.solved, parent.issued, now))
                return mine, parent
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text) or (
                    time.monotonic() - started > self.BUSY_DEADLINE
                ):
                    raise self._fail(exc) from None
            except sqlite3.Error as exc:
                raise self._fail(exc) from None
            await asyncio.sleep(self.BUSY_RETRY)

    def _charge(self, source: Source, now: float) -> tuple[History, History]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            prefix = self._add(conn, source.prefix, now, new_ok=not self.full)
            if prefix is None:
                conn.execute("ROLLBACK")
                raise Full("the abuse counters are full")
            parent = self._add(conn, source.parent, now, True, 1.0 if prefix[0] <= SPREAD else 0.0)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return History(*prefix), History(*(parent or (1.0, 0.0)))

    @staticmethod
    def _add(
        conn: sqlite3.Connection, key: str, now: float, new_ok: bool, solves: float = 1.0
    ) -> tuple[float, float] | None:
        k = key_int(key)
        if new_ok:
            row = conn.execute(SQLITE_ADD, (k, solves, 0.0, now)).fetchone()
        else:
            row = conn.execute(SQLITE_ADD_EXISTING, (now, solves, now, 0.0, now, k)).fetchone()
        return None if row is None else (row[0], row[1])

    def issued(self, source: Source) -> None:
        self.buffer.add(source.prefix)

    async def flush(self, now: float) -> None:
        taken = self.buffer.take()
        if not taken:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._flush, taken, now)
        except StoreUnavailable:
            self.buffer.give_back(taken)
            raise

    def _flush(self, taken: dict[str, float], now: float) -> None:
        """Add the issued counts in short transactions (FLUSH_CHUNK rows each), so that no
        spend waits long for the write lock."""
        rows = [(key_int(k), 0.0, n, now) for k, n in taken.items()]
        try:
            conn = connect_sqlite(self._path, busy_ms=5000)
            try:
                for i in range(0, len(rows), FLUSH_CHUNK):
                    chunk = rows[i : i + FLUSH_CHUNK]
                    conn.execute("BEGIN IMMEDIATE")
                    new_ok = [] if self.full else [r for r in chunk if r[2] >= NEW_FROM_ISSUES]
                    existing = [
                        (k, n, t) for k, _, n, t in chunk if self.full or n < NEW_FROM_ISSUES
                    ]
                    conn.executemany(SQLITE_ADD_ISSUED_EXISTING, existing)
                    conn.executemany(SQLITE_ADD.rpartition(" RETURNING")[0], new_ok)
                    conn.execute("COMMIT")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"abuse counters: {exc}") from None

    async def prune(self, now: float) -> int:
        return await asyncio.get_running_loop().run_in_executor(None, self._prune, now)

    def _prune(self, now: float) -> int:
        try:
            conn = connect_sqlite(self._path, busy_ms=5000)
            try:
                total = 0
                while True:
                    n = conn.execute(
                        "DELETE FROM abuse_counters WHERE key IN (SELECT key FROM "
                        "abuse_counters WHERE at < ? OR (solved * passgate_decay(? - at) < ? "
                        "AND issued * passgate_decay(? - at) < ?) LIMIT 5000)",
                        (now - RETENTION, now, QUIET, now, QUIET),
                    ).rowcount
                    total += n
                    if n < 5000:
                        break
                live = conn.execute("SELECT count(*) FROM abuse_counters").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"abuse counters: {exc}") from None
        self.full = live >= self.max_entries
        return int(total)

    async def live(self) -> int:
        try:
            return int(
                self._connection().execute("SELECT count(*) FROM abuse_counters").fetchone()[0]
            )
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

"""The abuse counters (abuse.counters) in PostgreSQL, for nodes without Redis: the
`abuse_counters` table, keyed by the 64-bit prefix hash (abuse.counters.key_int).

Every add is one upsert, atomic, decaying what is there exactly as SQLite's does:

    INSERT ... ON CONFLICT (key) DO UPDATE SET
      solved = abuse_counters.solved * exp(-greatest(excluded.at - abuse_counters.at, 0) / TAU)
               + excluded.solved, ...  at = greatest(abuse_counters.at, excluded.at)

so nodes add to each other's counts and never overwrite them. (PostgreSQL raises on a float
underflow where SQLite quietly gives 0, so a count decayed past 200 TAU, or already under
1e-100, counts as 0: both far below QUIET.)

The hot paths take the spend set's way (store.postgres): async psycopg, no threadpool, and
what arrives while a statement runs goes out together in the next. Reads (/1/challenge) have
a connection of their own, one `SELECT ... WHERE key = ANY(...)` per batch, and never write;
charges (/1/solve) have another, one upsert per batch, keys sorted so that nodes lock rows
in the same order and never deadlock. A batch answers each caller what it would have seen
alone (the j-th of k charges on a key sees the count after, less k - j). Flushes, pruning and
counting use a third. Counter connections commit with `synchronous_commit=off`: a crash of
PostgreSQL may lose the last fraction of a second of counts, a risk signal, never a spend.

As in SQLite, whether the counters are full is the live count seen at the last prune: while
full, a new prefix is refused (`Full`) and nothing of its charge is written. Pruning deletes
in 64 key ranges, skipping rows a charge holds (`SKIP LOCKED`, so it never waits on one).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg

from passgate.abuse.counters import (
    DEFAULT_MAX_ENTRIES,
    NEW_FROM_ISSUES,
    QUIET,
    QUIET_HISTORY,
    RETENTION,
    SPREAD,
    Full,
    History,
    IssueBuffer,
    key_int,
)
from passgate.abuse.difficulty import TAU, decay
from passgate.abuse.prefix import Source
from passgate.store import StoreUnavailable
from passgate.store.db import CONNECT_TIMEOUT, STATEMENT_TIMEOUT_MS, libpq_url
from passgate.store.postgres import CALL_TIMEOUT, MAX_BATCH

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]

FAR = 200 * TAU  # seconds after which a count has decayed to nothing (exp(-200) < 1e-86)
TINY = 1e-100  # a count below this is nothing (and cannot underflow when decayed)
FLUSH_CHUNK = 2000  # issued counts per statement
PRUNE_SLICES = 64  # key ranges pruned one statement each
UPKEEP_TIMEOUT = STATEMENT_TIMEOUT_MS / 1000 + CONNECT_TIMEOUT  # seconds, a flush or prune step


def _decayed(count: str, dt: str) -> str:
    """SQL for `count` decayed over `dt` seconds (no decay when dt <= 0)."""
    return (
        f"(CASE WHEN {dt} >= {FAR!r}::float8 OR {count} < {TINY!r}::float8 THEN 0::float8 "
        f"ELSE {count} * exp(-greatest({dt}, 0) / {float(TAU)!r}::float8) END)"
    )


_UPSERT = (
    " ON CONFLICT (key) DO UPDATE SET"
    f" solved = {_decayed('c.solved', 'excluded.at - c.at')} + excluded.solved,"
    f" issued = {_decayed('c.issued', 'excluded.at - c.at')} + excluded.issued,"
    " at = greatest(c.at, excluded.at)"
)

# One row per charge (prefix, now); while full (`open` false) only the charges whose prefix
# exists. One solve per charge on its prefix, summed per key.
_CHARGE = (
    "WITH t AS"  # noqa: S608 - constant SQL (as are _FLUSH's and _PRUNE's); values are bound
    " (SELECT * FROM unnest(%(pre)s::int8[], %(at)s::float8[]) AS t(pre, at)),"
    " ok AS (SELECT * FROM t WHERE %(open)s::boolean"
    " OR EXISTS (SELECT 1 FROM abuse_counters e WHERE e.key = t.pre))"
    " INSERT INTO abuse_counters AS c (key, solved, issued, at)"
    " SELECT pre, count(*)::float8, 0::float8, max(at) FROM ok GROUP BY pre ORDER BY pre"
    + _UPSERT
    + " RETURNING c.key, c.solved, c.issued"
)

# The parents of the charged prefixes, each with the solves that count towards it (0 for
# a prefix past SPREAD: the row is still decayed and read).
_ADD_PARENTS = (
    "INSERT INTO abuse_counters AS c (key, solved, issued, at)"  # noqa: S608
    " SELECT t.key, t.n, 0::float8, t.at"
    " FROM unnest(%(key)s::int8[], %(n)s::float8[], %(at)s::float8[]) AS t(key, n, at)"
    " ORDER BY t.key" + _UPSERT + " RETURNING c.key, c.solved, c.issued"
)

_READ = "SELECT key, solved, issued, at FROM abuse_counters WHERE key = ANY(%s::int8[])"

_FLUSH = (
    "INSERT INTO abuse_counters AS c (key, solved, issued, at)"  # noqa: S608
    " SELECT t.key, 0::float8, t.n, %(at)s::float8"
    " FROM unnest(%(key)s::int8[], %(n)s::float8[]) AS t(key, n)"
    " WHERE (%(open)s::boolean AND t.n >= %(new_from)s::float8)"
    " OR EXISTS (SELECT 1 FROM abuse_counters e WHERE e.key = t.key)"
    " ORDER BY t.key" + _UPSERT
)

_PRUNE = (
    "DELETE FROM abuse_counters WHERE key IN"  # noqa: S608
    " (SELECT key FROM abuse_counters"
    " WHERE key BETWEEN %(lo)s AND %(hi)s AND (%(now)s::float8 - at > "
    f"{float(RETENTION)!r}::float8"
    f" OR ({_decayed('solved', '%(now)s::float8 - at')} < {float(QUIET)!r}::float8"
    f" AND {_decayed('issued', '%(now)s::float8 - at')} < {float(QUIET)!r}::float8))"
    " FOR UPDATE SKIP LOCKED)"
)


def _slices() -> list[tuple[int, int]]:
    width = 2**64 // PRUNE_SLICES
    return [(-(2**63) + i * width, -(2**63) + (i + 1) * width - 1) for i in range(PRUNE_SLICES)]


class _Connection:
    """One async psycopg connection, used by one call at a time, opened on demand and opened
    afresh after any failure. Every wait is bounded: a store that does not answer fails the
    call closed (StoreUnavailable)."""

    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self._conn: Conn | None = None
        self._lock: asyncio.Lock | None = None

    async def call(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            reused = self._conn is not None and not self._conn.closed
            try:
                return await asyncio.wait_for(self._run(fn), self._timeout)
            except psycopg.OperationalError as exc:
                await self.drop()
                if not reused:
                    raise self._unavailable(exc) from None
            except (psycopg.Error, OSError, TimeoutError) as exc:
                await self.drop()
                raise self._unavailable(exc) from None
            # A connection kept from before a PostgreSQL restart fails once: a fresh one is
            # tried, once (a charge retried after a lost reply may count twice: only ever
            # more, never less).
            try:
                return await asyncio.wait_for(self._run(fn), self._timeout)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                await self.drop()
                raise self._unavailable(exc) from None

    @staticmethod
    def _unavailable(exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"abuse counters: PostgreSQL: {type(exc).__name__}: {exc}")

    async def _run(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self._url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c synchronous_commit=off",
            )
        return await fn(self._conn)

    async def drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 1.0)


_Batch = Callable[[Conn, list[Any]], Awaitable[list[Any]]]


class _Lane:
    """Calls that share one connection: those that arrive while a statement runs go out
    together, as one statement, in the next. `run` answers a batch with one result per call
    (an exception instance fails its call alone)."""

    def __init__(self, url: str, run: _Batch) -> None:
        self._conn = _Connection(url, CALL_TIMEOUT)
        self._run = run
        self._pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    async def submit(self, item: Any) -> Any:
        if self._closed:
            raise StoreUnavailable("abuse counters are closed")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            items = [item for item, _ in batch]

            async def run(conn: Conn, items: list[Any] = items) -> list[Any]:
                return await self._run(conn, items)

            try:
                results = await self._conn.call(run)
            except StoreUnavailable as exc:
                results = [StoreUnavailable(str(exc)) for _ in batch]
            for (_, fut), result in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)

    async def close(self) -> None:
        self._closed = True
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._writer), CALL_TIMEOUT)
        for _, fut in self._pending:
            if not fut.done():
                fut.set_exception(StoreUnavailable("abuse counters are closed"))
        self._pending = []
        await self._conn.drop()


_Keys = tuple[int, int]  # (prefix, parent) as key_int
_Charge = tuple[int, int, float]  # (prefix, parent, now)


class PostgresCounters:
    """Counters in PostgreSQL's `abuse_counters`, shared by every node."""

    def __init__(self, database_url: str, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        url = libpq_url(database_url)
        self.max_entries = max_entries
        self.buffer = IssueBuffer()
        self.full = False  # `max_entries` live as of the last prune: new prefixes refused
        self._reads = _Lane(url, _read_batch)
        self._charges = _Lane(url, self._charge_batch)
        self._upkeep = _Connection(url, UPKEEP_TIMEOUT)

    async def read(self, source: Source, now: float) -> tuple[History, History]:
        keys: _Keys = (key_int(source.prefix), key_int(source.parent))
        rows: dict[int, tuple[float, float, float]] = await self._reads.submit(keys)
        return _history(rows.get(keys[0]), now), _history(rows.get(keys[1]), now)

    async def charge(self, source: Source, now: float) -> tuple[History, History]:
        item: _Charge = (key_int(source.prefix), key_int(source.parent), float(now))
        after: tuple[History, History] = await self._charges.submit(item)
        return after

    async def _charge_batch(self, conn: Conn, items: list[_Charge]) -> list[Any]:
        """Prefixes first, then their parents, each solve counting towards its parent only
        while its prefix's count is at most SPREAD; every caller is answered what it would
        have seen alone (the j-th of k charges on a key sees the count after, less k - j)."""
        cur = await conn.execute(
            _CHARGE,
            {
                "pre": [p for p, _, _ in items],
                "at": [t for _, _, t in items],
                "open": not self.full,
            },
        )
        after = {int(k): (float(s), float(i)) for k, s, i in await cur.fetchall()}
        charged = [p in after for p, _, _ in items]
        total: dict[int, int] = {}
        for (p, _, _), ok in zip(items, charged, strict=True):
            if ok:
                total[p] = total.get(p, 0) + 1
        seen: dict[int, int] = {}
        mine: list[History | None] = []
        for (p, _, _), ok in zip(items, charged, strict=True):
            if not ok:
                mine.append(None)
                continue
            seen[p] = seen.get(p, 0) + 1
            solved, issued = after[p]
            mine.append(History(solved - (total[p] - seen[p]), issued))
        adds: dict[int, list[float]] = {}  # parent -> [solves, latest time]
        counted: list[bool] = []
        for (_, q, t), h in zip(items, mine, strict=True):
            counts = h is not None and h.solved <= SPREAD
            counted.append(counts)
            if h is not None:
                entry = adds.setdefault(q, [0.0, t])
                entry[0] += 1.0 if counts else 0.0
                entry[1] = max(entry[1], t)
        parents: dict[int, tuple[float, float]] = {}
        if adds:
            keys = sorted(adds)
            cur = await conn.execute(
                _ADD_PARENTS,
                {
                    "key": keys,
                    "n": [adds[k][0] for k in keys],
                    "at": [adds[k][1] for k in keys],
                },
            )
            parents = {int(k): (float(s), float(i)) for k, s, i in await cur.fetchall()}
        left = {q: n for q, (n, _) in adds.items()}  # solves not yet handed out, per parent
        out: list[Any] = []
        for (_, q, _), h, counts in zip(items, mine, counted, strict=True):
            if h is None:
                out.append(Full("the abuse counters are full"))
                continue
            if counts:
                left[q] -= 1.0
            solved, issued = parents[q]
            out.append((h, History(solved - left[q], issued)))
        return out

    def issued(self, source: Source) -> None:
        self.buffer.add(source.prefix)

    async def flush(self, now: float) -> None:
        taken = self.buffer.take()
        items = sorted((key_int(k), k, n) for k, n in taken.items())
        for start in range(0, len(items), FLUSH_CHUNK):
            chunk = items[start : start + FLUSH_CHUNK]
            params = {
                "key": [k for k, _, _ in chunk],
                "n": [float(n) for _, _, n in chunk],
                "at": float(now),
                "open": not self.full,
                "new_from": float(NEW_FROM_ISSUES),
            }

            async def run(conn: Conn, params: dict[str, Any] = params) -> None:
                await conn.execute(_FLUSH, params)

            try:
                await self._upkeep.call(run)
            except StoreUnavailable:
                self.buffer.give_back({k: n for _, k, n in items[start:]})
                raise

    async def prune(self, now: float) -> int:
        removed = 0
        for lo, hi in _slices():

            async def run(conn: Conn, lo: int = lo, hi: int = hi) -> int:
                cur = await conn.execute(_PRUNE, {"lo": lo, "hi": hi, "now": float(now)})
                return cur.rowcount

            removed += await self._upkeep.call(run)
        self.full = await self.live() >= self.max_entries
        return removed

    async def live(self) -> int:
        async def run(conn: Conn) -> int:
            cur = await conn.execute("SELECT count(*) FROM abuse_counters")
            row = await cur.fetchone()
            return int(row[0]) if row else 0

        return await self._upkeep.call(run)

    async def close(self) -> None:
        await self._reads.close()
        await self._charges.close()
        await self._upkeep.drop()


async def _read_batch(conn: Conn, items: list[_Keys]) -> list[Any]:
    wanted = sorted({k for pair in items for k in pair})
    cur = await conn.execute(_READ, (wanted,))
    rows = {int(k): (float(s), float(i), float(at)) for k, s, i, at in await cur.fetchall()}
    return [rows for _ in items]


def _history(row: tuple[float, float, float] | None, now: float) -> History:
    if row is None:
        return QUIET_HISTORY
    solved, issued, at = row
    return History(decay(solved, at, now), decay(issued, at, now))

"""The abuse bench's hands on the counters: seeding a prefix's history, moving its clock,
and filling a store with 10^6 live prefixes to weigh it.

Prefix hashes are the server's own (abuse.prefix, with the key the server derives from its
master key), the SQLite rows are the very table the running server reads (abuse_counters in
its data directory), and Redis and PostgreSQL are filled through their counters' own
`issued` + `flush`, the path /1/challenge's counts take.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import shutil
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from passgate import keys, settings
from passgate.abuse import counters, prefix
from passgate.abuse.counters import MAX_BUFFERED, connect_sqlite, key_int
from passgate.service import sqlite_path

# Fetching alone creates an entry only from this many challenges in one flush (older
# counters: from one).
ISSUES = getattr(counters, "NEW_FROM_ISSUES", 1)


def prefix_key(data_dir: Path) -> bytes:
    """The key the server names prefixes with (derived from its master key)."""
    return prefix.derive_key(
        keys.master_key(settings.load(env={"PASSGATE_DATA_DIR": str(data_dir)}))
    )


def db_path(data_dir: Path) -> str:
    cfg = settings.load(env={"PASSGATE_DATA_DIR": str(data_dir)})
    path = sqlite_path(cfg.effective_database_url)
    assert path is not None
    return path


def steady(path: str, key: bytes, ip: str, per_minute: float) -> None:
    """Give `ip`'s prefix (and its parent) the history a steady `per_minute` solves a minute
    leave: five minutes of solves, charged through the server's own SQLite counters at their
    times (so its rules hold, the parent's share included), ending now."""
    src = prefix.source(key, ip)
    store = counters.SqliteCounters(path)
    gap = 60.0 / per_minute
    n = int(5 * 60 / gap)
    now = time.time()

    async def go() -> None:
        try:
            for i in range(n):
                await store.charge(src, now - (n - 1 - i) * gap)
        finally:
            await store.close()

    # its own thread: the caller may be inside Playwright's event loop
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, go()).result()


def age(path: str, key: bytes, ips: list[str], seconds: float) -> None:
    """Move the prefixes' and parents' rows `seconds` into the past: what waiting that long
    does to them (every count decays from its `at`)."""
    wanted = {
        k for ip in ips for k in (prefix.source(key, ip).prefix, prefix.source(key, ip).parent)
    }
    conn = connect_sqlite(path, busy_ms=5000)
    try:
        conn.executemany(
            "UPDATE abuse_counters SET at = at - ? WHERE key = ?",
            [(seconds, key_int(k)) for k in wanted],
        )
    finally:
        conn.close()


def address(i: int) -> str:
    """The i-th of the filled prefixes' addresses, each in a /24 of its own: 32.0.0.7,
    32.0.1.7, ..."""
    return f"{32 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.7"


def sources(key: bytes, n: int) -> list[prefix.Source]:
    """The sources of `many(n)`'s prefixes (parents left out: a fill notes only prefixes).
    abuse.prefix.source parses each address, which takes ~20 s for 10^6; the hashes are made
    here from the prefix text directly, and checked against abuse.prefix on a sample."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    out = []
    for i in range(n):
        h = keyed.copy()
        h.update(f"4/24/{(32 << 16) + i:x}".encode())  # abuse.prefix: version/bits/network
        out.append(prefix.Source(h.hexdigest()[:16], ""))
    for i in range(0, n, max(1, n // 7)):
        if prefix.source(key, address(i)).prefix != out[i].prefix:
            raise RuntimeError("abuse.prefix names prefixes another way: update bench.abuse_stores")
    return out


async def fill(store: Any, srcs: list[prefix.Source]) -> float:
    """Note ISSUES challenges for each source (the fewest that make an entry) and flush, in
    the store's own chunks; seconds."""
    started = time.monotonic()
    for i in range(0, len(srcs), MAX_BUFFERED):
        for src in srcs[i : i + MAX_BUFFERED]:
            for _ in range(ISSUES):
                store.issued(src)
        await store.flush(time.time())
    return time.monotonic() - started


def sqlite_bytes(path: str) -> int:
    """Bytes of the abuse_counters B-tree (dbstat), or of the whole file without dbstat."""
    conn = sqlite3.connect(path)
    try:
        try:
            row = conn.execute(
                "SELECT sum(pgsize) FROM dbstat WHERE name = 'abuse_counters'"
            ).fetchone()
            return int(row[0] or 0)
        except sqlite3.OperationalError:
            return Path(path).stat().st_size
    finally:
        conn.close()


def weigh_sqlite(path: str, srcs: list[prefix.Source]) -> dict[str, Any]:
    """Fill the running server's own SQLite table, one row a prefix (ISSUES challenges
    issued, now) inserted in the sources' (random) key order, as its flushes insert them; the
    table's bytes before and after. (Straight inserts: the flush's upsert, on the server's
    busy file, takes four times as long for the same rows.)"""
    before = sqlite_bytes(path)
    now = time.time()
    started = time.monotonic()
    conn = connect_sqlite(path, busy_ms=5000)
    try:
        for i in range(0, len(srcs), MAX_BUFFERED):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT OR IGNORE INTO abuse_counters (key, solved, issued, at) "
                "VALUES (?, 0.0, ?, ?)",
                [(key_int(src.prefix), float(ISSUES), now) for src in srcs[i : i + MAX_BUFFERED]],
            )
            conn.execute("COMMIT")
        live = int(conn.execute("SELECT count(*) FROM abuse_counters").fetchone()[0])
    finally:
        conn.close()
    seconds = time.monotonic() - started
    return {
        "bytes": sqlite_bytes(path) - before,
        "live": live,
        "fill_seconds": seconds,
        "measure": "dbstat",
    }


def weigh_redis(work: Path, srcs: list[prefix.Source]) -> dict[str, Any]:
    """A fresh redis-server on loopback: used_memory before and after the fill."""
    import redis.asyncio as aioredis
    from tests.multinode.servers import Redis

    from passgate.store.redis_counters import RedisCounters

    server = Redis(work / "redis")
    server.start()

    async def go() -> dict[str, Any]:
        client = aioredis.Redis.from_url(server.url)
        try:
            before = (await client.info("memory"))["used_memory"]
            store = RedisCounters(client)
            seconds = await fill(store, srcs)
            info = await client.info("memory")
            live = int(await client.get("passgate:abuse:n") or 0)
            return {
                "bytes": info["used_memory"] - before,
                "live": live,
                "fill_seconds": seconds,
                "measure": "INFO used_memory",
            }
        finally:
            await client.aclose()

    try:
        return asyncio.run(go())
    finally:
        server.kill()
        shutil.rmtree(work / "redis", ignore_errors=True)


def weigh_postgres(work: Path, srcs: list[prefix.Source]) -> dict[str, Any]:
    """A fresh PostgreSQL cluster on loopback, migrated by passgate: the table's total
    relation size (heap, primary key index, TOAST) after the fill."""
    import psycopg
    from tests.multinode.servers import Postgres

    from passgate.store.db import make_engine, migrate
    from passgate.store.postgres_counters import PostgresCounters

    shutil.rmtree(work / "postgres", ignore_errors=True)
    pg = Postgres(work / "postgres").init()
    pg.start()
    try:
        url = pg.create_database("bench")
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        store = PostgresCounters(url)

        async def go() -> tuple[float, int]:
            try:
                return await fill(store, srcs), await store.live()
            finally:
                await store.close()

        seconds, live = asyncio.run(go())
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/bench") as conn:
            row = conn.execute(
                "SELECT pg_total_relation_size('abuse_counters'), "
                "pg_relation_size('abuse_counters'), pg_indexes_size('abuse_counters')"
            ).fetchone()
        total, heap, index = (int(x) for x in row) if row else (0, 0, 0)
        return {
            "bytes": total,
            "live": live,
            "fill_seconds": seconds,
            "measure": f"pg_total_relation_size (heap {heap / 1e6:.1f} MB, "
            f"index {index / 1e6:.1f} MB)",
        }
    finally:
        pg.stop()
        shutil.rmtree(work / "postgres", ignore_errors=True)

"""Choosing the stores from the settings, and a key ring that follows rotations made
elsewhere (another node, or `passgate keys rotate`)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from passgate import keys, settings, token
from passgate.service import build, open_spends
from passgate.store.db import is_postgres, libpq_url, normalize_url
from passgate.store.postgres import PostgresSpends
from passgate.store.redis import RedisSpends
from passgate.store.spent import SqliteSpends

PG = "postgresql+psycopg://u:p@db.internal:5432/passgate"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://u:p@db.internal:5432/passgate",
        "postgresql://u:p@db.internal:5432/passgate",
        "postgres://u:p@db.internal:5432/passgate",
        "postgresql+psycopg2://u:p@db.internal:5432/passgate",
        PG,
    ],
)
def test_every_postgres_spelling_runs_on_psycopg(url: str) -> None:
    assert normalize_url(url) == PG
    assert is_postgres(url)
    assert libpq_url(url) == "postgresql://u:p@db.internal:5432/passgate"


def test_sqlite_urls_are_left_alone() -> None:
    assert normalize_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert not is_postgres("sqlite:////tmp/x.db")


def _config(tmp_path: Path, **values: str) -> settings.Config:
    return settings.load(env={}, data_dir=str(tmp_path), **values)


@pytest.mark.anyio
async def test_the_spend_set_follows_the_settings(tmp_path: Path) -> None:
    sqlite = open_spends(_config(tmp_path))
    assert isinstance(sqlite, SqliteSpends)
    await sqlite.close()
    pg = open_spends(_config(tmp_path, database_url=PG))
    assert isinstance(pg, PostgresSpends)  # connects lazily: nothing listens there
    await pg.close()
    redis = open_spends(_config(tmp_path, database_url=PG, redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(redis, RedisSpends)  # Redis wins when both are set
    await redis.close()


@pytest.mark.anyio
async def test_a_node_honours_a_key_rotated_elsewhere_at_once(tmp_path: Path) -> None:
    a = build(_config(tmp_path))
    b = build(_config(tmp_path))
    try:
        await b.refresh_ring(force=True)  # b has just reloaded: the throttle is closed
        kid = keys.rotate(a.engine, a.master)
        await a.refresh_ring(force=True)
        assert a.ring.current == kid
        text = token.encode(token.mint("sk", "shop.example", time.time(), 120), a.ring)
        started = time.monotonic()
        decoded = await b.decode_token(text)
        assert decoded.kid == kid
        assert time.monotonic() - started < 1.0
        assert b.ring.current == kid  # and b now signs with the new key too
    finally:
        await a.close()
        await b.close()


@pytest.mark.anyio
async def test_forged_key_ids_share_one_reload(tmp_path: Path) -> None:
    import asyncio

    svc = build(_config(tmp_path))
    loads = 0
    real = keys.load_ring

    def counting(*args: object) -> object:
        nonlocal loads
        loads += 1
        return real(*args)  # type: ignore[arg-type]

    try:
        keys.load_ring = counting  # type: ignore[assignment]
        rings = await asyncio.gather(*(svc.ring_with(f"forged{i}") for i in range(50)))
        assert all(r is rings[0] for r in rings)
        assert loads <= 2
    finally:
        keys.load_ring = real  # type: ignore[assignment]
        await svc.close()

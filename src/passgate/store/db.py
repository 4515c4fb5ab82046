"""The relational store's engine: SQLite (WAL) by default or PostgreSQL, migrated on open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event

MIGRATIONS = str(Path(__file__).with_name("migrations"))


CONNECT_TIMEOUT = 2  # seconds; a store that does not answer fails requests closed, quickly
STATEMENT_TIMEOUT_MS = 5000
_PG_SCHEMES = (
    "postgresql+asyncpg",
    "postgresql+psycopg2",
    "postgresql+psycopg",
    "postgresql",
    "postgres",
)


def normalize_url(url: str) -> str:
    """Map every PostgreSQL spelling to the sync psycopg 3 driver passgate runs on.

    `postgresql+asyncpg://`, `postgresql://` and `postgres://` are accepted: the relational
    access is synchronous SQLAlchemy in a threadpool, so they all mean psycopg here.
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in _PG_SCHEMES:
        return "postgresql+psycopg://" + rest
    return url


def is_postgres(url: str) -> bool:
    return normalize_url(url).startswith("postgresql+psycopg://")


def libpq_url(url: str) -> str:
    """The URL as libpq (psycopg.connect) reads it: `postgresql://...`, password kept."""
    return "postgresql://" + normalize_url(url).partition("://")[2]


def make_engine(url: str) -> sa.Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, hide_parameters=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql+psycopg://"):
        return sa.create_engine(
            url,
            hide_parameters=True,  # an error that reaches a log never shows bound values
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=5,
            pool_timeout=CONNECT_TIMEOUT,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT,
                "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            },
        )
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, hide_parameters=True
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Nodes starting together migrate one at a time; the lock ends with the transaction.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7261536)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def sqlite_path(url: str) -> str | None:
    """The file behind a SQLite URL, or None for other engines."""
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return None
    return url.split("///", 1)[-1]

"""The token API's bridge to the relational store: blocking calls run in the threadpool, and
any driver error becomes StoreUnavailable, which every endpoint answers with 503.

On SQLite, writes from this process take turns on one lock before they reach the database:
threads that collide inside SQLite wait in its busy handler, which sleeps in steps of up to
100 ms, and that sleeping (not the writes) limited the universal call under load."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from passgate.store import StoreUnavailable

P = ParamSpec("P")
T = TypeVar("T")


_SQLITE_WRITES = threading.Lock()


async def write(engine: sa.Engine, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Like `run`, for a call that writes through `engine`."""
    if engine.dialect.name != "sqlite":
        return await run(fn, *args, **kwargs)

    def serialized() -> T:
        with _SQLITE_WRITES:
            return fn(*args, **kwargs)

    return await run(serialized)


async def run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args)` in the threadpool; store errors raise StoreUnavailable (no details leak)."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
        raise StoreUnavailable(type(exc).__name__) from None

"""The token API's bridge to the relational store: blocking calls run in the threadpool, and
any driver error becomes StoreUnavailable, which every endpoint answers with 503."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from passgate.store import StoreUnavailable

P = ParamSpec("P")
T = TypeVar("T")


async def run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args)` in the threadpool; store errors raise StoreUnavailable (no details leak)."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
        raise StoreUnavailable(type(exc).__name__) from None

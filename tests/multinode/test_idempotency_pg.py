"""Siteverify idempotency results on PostgreSQL (passgate.store.idempotency): racers on two
connections, as two nodes would be, both answer the first result; expiry and pruning."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from passgate.store.db import make_engine, migrate
from passgate.store.idempotency import IdempotencyStore, result_id

from .conftest import Stores

pytestmark = [pytest.mark.multinode, pytest.mark.slow]

KEY = "8e6bd3ac-0a3f-4c38-9d57-2d6a3f2c1b4e"
RACES = 100


@pytest.fixture(scope="module")
def url(stores: Stores) -> str:
    url = stores.pg.create_database("passgate_idempotency")
    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return url


def test_two_connections_racing_put_both_read_the_first_result(url: str) -> None:
    engines = [make_engine(url) for _ in range(2)]
    stores = [IdempotencyStore(e) for e in engines]
    barrier = threading.Barrier(2)
    got: dict[int, list[dict[str, Any]]] = {0: [], 1: []}
    failed: list[BaseException] = []

    def racer(who: int) -> None:
        try:
            for i in range(RACES):
                barrier.wait(timeout=30)
                rid = result_id(KEY, f"race-{i}")
                got[who].append(stores[who].put(rid, "site", {"who": who}, 1e12, 1.0))
        except BaseException as exc:  # reported below, not lost in the thread
            failed.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=racer, args=(who,)) for who in (0, 1)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not failed, failed
        assert len(got[0]) == RACES and got[0] == got[1]
        for i, answer in enumerate(got[0]):
            assert stores[0].get(result_id(KEY, f"race-{i}"), 2.0) == answer
    finally:
        for e in engines:
            e.dispose()


def test_expired_rows_are_invisible_replaced_and_pruned(url: str) -> None:
    engine = make_engine(url)
    try:
        store = IdempotencyStore(engine)
        store.PRUNE_CHUNK = 3
        rid = result_id(KEY, "expiring")
        assert store.put(rid, None, {"success": True}, 200.0, 100.0) == {"success": True}
        assert store.put(rid, None, {"success": False}, 300.0, 150.0) == {"success": True}
        assert store.get(rid, 199.0) == {"success": True}
        assert store.get(rid, 200.0) is None
        assert store.put(rid, None, {"success": False}, 900.0, 250.0) == {"success": False}
        for i in range(10):
            store.put(result_id(KEY, f"old-{i}"), "site", {"i": i}, 10.0 + i, 5.0)
        assert store.prune(20.0) == 10
        assert store.get(rid, 251.0) == {"success": False}
        with engine.connect() as conn:
            left = conn.execute(
                sa.text("SELECT count(*) FROM siteverify_idempotency WHERE expires_at <= 20")
            ).scalar()
        assert left == 0
    finally:
        engine.dispose()

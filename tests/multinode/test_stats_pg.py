"""The counters on PostgreSQL: two nodes' flushes add up, concurrent flushes of the same rows
add exactly, and two roll-ups at once add each minute once; the migration from 0005."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
import sqlalchemy as sa

from passgate.store import stats as store
from passgate.store.db import make_engine, migrate
from passgate.store.schema import stats_hour
from tests.test_migrations import upgrade_to

from .conftest import HOST, Cluster, Stores

pytestmark = [pytest.mark.multinode, pytest.mark.slow]

NOW = 1_800_000_000.0


def test_two_nodes_counts_add_up(pg_cluster: Cluster) -> None:
    site = json.loads(pg_cluster.cli("site", "add", "--hostname", HOST, "--json"))
    time.sleep(1.2)  # the nodes' site caches
    sent = 0
    for i, url in enumerate(pg_cluster.urls):
        for _ in range(4 + i):
            r = httpx.post(url + "/1/challenge", json={"sitekey": site["sitekey"], "host": HOST})
            assert r.status_code == 200, r.text
            sent += 1
    deadline = time.monotonic() + 15  # the nodes flush every 5 s
    issued = 0
    while time.monotonic() < deadline:
        out = json.loads(pg_cluster.cli("stats", "--json", "--site", site["sitekey"]))
        issued = out["total"]["challenges"]["issued"]
        if issued == sent:
            break
        time.sleep(0.5)
    assert issued == sent == 9


def test_concurrent_flushes_and_roll_ups_add_exactly(stores: Stores) -> None:
    url = stores.pg.create_database("passgate_stats_race")
    engines = [make_engine(url) for _ in range(4)]
    migrate(engines[0])
    old = int(NOW - 2 * 86_400)
    batch = {(old + 60 * i, f"S{j}", "issued", "1x"): 1 for i in range(60) for j in range(5)}
    errors: list[BaseException] = []

    def flushes(engine: sa.Engine) -> None:
        try:
            for _ in range(10):
                store.flush(engine, batch)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=flushes, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rolled = []
    threads = [
        threading.Thread(target=lambda e=e: rolled.append(store.roll_up(e, NOW))) for e in engines
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(rolled) == 4, rolled
    assert sum(1 for n in rolled if n) == 1, rolled  # one rolled up; the others found it done
    with engines[0].connect() as conn:
        total = conn.execute(sa.select(sa.func.sum(stats_hour.c.n))).scalar()
    assert total == 4 * 10 * 60 * 5
    rows = store.read(engines[0], 0, NOW)
    assert sum(r.n for r in rows) == 4 * 10 * 60 * 5
    for e in engines:
        e.dispose()


def test_stats_migration_from_the_previous_schema(stores: Stores) -> None:
    engine = make_engine(stores.pg.create_database("passgate_migrate_0006"))
    try:
        upgrade_to(engine, "0005")
        migrate(engine)
        store.flush(engine, {(60, "A", "issued", "1x"): 2})
        store.flush(engine, {(60, "A", "issued", "1x"): 3})
        assert sum(r.n for r in store.read(engine, 0, 120)) == 5
    finally:
        engine.dispose()

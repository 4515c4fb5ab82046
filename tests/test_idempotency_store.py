"""The store behind Turnstile's siteverify idempotency (passgate.store.idempotency): ids that
never confuse two pairs, the first result winning, expiry and pruning, racers in two
processes on one SQLite file, and the migration that brings its table (0008)."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st

from passgate.store import StoreUnavailable
from passgate.store.db import MIGRATIONS, make_engine, migrate
from passgate.store.idempotency import IdempotencyStore, result_id
from passgate.store.schema import metadata
from passgate.tokenapi import db
from tests.test_migrations import upgrade_0003_store_with_a_site, upgrade_to

KEY = "8e6bd3ac-0a3f-4c38-9d57-2d6a3f2c1b4e"
TOKEN = "P1_eyJ0eXAiOiJKV1QifQ.payload.signature"
SITEKEY = "11111111-2222-3333-4444-555555555555"
PASS = {"success": True, "challenge_ts": "2025-01-01T00:00:00Z", "hostname": "shop.example"}
FAIL = {"success": False, "error-codes": ["timeout-or-duplicate"]}


def _store(tmp_path: Path) -> IdempotencyStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    return IdempotencyStore(engine)


def _rows(store: IdempotencyStore) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.exec_driver_sql(
                "SELECT id, sitekey, result, created_at, expires_at FROM siteverify_idempotency"
            )
        ]


# -- result_id ------------------------------------------------------------------------------


def test_result_id_is_sha256_hex_and_holds_neither_value() -> None:
    rid = result_id(KEY, TOKEN)
    assert len(rid) == 64 and int(rid, 16) >= 0 and rid == rid.lower()
    assert rid == result_id(KEY, TOKEN)
    assert KEY not in rid and TOKEN not in rid


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("a", "b"), ("b", "a")),  # swapped
        (("ab", "c"), ("a", "bc")),  # split elsewhere
        (("a\x00", "b"), ("a", "\x00b")),  # a separator inside a value
        (("", "ab"), ("ab", "")),
        (("a", ""), ("", "a")),
    ],
)
def test_result_id_tells_confusable_pairs_apart(
    one: tuple[str, str], other: tuple[str, str]
) -> None:
    assert result_id(*one) != result_id(*other)


@given(st.text(), st.text(), st.text(), st.text())
def test_result_id_is_distinct_for_distinct_pairs(a: str, b: str, c: str, d: str) -> None:
    assert (result_id(a, b) == result_id(c, d)) == ((a, b) == (c, d))


@given(st.text(), st.text())
def test_result_id_of_a_swapped_or_resplit_pair_differs(a: str, b: str) -> None:
    if a != b:
        assert result_id(a, b) != result_id(b, a)
    joined = a + b
    for cut in range(len(joined) + 1):
        if (joined[:cut], joined[cut:]) != (a, b):
            assert result_id(joined[:cut], joined[cut:]) != result_id(a, b)


def test_result_id_takes_any_string() -> None:
    assert len(result_id("\ud800", "\udfff")) == 64  # lone surrogates: no encoding error
    assert result_id("\ud800", "") != result_id("", "\ud800")


# -- get, put, prune ------------------------------------------------------------------------


def test_put_then_get_round_trips(tmp_path: Path) -> None:
    store = _store(tmp_path)
    rid = result_id(KEY, TOKEN)
    assert store.get(rid, 100.0) is None
    answer = {**PASS, "action": "login", "cdata": "sess-ü", "error-codes": []}
    assert store.put(rid, SITEKEY, answer, expires_at=400.0, now=100.0) == answer
    assert store.get(rid, 101.0) == answer
    assert list(store.get(rid, 101.0) or {}) == list(answer)  # key order as first given
    [(row_id, sitekey, text, created, expires)] = _rows(store)
    assert (row_id, sitekey, created, expires) == (rid, SITEKEY, 100.0, 400.0)
    assert KEY not in text and TOKEN not in text


def test_the_first_put_wins(tmp_path: Path) -> None:
    store = _store(tmp_path)
    rid = result_id(KEY, TOKEN)
    assert store.put(rid, SITEKEY, PASS, expires_at=400.0, now=100.0) == PASS
    assert store.put(rid, SITEKEY, FAIL, expires_at=500.0, now=101.0) == PASS
    assert store.get(rid, 102.0) == PASS
    assert _rows(store)[0][4] == 400.0  # the first row, untouched
    other = result_id(KEY, TOKEN + "x")
    assert store.put(other, None, FAIL, expires_at=400.0, now=101.0) == FAIL
    assert store.get(other, 102.0) == FAIL
    assert store.get(rid, 102.0) == PASS


def test_expired_results_are_invisible_replaced_and_pruned(tmp_path: Path) -> None:
    store = _store(tmp_path)
    rid = result_id(KEY, TOKEN)
    store.put(rid, SITEKEY, PASS, expires_at=200.0, now=100.0)
    assert store.get(rid, 199.9) == PASS
    assert store.get(rid, 200.0) is None
    # a row left past its expiry is no answer: a later put replaces it
    assert store.put(rid, SITEKEY, FAIL, expires_at=900.0, now=300.0) == FAIL
    assert store.get(rid, 301.0) == FAIL
    assert store.put(rid, SITEKEY, PASS, expires_at=950.0, now=302.0) == FAIL
    # a result that is expired already is answered, not stored
    late = result_id(KEY, "late")
    assert store.put(late, SITEKEY, PASS, expires_at=10.0, now=20.0) == PASS
    assert store.get(late, 5.0) is None
    assert store.prune(899.0) == 0
    assert store.prune(900.0) == 1
    assert _rows(store) == []


def test_prune_deletes_in_chunks_and_only_the_expired(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.PRUNE_CHUNK = 7
    for i in range(40):
        store.put(result_id(KEY, f"t{i}"), SITEKEY, {"i": i}, expires_at=100.0 + i, now=50.0)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        assert store.prune(125.0) == 26  # expires_at 100..125
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", seen)
    assert len(statements) == 4  # 7 + 7 + 7 + 5
    assert store.get(result_id(KEY, "t25"), 50.0) is None
    assert store.get(result_id(KEY, "t26"), 50.0) == {"i": 26}
    assert len(_rows(store)) == 14
    assert store.prune(125.0) == 0


def test_errors_are_store_unavailable_and_name_no_parameters(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")  # never migrated: no table
    store = IdempotencyStore(engine)
    rid = result_id(KEY, TOKEN)
    for call in (
        lambda: store.get(rid, 1.0),
        lambda: store.put(rid, SITEKEY, PASS, 10.0, 1.0),
        lambda: store.prune(1.0),
    ):
        with pytest.raises(StoreUnavailable) as caught:
            call()
        text = str(caught.value)
        assert rid not in text and SITEKEY not in text and "success" not in text
        assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.anyio
async def test_through_the_threadpool_as_the_endpoints_call_it(tmp_path: Path) -> None:
    store = _store(tmp_path)
    rid = result_id(KEY, TOKEN)
    assert await db.run(store.get, rid, 100.0) is None
    first = await db.write(store.engine, store.put, rid, SITEKEY, PASS, 400.0, 100.0)
    again = await db.write(store.engine, store.put, rid, SITEKEY, FAIL, 400.0, 101.0)
    assert first == again == PASS
    assert await db.run(store.get, rid, 102.0) == PASS
    assert await db.write(store.engine, store.prune, 500.0) == 1
    with pytest.raises(StoreUnavailable):
        await db.run(IdempotencyStore(make_engine(f"sqlite:///{tmp_path / 'x.db'}")).get, rid, 1)


# -- racers on one SQLite file --------------------------------------------------------------

RACES = 40


def _race(url: str, who: int, barrier: Any, out: Any) -> None:
    """One process's side of the race: a put for each id, all started together."""
    engine = make_engine(url)
    store = IdempotencyStore(engine)
    got = []
    try:
        for i in range(RACES):
            barrier.wait(timeout=30)
            got.append(store.put(result_id(KEY, f"race-{i}"), SITEKEY, {"who": who}, 1e12, 1.0))
    finally:
        engine.dispose()
    out.put((who, got))


def test_two_processes_racing_put_answer_the_same(tmp_path: Path) -> None:
    store = _store(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    ctx = multiprocessing.get_context("spawn")  # fork from a threaded pytest warns
    barrier = ctx.Barrier(2)
    out = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(url, who, barrier, out)) for who in (0, 1)]
    for p in procs:
        p.start()
    try:
        results = dict(out.get(timeout=120) for _ in procs)
    finally:
        for p in procs:
            p.join(timeout=30)
    assert [p.exitcode for p in procs] == [0, 0]
    assert results[0] == results[1]
    for i, answer in enumerate(results[0]):
        assert answer in ({"who": 0}, {"who": 1})
        assert store.get(result_id(KEY, f"race-{i}"), 2.0) == answer
    assert len(_rows(store)) == RACES


def test_two_engines_racing_put_in_threads_answer_the_same(tmp_path: Path) -> None:
    _store(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    stores = [IdempotencyStore(make_engine(url)) for _ in range(2)]
    barrier = threading.Barrier(2)
    got: dict[int, list[dict[str, Any]]] = {0: [], 1: []}

    def racer(who: int) -> None:
        for i in range(RACES):
            barrier.wait(timeout=30)
            rid = result_id(KEY, f"thread-{i}")
            got[who].append(stores[who].put(rid, None, {"who": who}, 1e12, 1.0))

    threads = [threading.Thread(target=racer, args=(who,)) for who in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(got[0]) == RACES and got[0] == got[1]


# -- the migration (0008) -------------------------------------------------------------------


def check_idempotency_upgrade(engine: sa.Engine) -> None:
    """From 0007: the table arrives empty, indexed by expiry, and works; what the store held
    is still there."""
    from passgate.sites import SiteRegistry

    upgrade_to(engine, "0007")
    inspector = sa.inspect(engine)
    assert "siteverify_idempotency" not in inspector.get_table_names()
    migrate(engine)
    inspector = sa.inspect(engine)
    columns = {c["name"]: c for c in inspector.get_columns("siteverify_idempotency")}
    assert set(columns) == {"id", "sitekey", "result", "created_at", "expires_at"}
    assert columns["sitekey"]["nullable"] and not columns["result"]["nullable"]
    assert inspector.get_pk_constraint("siteverify_idempotency")["constrained_columns"] == ["id"]
    indexes = inspector.get_indexes("siteverify_idempotency")
    assert [i["column_names"] for i in indexes] == [["expires_at"]]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() >= "0008"
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "siteverify_idempotency" in repr(d)] == []  # schema.py agrees
    store = IdempotencyStore(engine)
    rid = result_id(KEY, TOKEN)
    assert store.get(rid, 1.0) is None
    assert store.put(rid, SITEKEY, PASS, 100.0, 1.0) == PASS
    assert store.put(rid, SITEKEY, FAIL, 100.0, 2.0) == PASS
    assert store.prune(100.0) == 1
    assert SiteRegistry(engine).require(SITEKEY).name == "old"


def test_the_idempotency_table_arrives_on_a_store_of_the_previous_release(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_0003_store_with_a_site(engine)
    check_idempotency_upgrade(engine)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    assert "siteverify_idempotency" not in sa.inspect(engine).get_table_names()

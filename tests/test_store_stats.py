"""store.stats: additive flushes, the hourly roll-up done once, pruning, reading, on SQLite
(PostgreSQL in tests/multinode/test_stats_pg.py)."""

import sqlalchemy as sa

from passgate.store import stats as store
from passgate.store.db import make_engine, migrate
from passgate.store.schema import stats_hour, stats_minute

DAY = 86_400
NOW = 1_800_000_000.0  # an hour boundary: 500,000 hours


def engine(tmp_path) -> sa.Engine:
    e = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    migrate(e)
    return e


def totals(rows) -> dict:
    out: dict = {}
    for r in rows:
        out[(r.sitekey, r.metric, r.label)] = out.get((r.sitekey, r.metric, r.label), 0) + r.n
    return out


def test_flushes_add_and_never_overwrite(tmp_path) -> None:
    e = engine(tmp_path)
    store.flush(e, {(60, "A", "issued", "1x"): 3, (60, "A", "solved", ""): 1})
    store.flush(e, {(60, "A", "issued", "1x"): 4})
    store.flush(e, {})
    rows = store.read(e, 0, 120)
    assert totals(rows) == {("A", "issued", "1x"): 7, ("A", "solved", ""): 1}


def test_roll_up_sums_day_old_minutes_into_hours_once(tmp_path) -> None:
    e = engine(tmp_path)
    old = int(NOW - 2 * DAY)  # hour-aligned
    store.flush(e, {(old + 60 * i, "A", "issued", "1x"): 1 for i in range(90)})  # 1.5 hours
    store.flush(e, {(int(NOW - 60), "A", "issued", "1x"): 5})  # fresh: stays in minutes
    before = totals(store.read(e, 0, NOW))
    assert store.roll_up(e, NOW) > 0
    assert store.roll_up(e, NOW) == 0  # the mark moved: nothing is added twice
    assert store.roll_up(e, NOW + 30) == 0
    with e.connect() as conn:
        hours = dict(conn.execute(sa.select(stats_hour.c.hour, stats_hour.c.n)).all())
    assert hours == {old: 60, old + 3600: 30}
    assert totals(store.read(e, 0, NOW)) == before  # hours below the mark, minutes above
    assert totals(store.read(e, NOW - 3600, NOW)) == {("A", "issued", "1x"): 5}


def test_prune_keeps_minutes_two_days_and_hours_the_retention(tmp_path) -> None:
    e = engine(tmp_path)
    store.flush(e, {(int(NOW - 3 * DAY), "A", "issued", "1x"): 2})
    store.flush(e, {(int(NOW - 100 * DAY), "A", "issued", "1x"): 9})
    assert store.prune(e, NOW, 90) == 0  # nothing is rolled up yet: no minute is dropped
    store.roll_up(e, NOW)
    assert store.prune(e, NOW, 90) == 3  # both minute rows, the 100-day-old hour
    with e.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(stats_minute)).scalar() == 0
        assert conn.execute(sa.select(stats_hour.c.n)).scalars().all() == [2]
    assert totals(store.read(e, NOW - 30 * DAY, NOW)) == {("A", "issued", "1x"): 2}


def test_reading_one_site(tmp_path) -> None:
    e = engine(tmp_path)
    store.flush(e, {(60, "A", "issued", "1x"): 1, (60, "B", "issued", "1x"): 2})
    assert totals(store.read(e, 0, 120, "B")) == {("B", "issued", "1x"): 2}
    report = store.report(e, 0, 120, 300, step=60)
    assert report["total"]["challenges"]["issued"] == 3
    assert report["series"] == [
        {"t": 60, "issued": 3, "solved": 0, "success": 0, "failed": 0, "replays": 0, "minted": 0}
    ]


def test_a_count_for_a_rolled_up_minute_lands_in_its_hour(tmp_path) -> None:
    e = engine(tmp_path)
    old = int(NOW - 2 * DAY)
    store.flush(e, {(old, "A", "issued", "1x"): 1})
    store.roll_up(e, NOW)
    store.flush(e, {(old + 120, "A", "issued", "1x"): 1000})  # late, after the roll-up
    assert totals(store.read(e, 0, NOW)) == {("A", "issued", "1x"): 1001}

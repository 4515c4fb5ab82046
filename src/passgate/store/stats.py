"""The counters' tables (passgate.stats): additive flushes, the hourly roll-up, pruning and
reading, on SQLite and PostgreSQL alike.

Every write adds (`n = n + excluded.n`), so processes and nodes flushing the same minute
never overwrite each other. Minute rows older than a day are summed into hour rows once:
the `meta` row `stats_rolled_until` marks how far, and moves by compare-and-set, so two
nodes rolling up at once cannot both add the same minutes. Readers take hour rows below
the mark and minute rows above it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from passgate.stats import HOUR, MINUTE, Key, Row, series, summarize
from passgate.store.schema import settings_kv, stats_hour, stats_minute

ROLL_AFTER = 86_400  # minute rows are summed into hours once a day old
MINUTE_KEEP = 2 * 86_400  # and deleted at two days
MARK = "stats_rolled_until"
_KEY_COLUMNS = ("sitekey", "metric", "label")


def _upsert(conn: sa.Connection, table: sa.Table, bucket: str) -> Any:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[bucket, *_KEY_COLUMNS], set_={"n": table.c.n + stmt.excluded.n}
    )


def flush(engine: sa.Engine, counts: Mapping[Key, int]) -> None:
    """Add `counts` to the minute rows, in one transaction; a count for a minute already
    rolled up (a node that kept its counts through a day-long outage) is added to its hour
    row instead. Rows are written in key order, so that two nodes flushing the same rows on
    PostgreSQL take their locks in one order."""
    if not counts:
        return
    with engine.begin() as conn:
        mark = _mark(conn) or 0
        minutes: list[dict[str, object]] = []
        hours: dict[Key, int] = {}
        for (m, s, metric, label), n in sorted(counts.items()):
            if not n:
                continue
            if m >= mark:
                minutes.append(
                    {"minute": m, "sitekey": s, "metric": metric, "label": label, "n": n}
                )
            else:  # late: its hour is rolled up already, so it is added there
                key = (m // HOUR * HOUR, s, metric, label)
                hours[key] = hours.get(key, 0) + n
        if minutes:
            conn.execute(_upsert(conn, stats_minute, "minute"), minutes)
        if hours:
            rows = [
                {"hour": h, "sitekey": s, "metric": metric, "label": label, "n": n}
                for (h, s, metric, label), n in sorted(hours.items())
            ]
            conn.execute(_upsert(conn, stats_hour, "hour"), rows)


class _Raced(Exception):
    """Another node moved the roll-up mark first: this roll-up is rolled back."""


def roll_up(engine: sa.Engine, now: float) -> int:
    """Sum every complete hour of minute rows older than ROLL_AFTER into hour rows, once.
    Returns the number of hours rolled up (0 when there was nothing to do, or another node
    did it first)."""
    cutoff = int(now - ROLL_AFTER) // HOUR * HOUR
    try:
        with engine.begin() as conn:
            mark = _mark(conn)
            if mark is None:
                oldest = conn.execute(sa.select(sa.func.min(stats_minute.c.minute))).scalar()
                start = cutoff if oldest is None else int(oldest) // HOUR * HOUR
            else:
                start = mark
            if start >= cutoff:
                if mark is None:
                    conn.execute(settings_kv.insert().values(name=MARK, value=str(cutoff)))
                return 0
            m = stats_minute.c
            hour = (m.minute // HOUR * HOUR).label("hour")
            summed = (
                sa.select(hour, m.sitekey, m.metric, m.label, sa.func.sum(m.n))
                .where(m.minute >= start, m.minute < cutoff)
                .group_by(hour, m.sitekey, m.metric, m.label)
            )
            conn.execute(
                _upsert(conn, stats_hour, "hour").from_select(
                    ["hour", "sitekey", "metric", "label", "n"], summed
                )
            )
            if mark is None:
                conn.execute(settings_kv.insert().values(name=MARK, value=str(cutoff)))
            else:
                moved = conn.execute(
                    settings_kv.update()
                    .where(settings_kv.c.name == MARK, settings_kv.c.value == str(mark))
                    .values(value=str(cutoff))
                ).rowcount
                if moved != 1:
                    raise _Raced()
            return (cutoff - start) // HOUR
    except (_Raced, sa.exc.IntegrityError):
        return 0


def _mark(conn: sa.Connection) -> int | None:
    value = conn.execute(sa.select(settings_kv.c.value).where(settings_kv.c.name == MARK)).scalar()
    return None if value is None else int(value)


def prune(engine: sa.Engine, now: float, retention_days: int) -> int:
    """Delete minute rows past MINUTE_KEEP that are rolled up, and hour rows past
    `retention_days`. Returns the rows deleted."""
    with engine.begin() as conn:
        mark = _mark(conn)
        deleted = 0
        if mark is not None:
            below = min(mark, int(now - MINUTE_KEEP))
            deleted += conn.execute(
                stats_minute.delete().where(stats_minute.c.minute < below)
            ).rowcount
        deleted += conn.execute(
            stats_hour.delete().where(stats_hour.c.hour < int(now - retention_days * 86_400))
        ).rowcount
    return deleted


def read(engine: sa.Engine, since: float, until: float, sitekey: str | None = None) -> list[Row]:
    """The rows over [since, until): hour rows below the roll-up mark, minute rows from it
    on. An hour row counts whole when `since` falls inside its hour."""
    with engine.connect() as conn:
        mark = _mark(conn) or 0
        m, h = stats_minute.c, stats_hour.c
        minutes = sa.select(m.minute, m.sitekey, m.metric, m.label, m.n).where(
            m.minute >= max(int(since) // MINUTE * MINUTE, mark), m.minute < until
        )
        hours = sa.select(h.hour, h.sitekey, h.metric, h.label, h.n).where(
            h.hour >= int(since) // HOUR * HOUR, h.hour < min(until, mark)
        )
        if sitekey is not None:
            minutes = minutes.where(m.sitekey == sitekey)
            hours = hours.where(h.sitekey == sitekey)
        out = [Row(int(r[0]), MINUTE, r[1], r[2], r[3], int(r[4])) for r in conn.execute(minutes)]
        out += [Row(int(r[0]), HOUR, r[1], r[2], r[3], int(r[4])) for r in conn.execute(hours)]
    return out


def report(
    engine: sa.Engine,
    since: float,
    until: float,
    lifetime: int,
    sitekey: str | None = None,
    step: int | None = None,
) -> dict[str, Any]:
    """The counters over [since, until) as `passgate.stats.summarize` shapes them, plus,
    with `step` (seconds), a `series` for charts (`passgate.stats.series`). This is what
    `passgate stats` prints and what the console charts. Raises SQLAlchemyError."""
    rows = read(engine, since, until, sitekey)
    out = summarize(rows, until, lifetime, since, until)
    if step:
        out["series"] = series(rows, step)
    return out

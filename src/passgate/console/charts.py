"""The overview's numbers: the stats report over a range (`passgate.store.stats.report`'s
shape), and per time bucket the figures each chart draws and each chart's table states, so
the page's tables (server-rendered) and its charts (console.js, from /console/api/stats) show
the same numbers. Pure: the rows come from the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from passgate.stats import BANDS, Row, series, summarize

RANGES = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}
STEPS = {"1h": 60, "24h": 900, "7d": 3600, "30d": 6 * 3600}
RANGE_NAMES = {
    "1h": "last hour",
    "24h": "last 24 hours",
    "7d": "last 7 days",
    "30d": "last 30 days",
}
STEP_NAMES = {60: "minute", 900: "15 minutes", 3600: "hour", 6 * 3600: "6 hours"}
REPLAY = "already-seen-response"  # the siteverify code of a spent token


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    unit: str  # "count", "percent" or "seconds"
    columns: list[str]  # the series' names
    rows: list[tuple[int, list[float | None]]]  # (bucket start, one value per column)

    def public(self, step: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "unit": self.unit,
            "columns": self.columns,
            "times": [t for t, _ in self.rows],
            "labels": [label(t, step) for t, _ in self.rows],
            "values": [values for _, values in self.rows],
            "cells": [[cell(v, self.unit) for v in values] for _, values in self.rows],
        }


def label(t: int, step: int) -> str:
    """A bucket's start as its table row says it (UTC)."""
    fmt = "%H:%M" if step < 3600 else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(t, UTC).strftime(fmt)


def cell(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "percent":
        return f"{value:.1f} %"
    if unit == "seconds":
        return f"{value:g} s"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def totals(total: dict[str, Any]) -> list[dict[str, str]]:
    """The range's totals as the overview's first table states them: id, label, text."""
    ch, sv, times = total["challenges"], total["siteverify"], total["solve_seconds"]
    rate = None if total["pass_rate"] is None else round(100 * total["pass_rate"], 2)
    minted = sum(k["minted"] for k in total["tokenapi"].values())
    figures: list[tuple[str, str, float | None, str]] = [
        ("issued", "Challenges issued", ch["issued"], "count"),
        ("solved", "Challenges solved", ch["solved"], "count"),
        ("expired", "Challenges expired", ch["expired"], "count"),
        ("success", "Siteverify successes", sv["success"], "count"),
        ("failed", "Siteverify failures", sv["failed"], "count"),
        ("replays", "Replays refused", total["replays"], "count"),
        ("passrate", "Pass rate", rate, "percent"),
        ("p50", "Solve time, median (p50)", times["p50"], "seconds"),
        ("p95", "Solve time, p95", times["p95"], "seconds"),
        ("minted", "Tokens minted by API keys", minted, "count"),
    ]
    return [{"id": i, "label": name, "text": cell(v, unit)} for i, name, v, unit in figures]


def buckets(since: float, until: float, step: int) -> list[int]:
    """Every bucket start over the range, empty ones included (charts need a steady x)."""
    first = int(since) // step * step
    return list(range(first, int(until), step))


def report(rows: list[Row], since: float, until: float, lifetime: int, step: int) -> dict[str, Any]:
    """What store.stats.report gives (`total`, `sites`, `series`), plus `charts`: per chart
    its columns and, per bucket, its values (the bucket's own summary)."""
    out = summarize(rows, until, lifetime, since, until)
    out["series"] = series(rows, step)
    by_bucket: dict[int, list[Row]] = {}
    for r in rows:
        by_bucket.setdefault(r.start // step * step, []).append(r)
    summaries = [
        (t, summarize(by_bucket.get(t, []), until, lifetime, t, t + step)["total"])
        for t in buckets(since, until, step)
    ]
    out["step"] = step
    out["totals"] = totals(out["total"])
    out["charts"] = [c.public(step) for c in charts(summaries, out["total"])]
    return out


def charts(summaries: list[tuple[int, dict[str, Any]]], total: dict[str, Any]) -> list[Chart]:
    """The overview's six charts from per-bucket summaries (stats.summarize's SITE shape)."""
    codes = sorted(total["siteverify"]["failures"], key=lambda c: (c != REPLAY, c))
    keys = sorted(total["tokenapi"])
    interfaces = sorted(total["siteverify"]["by_interface"])
    earners = sorted(total["verified"]["by_interface"])

    def per(fn: Any) -> list[tuple[int, list[float | None]]]:
        return [(t, fn(s)) for t, s in summaries]

    return [
        Chart(
            "challenges",
            "Challenges issued, solved and expired",
            "count",
            ["Issued", "Solved", "Expired"],
            per(lambda s: [s["challenges"][k] for k in ("issued", "solved", "expired")]),
        ),
        Chart(
            "siteverify",
            "Siteverify successes and failures by code",
            "count",
            ["Success", *[("Replay: " if c == REPLAY else "") + c for c in codes]],
            per(
                lambda s: [
                    s["siteverify"]["success"],
                    *[s["siteverify"]["failures"].get(c, 0) for c in codes],
                ]
            ),
        ),
        Chart(
            "interfaces",
            "Siteverify successes by interface (hCaptcha, Turnstile, reCAPTCHA)",
            "count",
            interfaces,
            per(
                lambda s: [
                    s["siteverify"]["by_interface"].get(i, {}).get("success", 0)
                    for i in interfaces
                ]
            ),
        ),
        Chart(
            "earned",
            "Tokens verified, by the interface whose widget or call earned them",
            "count",
            earners,
            per(lambda s: [s["verified"]["by_interface"].get(i, 0) for i in earners]),
        ),
        Chart(
            "minted",
            "Tokens minted per API key",
            "count",
            keys,
            per(lambda s: [s["tokenapi"].get(k, {}).get("minted", 0) for k in keys]),
        ),
        Chart(
            "passrate",
            "Pass rate (widget successes per challenge issued)",
            "percent",
            ["Pass rate"],
            per(lambda s: [None if s["pass_rate"] is None else round(100 * s["pass_rate"], 2)]),
        ),
        Chart(
            "solvetime",
            "Solve time",
            "seconds",
            ["p50", "p95"],
            per(lambda s: [s["solve_seconds"]["p50"], s["solve_seconds"]["p95"]]),
        ),
        Chart(
            "difficulty",
            "Difficulty mix (challenges issued per band of the site's base difficulty)",
            "count",
            list(BANDS),
            per(lambda s: [s["difficulty"].get(b, 0) for b in BANDS]),
        ),
    ]

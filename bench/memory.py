"""Peak RSS of one `passgate serve` after many siteverify calls, each a fresh token's
single-use write; sampled as it goes, to show whether memory grows with tokens seen.

The site's tokens live 10 s (the shortest lifetime a site may set), so over the run most
spent-token records pass their expiry and the server's upkeep must prune them.
"""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench import load, prepare, servers

CHUNK = 10_000
LIFETIME = 10


def run(workdir: Path, calls: int, rate_hint: float, settle: bool = True) -> dict[str, Any]:
    """`calls` successful siteverify calls in chunks of fresh tokens; with `settle`, then wait
    (at most the token lifetime plus one upkeep period) for the spent records to be pruned."""
    data_dir = workdir / "memory-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    site = prepare.add_site(data_dir, token_lifetime=LIFETIME)
    ring = prepare.load_ring(data_dir)
    server = servers.start_passgate(workdir, data_dir, name="passgate-memory")
    samples: list[dict[str, float]] = []
    done = 0
    started = time.monotonic()
    try:
        rss, hwm = server.rss_kib()
        samples.append({"calls": 0, "rss_mib": rss / 1024, "hwm_mib": hwm / 1024, "t": 0.0})
        rounds = 0
        while done < calls and rounds < 3 * math.ceil(calls / CHUNK):
            rounds += 1
            n = min(CHUNK, calls - done)
            bodies = prepare.siteverify_bodies(workdir / "memory-bodies.txt", n, site, ring)
            seconds = max(1.0, round(n / max(rate_hint, 500.0) * 1.1))  # leftovers are dropped
            result = load.wrk(
                server.url,
                seconds,
                bodies=bodies,
                path="/siteverify",
                content_type="application/x-www-form-urlencoded",
                ok_marker='"success":true',
            )
            done += result.ok
            rss, hwm = server.rss_kib()
            samples.append(
                {
                    "calls": done,
                    "rss_mib": rss / 1024,
                    "hwm_mib": hwm / 1024,
                    "t": time.monotonic() - started,
                }
            )
        spent_rows = _spent_rows(data_dir / "passgate.db")
        rows_after_settle = None
        settle_s = None
        if settle:
            t0 = time.monotonic()
            deadline = t0 + LIFETIME + _prune_every() + 5
            while time.monotonic() < deadline:
                time.sleep(2)
                rows_after_settle = _spent_rows(data_dir / "passgate.db")
                if rows_after_settle == 0:
                    break
            settle_s = time.monotonic() - t0
            rss, hwm = server.rss_kib()
            samples.append(
                {
                    "calls": done,
                    "rss_mib": rss / 1024,
                    "hwm_mib": hwm / 1024,
                    "t": time.monotonic() - started,
                }
            )
    finally:
        server.stop()
    first = samples[1]["rss_mib"] if len(samples) > 1 else samples[0]["rss_mib"]
    end = [x for x in samples if x["calls"] == done][0]["rss_mib"]
    return {
        "calls": done,
        "token_lifetime_s": LIFETIME,
        "samples": samples,
        "peak_rss_mib": max(s["hwm_mib"] for s in samples),
        "rss_after_first_chunk_mib": first,
        "rss_end_mib": end,
        "rss_after_settle_mib": samples[-1]["rss_mib"] if settle else None,
        "growth_mib": end - first,
        "spent_rows_end": spent_rows,
        "spent_rows_after_settle": rows_after_settle,
        "settle_seconds": settle_s,
        "seconds": time.monotonic() - started,
    }


def _prune_every() -> float:
    try:
        from passgate.app import PRUNE_EVERY
    except ImportError:
        return 30.0
    return float(PRUNE_EVERY)


def _spent_rows(db: Path) -> int | None:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM spent").fetchone()[0])
    except sqlite3.Error:
        return None

"""The counters section of `make bench`: what the per-site counters (passgate.stats) and the
Prometheus metrics cost the hot endpoints.

Two `passgate serve` processes on one embedded store, both on the server core: `on` with the
defaults (counters on) and the metrics listener on, `off` with `PASSGATE_STATS=off` and no
listener. Throughput alone is inside the noise on this machine, so the figure is the server's
CPU time per answered request (utime + stime of the process, all its threads, from
/proc/PID/stat), taken over interleaved rounds: each round loads `on` and `off` in turn
(alternating which goes first) on each endpoint. Quoted: the medians, their ratio, and the
spread of the per-round ratios.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
from pathlib import Path
from typing import Any

from bench import load, prepare, servers

FORM = "application/x-www-form-urlencoded"
TRUST_LOOPBACK = {"PASSGATE_TRUSTED_PROXIES": "127.0.0.1"}
PREFIXES = 131_072  # /1/challenge comes from this many /24s (one generator, many sources)
TARGET = 0.03  # the counters add at most 3%
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (every thread), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run(work: Path, quick: bool) -> dict[str, Any]:
    rounds = 5 if quick else 7
    seconds = 1.0 if quick else 4.0
    data_dir = work / "counters-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    site = prepare.add_site(data_dir, None, None, name="defaults")  # adaptive, as shipped
    # pre-solved /1/solve bodies (16 hashes a part, one address) would be renewed as
    # underpriced by an adaptive site: /1/solve is measured on a site without adaptation
    fixed = prepare.add_site(data_dir, None, None, "--no-adaptive", name="fixed")
    ring = prepare.load_ring(data_dir)
    on = servers.start_passgate(
        work,
        data_dir,
        "counters-on",
        {**TRUST_LOOPBACK, "PASSGATE_METRICS_PORT": str(servers.free_port())},
    )
    off = servers.start_passgate(
        work, data_dir, "counters-off", {**TRUST_LOOPBACK, "PASSGATE_STATS": "off"}
    )
    ch_body = work / "counters-challenge.txt"
    ch_body.write_text(prepare.challenge_body(site) + "\n")
    rate = {"siteverify": 15_000.0, "solve": 8_000.0}
    offset = [0]

    def measure(server: servers.Server, endpoint: str) -> dict[str, float]:
        if endpoint == "challenge":
            offset[0] += 50_000
            go = lambda: load.wrk(  # noqa: E731
                server.url, seconds, bodies=ch_body, path="/1/challenge",
                ok_marker='"challenge"', reuse=True, xff_prefixes=PREFIXES,
                xff_offset=offset[0],
            )  # fmt: skip
        else:
            bodies = work / f"counters-{endpoint}.txt"
            count = math.ceil(rate[endpoint] * seconds * 1.6) + 1000
            if endpoint == "siteverify":
                prepare.siteverify_bodies(bodies, count, site, ring)
                go = lambda: load.wrk(  # noqa: E731
                    server.url, seconds, bodies=bodies, path="/siteverify",
                    content_type=FORM, ok_marker='"success":true',
                )  # fmt: skip
            else:
                prepare.solution_bodies(bodies, count, fixed, ring)
                go = lambda: load.wrk(  # noqa: E731
                    server.url, seconds, bodies=bodies, path="/1/solve", ok_marker='"token"'
                )  # fmt: skip
        before = cpu_seconds(server.proc.pid)
        result = go()
        spent = cpu_seconds(server.proc.pid) - before
        if endpoint in rate:
            rate[endpoint] = max(rate[endpoint], result.rps)
        return {
            "cpu_us": spent / max(1, result.ok) * 1e6,
            "ok_rps": result.ok_rps,
            "ok": result.ok,
            "failed": result.requests - result.ok,
        }

    endpoints = ("siteverify", "challenge", "solve")
    runs: dict[str, dict[str, list[dict[str, float]]]] = {
        e: {"on": [], "off": []} for e in endpoints
    }
    try:
        for endpoint in endpoints:  # warm both processes up
            measure(on, endpoint)
            measure(off, endpoint)
        for i in range(rounds):
            order = ((on, "on"), (off, "off")) if i % 2 == 0 else ((off, "off"), (on, "on"))
            for endpoint in endpoints:
                for server, which in order:
                    runs[endpoint][which].append(measure(server, endpoint))
    finally:
        on.stop()
        off.stop()
    out: dict[str, Any] = {"rounds": rounds, "run_seconds": seconds, "endpoints": {}}
    for endpoint, both in runs.items():
        on_us = [r["cpu_us"] for r in both["on"]]
        off_us = [r["cpu_us"] for r in both["off"]]
        ratios = [a / b for a, b in zip(on_us, off_us, strict=True) if b]
        out["endpoints"][endpoint] = {
            "on_cpu_us": statistics.median(on_us),
            "off_cpu_us": statistics.median(off_us),
            "overhead": statistics.median(on_us) / statistics.median(off_us) - 1,
            "round_overheads": [r - 1 for r in ratios],
            "on_rps": statistics.median(r["ok_rps"] for r in both["on"]),
            "off_rps": statistics.median(r["ok_rps"] for r in both["off"]),
            "failed": sum(r["failed"] for r in both["on"] + both["off"]),
            "runs": both,
        }
    return out


def targets(r: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    out: list[tuple[str, str, bool | None]] = []
    for endpoint, e in r["endpoints"].items():
        spread = e["round_overheads"]
        out.append(
            (
                f"counters + metrics add ≤ 3% CPU per request, {endpoint}",
                f"**{e['overhead']:+.1%}** ({e['on_cpu_us']:.1f} vs {e['off_cpu_us']:.1f} µs; "
                f"rounds {min(spread):+.1%} to {max(spread):+.1%})",
                e["overhead"] <= TARGET,
            )
        )
    return out


def section(r: dict[str, Any]) -> list[str]:
    L = [
        "## Counters and metrics: their cost",
        "",
        "Server CPU time per answered request, counters and the metrics listener on (the "
        "defaults plus `--metrics-port`) against `PASSGATE_STATS=off` without a listener: "
        f"{r['rounds']} interleaved rounds of {r['run_seconds']:g} s per endpoint and setting, "
        "two processes on one SQLite store, both on the server core (bench/counters.py). "
        "CPU time comes from /proc/PID/stat (all threads, 10 ms ticks), so the flushes and "
        "the listener's thread are counted. /1/challenge comes from 131,072 /24s through a "
        "trusted X-Forwarded-For; /1/solve runs on a site without adaptation (its bodies are "
        "pre-solved at 16 hashes a part).",
        "",
        "| endpoint | CPU µs/request, on | off | overhead (median) | per-round spread | "
        "req/s on | req/s off |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for endpoint, e in r["endpoints"].items():
        spread = e["round_overheads"]
        L.append(
            f"| {endpoint} | {e['on_cpu_us']:.1f} | {e['off_cpu_us']:.1f} | "
            f"{e['overhead']:+.1%} | {min(spread):+.1%} … {max(spread):+.1%} | "
            f"{e['on_rps']:,.0f} | {e['off_rps']:,.0f} |"
        )
    L.append("")
    return L

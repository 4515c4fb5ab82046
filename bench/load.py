# ruff: noqa: S603, S607, S105, S310 - fixed local commands and loopback URLs only
"""wrk on loopback, pinned to its own core, reporting through bench/wrk/*.lua as JSON."""

from __future__ import annotations

import json
import os
import resource
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.servers import CLIENT_CORE, pinned

LUA_DIR = Path(__file__).resolve().parent / "wrk"
THREADS = 1
CONNECTIONS = 32


@dataclass
class Load:
    """One wrk run: throughput, latency percentiles (ms) and what the script counted."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    ok: int
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok_rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "rps": round(self.rps, 1),
            "ok_rps": round(self.ok_rps, 1),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            **self.extra,
        }


def wrk(
    url: str,
    seconds: float,
    connections: int = CONNECTIONS,
    bodies: Path | None = None,
    path: str = "/",
    content_type: str = "application/json",
    ok_marker: str = "",
    header: str = "",
    collect_cost: bool = False,
    delay_ms: float | None = None,
    reuse: bool = False,
    xff_prefixes: int = 0,
    xff_offset: int = 0,
    save: Path | None = None,
    pin: bool = True,
    own_script: str | None = None,
    threads: int = THREADS,
    settings: dict[str, str] | None = None,
) -> Load:
    """Run wrk against `url` (GET), or POST each line of `bodies` to `path`: once each (the
    thread stops when they run out: size the file for the run), or cycling when `reuse`.
    `xff_prefixes` > 0: each POST comes from another of that many /24s (X-Forwarded-For,
    for a server that trusts loopback), the walk starting `xff_offset` requests in. `save`:
    each pass token the server answers is written to `save`.N (N: the wrk thread)."""
    env = {**os.environ, "BENCH_LUA_DIR": str(LUA_DIR), "BENCH_THREADS": str(threads)}
    env.update(settings or {})
    if bodies is None:
        script = LUA_DIR / "get.lua"
        env["BENCH_HEADER"] = header
    else:
        script = LUA_DIR / "bodies.lua"
        env.update(
            BENCH_BODIES=str(bodies),
            BENCH_PATH=path,
            BENCH_CTYPE=content_type,
            BENCH_OK=ok_marker,
            BENCH_HEADER=header,
            BENCH_COST="1" if collect_cost else "0",
            BENCH_REUSE="1" if reuse else "0",
        )
        if delay_ms is not None:
            env["BENCH_DELAY"] = str(max(0, int(round(delay_ms))))
        if xff_prefixes:
            env.update(BENCH_XFF_PREFIXES=str(xff_prefixes), BENCH_XFF_OFFSET=str(xff_offset))
        if save is not None:
            env["BENCH_SAVE"] = str(save)
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(LUA_DIR / f"{own_script}.lua" if own_script else script),
        url,
    ]
    cmd = pinned(args, CLIENT_CORE) if pin else args
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        cmd,
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,  # noqa: S603
        check=True,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    data = json.loads(line[len("BENCH_JSON ") :])
    errors = sum(int(data[k]) for k in data if k.startswith("err_"))
    extra = {
        "client_cpu_s": round(client_cpu, 3),
        **{
            k: float(v)
            for k, v in data.items()
            if k in ("sent", "wrapped", "cost_p50", "cost_p99", "costs_n", "seen")
        },
    }
    return Load(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50"] / 1000,
        p99_ms=data["p99"] / 1000,
        errors=errors,
        ok=int(data.get("ok", data["requests"])),
        extra=extra,
    )

# ruff: noqa: S104 - loopback only
"""The abuse section of `make bench`: what an attacker earns, what a person pays, what the
score says, and what adaptation costs the server.

One `passgate serve` on the embedded SQLite store (core 0), trusting 127.0.0.1 as a proxy so
that X-Forwarded-For names the client and one machine plays many prefixes. Its sites:
`curve` (base 256 expected hashes, --max-difficulty 256,000), `attack` (the defaults:
250,000 and the default cap) and `fixed` (the defaults, --no-adaptive). The attacker
(bench/attacker.c, driven by bench/abuse_attack.py) and this driver run on core 1; the
browser, as in the solver section, where the OS puts it.

Phases, in order: the attacker's speed; the curve (1,000 solves from one prefix); /1/challenge
throughput with adaptation on and off; people and stock automation in Chromium; the
one-prefix attack and the same prefix 10 minutes later; the rotating attacks (all /24s of a
/16, 1,000 /48s of a /32); 10^6 live prefixes in each store.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import abuse_attack, abuse_browser, abuse_stores, load, prepare, servers
from bench.abuse_attack import Client, Solver
from bench.primitives import openssl_rate
from passgate.abuse import difficulty, score
from passgate.abuse.counters import PARENT_CACHE

TRUST_LOOPBACK = {"PASSGATE_TRUSTED_PROXIES": "127.0.0.1"}
SHA256 = ("--algorithm", "sha256")  # the puzzle the attacker solves (and the targets name)
CURVE_BASE, CURVE_CAP = 256, 256_000
PREFIXES = 131_072  # /24s the throughput load comes from (11.0.0.0-12.255.255.0)
LOADED_RATE = 60  # other solves a minute on the loaded person's prefix
AGE = 600.0  # seconds: "10 minutes after it stops"


@dataclass(frozen=True)
class AbusePlan:
    quick: bool
    rate_seconds: float  # one measurement of the attacker's speed
    rate_repeats: int
    curve_solves: int
    single_seconds: float  # the one-prefix attack
    single_window: tuple[float, float]  # the part of it counted (seconds since its start)
    rotate_seconds: float  # each rotating attack
    people: int  # first solves from quiet prefixes (automation off)
    loaded: int  # solves from a prefix carrying LOADED_RATE others a minute
    stock: int  # solves by stock Playwright Chromium
    hash_seconds: float  # the widget worker's attempt rate
    live: int  # prefixes filled into each store
    tp_seconds: float  # one /1/challenge throughput run
    tp_pairs: int  # interleaved (adaptive, fixed) pairs

    @classmethod
    def make(cls, quick: bool) -> AbusePlan:
        if quick:
            return cls(True, 1, 1, 1000, 20, (10, 20), 6, 4, 2, 2, 1, 1_000_000, 2, 1)
        return cls(False, 2, 3, 1000, 600, (300, 600), 45, 20, 10, 5, 2, 1_000_000, 10, 3)


def log(msg: str) -> None:
    print(f"[bench] abuse: {msg}", file=sys.stderr, flush=True)


@contextmanager
def on_client_core() -> Iterator[None]:
    """This driver on the client core while it drives the attacker (its HTTP must not take
    the server's core)."""
    before = os.sched_getaffinity(0)
    if (os.cpu_count() or 1) > servers.CLIENT_CORE:
        os.sched_setaffinity(0, {servers.CLIENT_CORE})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def run(work: Path, quick: bool, openssl_44: float | None) -> dict[str, Any]:
    plan = AbusePlan.make(quick)
    data = work / "abuse-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    curve_site = prepare.add_site(
        data, None, CURVE_BASE, *SHA256, "--max-difficulty", str(CURVE_CAP), name="curve"
    )
    site = prepare.add_site(data, None, None, *SHA256, name="attack")
    fixed = prepare.add_site(data, None, None, *SHA256, "--no-adaptive", name="fixed")
    key, db = abuse_stores.prefix_key(data), abuse_stores.db_path(data)
    out: dict[str, Any] = {
        "plan": asdict(plan),
        "base": site.difficulty,
        "cap": difficulty.DEFAULT_MAX_DIFFICULTY,
        "phases": {},
    }

    @contextmanager
    def phase(name: str, client_core: bool = False) -> Iterator[None]:
        started = time.monotonic()
        with on_client_core() if client_core else nullcontext():
            yield
        out["phases"][name] = round(time.monotonic() - started, 1)
        log(f"{name}: {out['phases'][name]:.0f} s")

    binary, flavour = abuse_attack.build(work)
    server = servers.start_passgate(work, data, "passgate-abuse", env=TRUST_LOOPBACK)
    solver = Solver(binary)
    client = Client(server.url)
    try:
        with phase("attacker", client_core=True):
            rates = [solver.rate(plan.rate_seconds) for _ in range(plan.rate_repeats)]
            if openssl_44 is None:
                openssl_44 = openssl_rate(plan.rate_seconds, 44)
            out["attacker"] = {
                "rate": statistics.median(rates),
                "runs": rates,
                "sha256": flavour,
                "openssl_44": openssl_44,
            }
            log(f"attacker {out['attacker']['rate'] / 1e6:.1f} M/s ({flavour})")
        with phase("curve", client_core=True):
            out["curve"] = abuse_attack.curve(
                client, solver, curve_site.sitekey, "10.10.10.7", plan.curve_solves
            )
        with phase("throughput"):
            out["throughput"] = throughput(plan, server, site.sitekey, fixed.sitekey)
        with phase("people"):
            try:
                out["people"] = people(plan, server.url, site, client, key, db)
            except Exception as exc:  # noqa: BLE001 - no browser: its rows say so
                out["people"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                log(f"people: {out['people']['error']}")
        with phase("single", client_core=True):
            ip = "10.20.30.7"
            out["single"] = abuse_attack.attack(
                client, solver, site, [ip], plan.single_seconds, "10.21.0.7", progress=log
            )
            out["single"]["after"] = after_stop(client, site.sitekey, db, key, [ip])
        v4 = [f"10.30.{i}.7" for i in range(256)]
        v6 = [f"2001:db8:{i:x}::7" for i in range(1000)]
        for name, ips, quiet in (
            ("rotate_v4", v4, "10.31.0.7"),
            ("rotate_v6", v6, "2001:db9:1::7"),
        ):
            with phase(name, client_core=True):
                out[name] = abuse_attack.attack(
                    client, solver, site, ips, plan.rotate_seconds, quiet
                )
                out[name]["after"] = after_stop(client, site.sitekey, db, key, ips)
        with phase("live"):
            out["live"] = live(plan, work, client, site.sitekey, key, db)
    finally:
        client.close()
        solver.close()
        server.stop()
    return out


def after_stop(client: Client, sitekey: str, db: str, key: bytes, ips: list[str]) -> dict[str, Any]:
    """The price the attack's first prefix pays when it stops, and AGE seconds later: the
    rows of its prefixes and parents moved AGE s into the past (what waiting does to them),
    then asked through the server."""
    now = client.challenge(sitekey, ips[0])["difficulty"]
    abuse_stores.age(db, key, ips, AGE)
    # a process prices with a parent's count up to PARENT_CACHE seconds old: waiting that
    # long is part of "later" (the rows were aged behind the server's back)
    time.sleep(PARENT_CACHE + 0.2)
    later = client.challenge(sitekey, ips[0])["difficulty"]
    return {"at_stop": now, "later": later, "seconds": AGE}


def throughput(
    plan: AbusePlan, server: servers.Server, adaptive: str, fixed: str
) -> dict[str, Any]:
    """/1/challenge under wrk, each request from another /24 of PREFIXES, on the adaptive
    site and on the same settings with --no-adaptive; interleaved pairs, medians. When
    adaptation costs more than the target allows, py-spy on the server under the adaptive
    load (bench.run.during)."""
    from bench.run import during

    url = server.url
    work = servers.ROOT / "bench" / ".work"
    bodies = {}
    for name, sitekey in (("adaptive", adaptive), ("fixed", fixed)):
        bodies[name] = work / f"abuse-{name}-body.txt"
        bodies[name].write_text(f'{{"sitekey":"{sitekey}","host":"localhost"}}\n')
    offset = {"adaptive": 0, "fixed": 0}
    runs: dict[str, list[dict[str, Any]]] = {"adaptive": [], "fixed": []}

    def once(name: str, seconds: float) -> load.Load:
        result = load.wrk(
            url,
            seconds,
            bodies=bodies[name],
            path="/1/challenge",
            ok_marker='"challenge"',
            reuse=True,
            xff_prefixes=PREFIXES,
            xff_offset=offset[name],
        )
        offset[name] += result.requests
        return result

    for name in runs:
        once(name, 1)  # warm-up
    for i in range(plan.tp_pairs):
        for name in ("adaptive", "fixed") if i % 2 == 0 else ("fixed", "adaptive"):
            r = once(name, plan.tp_seconds)
            runs[name].append(r.as_dict())
            log(f"/1/challenge {name}: {r.ok_rps:,.0f} req/s")
    out: dict[str, Any] = {
        name: {
            "rps": statistics.median(r["ok_rps"] for r in rs),
            "p99_ms": statistics.median(r["p99_ms"] for r in rs),
            "runs": rs,
            "prefixes": min(PREFIXES, offset[name]),
        }
        for name, rs in runs.items()
    }
    if out["adaptive"]["rps"] < 0.9 * out["fixed"]["rps"]:
        secs = plan.tp_seconds
        out["profile"] = during(
            secs,
            lambda: once("adaptive", secs + 1),
            server.proc.pid,
            work / "profile-abuse-challenge.txt",
        )
    return out


def people(
    plan: AbusePlan, url: str, site: Any, client: Client, key: bytes, db: str
) -> dict[str, Any]:
    """The widget in Chromium: first solves from quiet prefixes (automation flags off),
    solves from prefixes seeded with LOADED_RATE solves a minute, and stock Playwright
    Chromium; each token's score from /siteverify; slow devices computed from them."""
    jobs = [
        {
            "name": "quiet",
            "automation": False,
            "ips": [f"10.{100 + k}.1.7" for k in range(plan.people)],
        },
        {
            "name": "loaded",
            "automation": False,
            "ips": [f"10.{200 + k}.1.7" for k in range(plan.loaded)],
        },
        {
            "name": "stock",
            "automation": True,
            "ips": [f"10.{150 + k}.1.7" for k in range(plan.stock)],
        },
    ]
    for job in jobs:
        job["sitekey"] = site.sitekey

    def before(job: str, ip: str) -> None:
        if job == "loaded":
            abuse_stores.steady(db, key, ip, LOADED_RATE)

    out = abuse_browser.run(url, jobs, plan.hash_seconds, before)
    for job in jobs:
        for r in out[job["name"]]:
            v = client.verify(site.secret, r.pop("token")) if r.get("token") else {}
            r["score"], r["reasons"] = v.get("score"), v.get("score_reason", [])
    pool = out["worker_rate"] * out["workers"]
    out["slowed"] = {}
    for name, slowdowns in (("quiet", (4, 6)), ("loaded", (4,))):
        done = [r for r in out[name] if r["ms"] is not None and r["error"] is None]
        if not done or not pool:
            continue
        # the rest of each solve: its time less its expected attempts at the warm rate
        rest = [max(0.0, r["ms"] - 1000 * r["parts"] * 2**32 / r["threshold"] / pool) for r in done]
        out[name + "_rest_ms"] = statistics.median(rest)
        first = done[0]
        for s in slowdowns:
            out["slowed"][f"{name}_{s}x"] = {
                "difficulty": first["difficulty"],
                **abuse_browser.slowed(
                    out["worker_rate"], out["workers"], s, first["parts"], first["threshold"], rest
                ),
            }
    return out


def live(
    plan: AbusePlan, work: Path, client: Client, sitekey: str, key: bytes, db: str
) -> dict[str, Any]:
    """plan.live prefixes made live in the server's own SQLite file (issued + flush, the
    server's code), then quiet prefixes ask for challenges; the same fill weighed in Redis
    and PostgreSQL when their counters exist."""
    log(f"{plan.live:,} live prefixes")
    srcs = abuse_stores.sources(key, plan.live)
    out: dict[str, Any] = {"prefixes": plan.live, "issues": abuse_stores.ISSUES, "stores": {}}
    out["stores"]["SQLite"] = abuse_stores.weigh_sqlite(db, srcs)
    out["quiet"] = [client.challenge(sitekey, f"10.250.{k}.7")["difficulty"] for k in range(5)]
    weigh: dict[str, Callable[[Path, list[Any]], dict[str, Any]]] = {
        "Redis": abuse_stores.weigh_redis,
        "PostgreSQL": abuse_stores.weigh_postgres,
    }
    for name, fn in weigh.items():
        try:
            out["stores"][name] = fn(work, srcs)
        except Exception as exc:  # noqa: BLE001 - a store that will not start is not measured
            out["stores"][name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        log(f"{name}: {out['stores'][name]}")
    return out


def hot_from(tokens: list[list[Any]]) -> float | None:
    """When the parent got hot in an attack: the first token after which its decayed solves
    alone carry the network-velocity risk to 0.7 (abuse.score), counted from the tokens'
    times with the server's decay."""
    count, last = 0.0, 0.0
    for t, *_ in tokens:
        count = difficulty.decay(count, last, t) + 1
        last = t
        if score.velocity_risk(difficulty.PARENT_WEIGHT * count) >= 0.7:
            return float(t)
    return None

# ruff: noqa: S603, S607, S105, S310 - fixed local commands and loopback URLs only
"""`make bench`: passgate against its own HTTP ceiling and its peers, in one run.

    .venv/bin/python -m bench.run [--quick]

Writes BENCHMARKS.md at the repo root and PNG charts under docs/bench/; the raw figures
go to bench/.work/results.json. The server under test and the ceiling run on core 0, wrk
and the in-process primitives on core 1 (taskset). Everything listens on 127.0.0.1 only,
and every load loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import deps, load, prepare, profile, servers
from bench.load import Load
from passgate import challenge, settings

ROOT = servers.ROOT
WORK = ROOT / "bench" / ".work"
FORM = "application/x-www-form-urlencoded"
TRUST_LOOPBACK = {"PASSGATE_TRUSTED_PROXIES": "127.0.0.1"}  # X-Forwarded-For plays the sources
PREFIXES = 131_072
SV_OK = '"success":true'


@dataclass(frozen=True)
class Plan:
    quick: bool
    seconds: float  # one measured wrk run
    repeats: int  # measured runs per endpoint (the median is quoted)
    warmup: float
    memory_calls: int
    solves: int
    prim_seconds: float
    prim_repeats: int
    hash_seconds: float
    profile_seconds: float

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, 2, 1, 1, 10_000, 10, 0.3, 1, 2, 2)
        return cls(False, 4, 3, 1, 100_000, 40, 0.5, 3, 3, 4)


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def summarize(runs: list[Load]) -> dict[str, Any]:
    """The median of repeated runs, and each run."""
    return {
        "rps": statistics.median(r.ok_rps for r in runs),
        "p50_ms": statistics.median(r.p50_ms for r in runs),
        "p99_ms": statistics.median(r.p99_ms for r in runs),
        "failed": sum(r.requests - r.ok for r in runs),
        "runs": [r.as_dict() for r in runs],
    }


def repeated(plan: Plan, name: str, run: Callable[[float], Load]) -> dict[str, Any]:
    run(plan.warmup)
    runs = []
    for i in range(plan.repeats):
        runs.append(run(plan.seconds))
        log(f"{name} run {i + 1}: {runs[-1].ok_rps:,.0f} req/s, p99 {runs[-1].p99_ms:.1f} ms")
    return summarize(runs)


def single_use(
    plan: Plan, name: str, make: Callable[[Path, int], Path], run: Callable[[float, Path], Load]
) -> dict[str, Any]:
    """Like `repeated`, with a fresh file of single-use bodies per run, sized from the warm-up."""
    path = WORK / f"{name}-bodies.txt"
    warm = run(plan.warmup, make(path, 20_000))
    rate = max(warm.rps, 500.0)
    runs = []
    for i in range(plan.repeats):
        count = math.ceil(rate * plan.seconds * 1.6) + 2_000
        result = run(plan.seconds, make(path, count))
        if result.extra.get("wrapped"):  # the file ran out: size up and measure again
            rate *= 2
            result = run(plan.seconds, make(path, math.ceil(rate * plan.seconds * 1.6)))
        rate = max(rate, result.rps)
        runs.append(result)
        log(
            f"{name} run {i + 1}: {result.ok_rps:,.0f} ok/s of {result.rps:,.0f} req/s, "
            f"p99 {result.p99_ms:.1f} ms"
        )
    return summarize(runs)


def at_rate(url: str, target: float, seconds: float, make: Callable[[int], Path]) -> dict[str, Any]:
    """siteverify at about `target` req/s: wrk with 64 connections, each waiting between
    requests (wrk's delay(), whole ms), the wait calibrated by up to three short probes."""
    conns = 64
    period_ms = 1000 * conns / target
    delay = max(0.0, period_ms - 1)
    for _ in range(3):
        probe = load.wrk(
            url, 2, conns, make(math.ceil(target * 4)), "/siteverify", FORM, SV_OK, delay_ms=delay
        )
        if abs(probe.rps - target) <= 0.05 * target:
            break
        overhead = max(0.0, 1000 * conns / max(probe.rps, 1) - round(delay))
        delay = max(0.0, period_ms - overhead)
    result = load.wrk(
        url,
        seconds,
        conns,
        make(math.ceil(target * seconds * 1.5) + 1000),
        "/siteverify",
        FORM,
        SV_OK,
        delay_ms=delay,
    )
    return {
        "target_rps": target,
        "delay_ms": round(delay),
        "connections": conns,
        **result.as_dict(),
    }


def transferred(url: str) -> dict[str, int]:
    """Bytes on the wire for each widget file, as a browser that takes gzip receives them."""
    static = ROOT / "src" / "passgate" / "widget" / "static"
    names = ["/1/api.js"] + [
        f"/1/static/{p.name}" for p in sorted(static.glob("*.js")) if p.name != "api.js"
    ]
    sizes = {}
    for path in names:
        req = urllib.request.Request(url + path, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            body = resp.read()
            gz = resp.headers.get("Content-Encoding") == "gzip"
        sizes[path] = len(body) if gz else len(gzip.compress(body, 9))
    return sizes


def _wire(url: str) -> tuple[bytes, int]:
    """A body, and its size on the wire for a browser that takes gzip."""
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
        raw = resp.read()
        gz = resp.headers.get("Content-Encoding") == "gzip"
    return (gzip.decompress(raw) if gz else raw), (len(raw) if gz else len(gzip.compress(raw, 9)))


# Each interface's page-side script: what a page speaking it loads before the shared frame.
INTERFACE_SCRIPTS = {
    "hcaptcha": "/1/api.js",
    "turnstile": "/turnstile/v0/api.js",
    "recaptcha": "/recaptcha/api.js",
}


def payload(url: str, script: str = "/1/api.js") -> dict[str, Any]:
    """The widget's page path, gzip, as a page pays it: the interface's script, the frame
    document, the files it names (frame.css, frame.js), the SHA-256 worker, and one locale.
    English is built into frame.js (no locale file); every other language adds its file. The
    largest is named."""
    parts: dict[str, int] = {}
    frame_js = ""
    parts[script] = _wire(url + script)[1]
    frame, parts["/1/frame"] = _wire(url + "/1/frame")
    for m in re.finditer(r"static/frame\.[0-9a-f]{12}\.(?:css|js)", frame.decode()):
        body, parts["/1/" + m[0]] = _wire(f"{url}/1/{m[0]}")
        if m[0].endswith(".js"):
            frame_js = body.decode()
    worker = re.search(r"static/worker\.[0-9a-f]{12}\.js", frame_js)
    assert worker, "frame.js names no worker.js"
    parts["/1/" + worker[0]] = _wire(f"{url}/1/{worker[0]}")[1]
    listed = re.search(r'"([0-9a-f]{12}(?: [A-Za-z0-9-]+)+)"', frame_js)
    assert listed, "frame.js names no locales"
    digest, *codes = listed[1].split(" ")
    locales = {c: _wire(f"{url}/1/static/locales/{c}.{digest}.json")[1] for c in codes if c != "en"}
    english = sum(parts.values())
    largest = max(locales, key=lambda c: locales[c])
    return {
        "parts": parts,
        "english": english,
        "locales": locales,
        "largest": {"code": largest, "bytes": english + locales[largest]},
    }


def during(seconds: float, load_fn: Callable[[], Load], pid: int, out: Path) -> dict[str, Any]:
    """py-spy on the server while `load_fn` drives it."""
    box: dict[str, Load] = {}
    t = threading.Thread(target=lambda: box.update(r=load_fn()))
    t.start()
    time.sleep(0.5)
    raw = profile.record(pid, seconds, out)
    t.join()
    summary = profile.summarize(raw) if raw else {"samples": 0, "self": [], "inclusive": []}
    summary["raw"] = str(out.relative_to(ROOT)) if raw else None
    return summary


def http(plan: Plan, results: dict[str, Any]) -> None:
    log("ceiling: bare Starlette on uvicorn (1 worker, uvloop, httptools)")
    ceiling = servers.start_ceiling(WORK)
    small = WORK / "small-post.txt"
    small.write_text('{"sitekey":"8564c33e-e665-412e-ab43-278210c16cfa","host":"localhost"}\n')
    try:
        results["ceiling_get"] = repeated(
            plan, "ceiling GET", lambda s: load.wrk(ceiling.url + "/", s)
        )
        results["ceiling_post"] = repeated(
            plan,
            "ceiling POST",
            lambda s: load.wrk(
                ceiling.url, s, bodies=small, path="/post", ok_marker="success", reuse=True
            ),
        )
    finally:
        ceiling.stop()

    data_dir = WORK / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    # The defaults, as a deployment runs: adaptation and the counters on, the load's sources
    # spread over 131,072 /24s through a trusted X-Forwarded-For (one generator must not
    # escalate its own price). The site's base is 16 attempts a part (the default's 6 parts),
    # so that the pre-solved /1/solve bodies are priced right; one extra row has adaptation
    # off.
    parts = challenge.parts_for(settings.load(env={}).default_difficulty)
    site = prepare.add_site(data_dir, None, prepare.WORK_PER_PART * parts)
    fixed = prepare.add_site(data_dir, None, None, "--no-adaptive", name="fixed")
    solve_site = dataclasses.replace(site, difficulty=settings.load(env={}).default_difficulty)
    user_token = prepare.universal_setup(data_dir, site)
    ring = prepare.load_ring(data_dir)
    server = servers.start_passgate(WORK, data_dir, env=TRUST_LOOPBACK)
    url = server.url
    ch_body = WORK / "challenge-body.txt"
    ch_body.write_text(prepare.challenge_body(site) + "\n")
    fixed_body = WORK / "challenge-fixed-body.txt"
    fixed_body.write_text(prepare.challenge_body(fixed) + "\n")
    walked = [0]

    def spread() -> int:
        walked[0] += 150_000
        return walked[0]

    def solve_run(s: float, bodies: Path) -> Load:
        return load.wrk(
            url, s, bodies=bodies, path="/1/solve", ok_marker='"token"',
            xff_prefixes=PREFIXES, xff_offset=spread(),
        )  # fmt: skip

    def sv_run(s: float, bodies: Path) -> Load:
        return load.wrk(
            url, s, bodies=bodies, path="/siteverify", content_type=FORM, ok_marker=SV_OK
        )

    def sv_bodies(path: Path, n: int) -> Path:
        return prepare.siteverify_bodies(path, n, site, ring)

    def challenge_run(s: float, body: Path = ch_body) -> Load:
        return load.wrk(
            url, s, bodies=body, path="/1/challenge", ok_marker='"challenge"', reuse=True,
            xff_prefixes=PREFIXES, xff_offset=spread(),
        )  # fmt: skip

    uni_body = WORK / "universal-body.txt"
    uni_body.write_text(prepare.universal_body(site) + "\n")

    def universal_run(s: float, conns: int = load.CONNECTIONS) -> Load:
        assert user_token is not None
        return load.wrk(
            url,
            s,
            conns,
            bodies=uni_body,
            path="/api/wanda/hcaptcha/universal",
            ok_marker='"status":1',
            header=f"User-Token: {user_token}",
            collect_cost=True,
            reuse=True,
        )

    try:
        results["api_js"] = repeated(
            plan,
            "GET /1/api.js",
            lambda s: load.wrk(url + "/1/api.js", s, header="Accept-Encoding: gzip"),
        )
        results["challenge"] = repeated(plan, "POST /1/challenge", challenge_run)
        results["challenge_fixed"] = repeated(
            plan, "POST /1/challenge, adaptation off", lambda s: challenge_run(s, fixed_body)
        )
        results["solve"] = single_use(
            plan, "solve", lambda p, n: prepare.solution_bodies(p, n, solve_site, ring), solve_run
        )
        results["siteverify"] = single_use(plan, "siteverify", sv_bodies, sv_run)
        half = results["siteverify"]["rps"] / 2
        log(f"siteverify at half load (~{half:,.0f} req/s)")
        results["siteverify_half"] = at_rate(
            url, half, plan.seconds * 2, lambda n: sv_bodies(WORK / "half-bodies.txt", n)
        )
        if user_token is None:
            results["universal"] = None
            log("universal call: not available (no `passgate key`/`grant` commands)")
        else:
            results["universal"] = repeated(plan, "universal", universal_run)
            for r in results["universal"]["runs"]:
                if "cost_p50" not in r:
                    r["cost_p50"] = float("nan")
            results["universal"]["cost_p50_ms"] = statistics.median(
                r["cost_p50"] for r in results["universal"]["runs"]
            )
            one = universal_run(plan.seconds, conns=1)
            results["universal_c1"] = {**one.as_dict()}
        results["widget_bytes"] = transferred(url)
        results["widget_payload"] = {
            name: payload(url, script) for name, script in INTERFACE_SCRIPTS.items()
        }
        log("solver in headless Chromium")
        results["solver"] = solver(plan, url, fixed.sitekey)  # the default difficulty
        results["profiles"] = profiles(
            plan, results, server, sv_bodies, challenge_run, universal_run if user_token else None
        )
    finally:
        server.stop()
    # The ceiling again, after passgate's runs: on a shared machine the load of other work
    # drifts, so the quoted ceiling is the median of runs taken before and after.
    ceiling = servers.start_ceiling(WORK)
    try:
        load.wrk(ceiling.url + "/", plan.warmup)
        after = [load.wrk(ceiling.url + "/", plan.seconds) for _ in range(plan.repeats)]
    finally:
        ceiling.stop()
    before = results["ceiling_get"]["runs"]
    merged = summarize(after)
    all_runs = before + merged["runs"]
    results["ceiling_get"] = {
        "rps": statistics.median(r["ok_rps"] for r in all_runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in all_runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in all_runs),
        "failed": 0,
        "runs": all_runs,
    }
    log(f"ceiling GET after: {', '.join(f'{r.ok_rps:,.0f}' for r in after)} req/s")


def solver(plan: Plan, url: str, sitekey: str) -> dict[str, Any]:
    try:
        out = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "bench.solver",
                url,
                sitekey,
                str(plan.solves),
                str(plan.hash_seconds),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout
    except (subprocess.SubprocessError, OSError) as exc:
        err = getattr(exc, "stderr", "") or str(exc)
        log(f"solver failed: {err[-800:]}")
        return {"error": str(err)[-400:]}
    data: dict[str, Any] = json.loads(out)
    times = sorted(r["ms"] for r in data["solves"])
    if times:
        data["solve_median_ms"] = statistics.median(times)
        data["solve_p95_ms"] = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
        data["solves_ok"] = sum(1 for r in data["solves"] if r["ok"])
    return data


def profiles(
    plan: Plan,
    results: dict[str, Any],
    server: servers.Server,
    sv_bodies: Callable[[Path, int], Path],
    challenge_run: Callable[[float], Load],
    universal_run: Callable[[float], Load] | None,
) -> dict[str, Any]:
    """Profile the endpoints whose targets are missed (the hottest first)."""
    ceiling = results["ceiling_get"]["rps"]
    out: dict[str, Any] = {}
    secs = plan.profile_seconds
    pid = server.proc.pid
    if results["siteverify"]["rps"] < 0.4 * ceiling or results["siteverify_half"]["p99_ms"] >= 10:
        bodies = sv_bodies(
            WORK / "profile-bodies.txt", math.ceil(results["siteverify"]["rps"] * (secs + 2) * 1.5)
        )
        out["siteverify"] = during(
            secs,
            lambda: load.wrk(
                server.url,
                secs + 1,
                bodies=bodies,
                path="/siteverify",
                content_type=FORM,
                ok_marker=SV_OK,
            ),
            pid,
            WORK / "profile-siteverify.txt",
        )
    if results["challenge"]["rps"] < 0.6 * ceiling:
        out["challenge"] = during(
            secs, lambda: challenge_run(secs + 1), pid, WORK / "profile-challenge.txt"
        )
    uni = results.get("universal_c1")
    if universal_run is not None and uni and uni.get("cost_p50", 0) >= 2:
        out["universal"] = during(
            secs, lambda: universal_run(secs + 1), pid, WORK / "profile-universal.txt"
        )
    return out


def primitives(plan: Plan, cap: Path | None, results: dict[str, Any]) -> None:
    log("primitives in-process: passgate, altcha, hashlib, openssl (core 1)")
    out = subprocess.run(  # noqa: S603
        servers.pinned(
            [
                sys.executable,
                "-m",
                "bench.primitives",
                str(plan.prim_seconds),
                str(plan.prim_repeats),
            ],
            servers.CLIENT_CORE,
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    results["primitives"] = json.loads(out)
    if cap is None:
        results["cap"] = {"error": "node/npm not available"}
        return
    log("@cap.js/server under Node (core 1)")
    state = WORK / "cap-state"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    try:
        node = subprocess.run(  # noqa: S603
            servers.pinned(
                [
                    "node",
                    str(ROOT / "bench" / "cap_peer.js"),
                    str(cap),
                    str(state),
                    str(plan.prim_seconds),
                    str(plan.prim_repeats),
                ],
                servers.CLIENT_CORE,
            ),
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout
        results["cap"] = json.loads(node.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        results["cap"] = {"error": str(exc)[-400:]}


def memory(plan: Plan, results: dict[str, Any]) -> None:
    from bench import memory as mem

    log(f"memory: {plan.memory_calls:,} siteverify calls on a fresh server")
    shutil.rmtree(WORK / "memory-data", ignore_errors=True)
    results["memory"] = mem.run(
        WORK, plan.memory_calls, results["siteverify"]["rps"], settle=not plan.quick
    )


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "-"


META = {"quick", "plan", "started", "machine", "loadavg_start", "loadavg_end", "seconds", "origin"}
ABUSE_PROFILE = "challenge with adaptation, by prefix"


def section_of(key: str) -> str:
    """The section a results key belongs to."""
    return {"primitives": "primitives", "cap": "primitives", "memory": "memory"}.get(
        key, key if key in ("abuse", "algorithm", "counters", "performance") else "http"
    )


def keep(results: dict[str, Any], sections: set[str]) -> None:
    """`--keep`: the sections this run did not measure, carried over from the last run's
    results.json (of the same mode), each key's origin noted for the report."""
    path = WORK / "results.json"
    if not path.exists():
        return
    old = json.loads(path.read_text())
    if old.get("quick") != results["quick"]:
        log("--keep: the last run was of the other mode; nothing carried over")
        return
    origin = results.setdefault("origin", {})
    for key, value in old.items():
        if key in META or key in results or section_of(key) in sections:
            continue
        results[key] = value
        origin[key] = old.get("origin", {}).get(key, old["started"])
    if "http" not in sections and old.get("profiles"):
        carried = {k: v for k, v in old["profiles"].items() if k != ABUSE_PROFILE}
        results["profiles"] = {**carried, **results.get("profiles", {})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (CI)")
    parser.add_argument(
        "--only",
        help="comma-separated sections: "
        "http,primitives,memory,abuse,algorithm,counters,performance",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="with --only: carry the other sections over from the last run (same mode)",
    )
    args = parser.parse_args(argv)
    plan = Plan.make(args.quick)
    sections = set(
        (args.only or "http,primitives,memory,abuse,algorithm,counters,performance").split(",")
    )
    started = time.time()
    WORK.mkdir(parents=True, exist_ok=True)
    cap = deps.ensure_all()
    from bench import report  # matplotlib may have just been installed

    results: dict[str, Any] = {
        "quick": plan.quick,
        "plan": plan.__dict__,
        "started": started,
        "machine": report.machine(),
        "loadavg_start": _loadavg(),
    }
    if "http" in sections:
        http(plan, results)
    if "primitives" in sections:
        primitives(plan, cap, results)
    if "memory" in sections and "siteverify" in results:
        memory(plan, results)
    if "abuse" in sections:
        from bench import abuse

        started_abuse = time.time()
        openssl_44 = results.get("primitives", {}).get("openssl_sha256_44B")
        results["abuse"] = abuse.run(WORK, plan.quick, openssl_44)
        results["abuse"]["seconds"] = time.time() - started_abuse
        prof = results["abuse"]["throughput"].pop("profile", None)
        if prof:
            results.setdefault("profiles", {})[ABUSE_PROFILE] = prof
        log(f"abuse section: {results['abuse']['seconds']:.0f} s")
    if "algorithm" in sections:
        from bench import algorithm

        started_alg = time.time()
        results["algorithm"] = algorithm.run(WORK, plan.quick)
        results["algorithm"]["seconds"] = time.time() - started_alg
        log(f"algorithm section: {results['algorithm']['seconds']:.0f} s")
    if "counters" in sections:
        from bench import counters

        started_counters = time.time()
        results["counters"] = counters.run(WORK, plan.quick)
        results["counters"]["seconds"] = time.time() - started_counters
        log(f"counters section: {results['counters']['seconds']:.0f} s")
    if "performance" in sections:
        from bench import scaling

        started_perf = time.time()
        results["performance"] = {
            "issued": scaling.issued(WORK, plan.quick),
            "mixed": scaling.mixed(WORK, plan.quick),
            "scaling": scaling.scaling(WORK, plan.quick),
        }
        results["performance"]["seconds"] = time.time() - started_perf
        log(f"performance section: {results['performance']['seconds']:.0f} s")
    results["seconds"] = time.time() - started
    results["loadavg_end"] = _loadavg()
    if args.keep:
        keep(results, sections)
    (WORK / "results.json").write_text(json.dumps(results, indent=1, default=str))
    report.write(results, ROOT)
    log(f"done in {results['seconds']:.0f} s: BENCHMARKS.md, docs/bench/*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

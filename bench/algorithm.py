# ruff: noqa: E501, S104, S310 - page scripts are JavaScript; loopback URLs only
"""The hardware-fair section of `make bench`: Argon2id (passgate.algorithms) against SHA-256.

One `passgate serve` on the embedded store (core 0), trusting 127.0.0.1 as a proxy, with two
sites at the defaults: `argon2` (--algorithm argon2id) and `sha256`. Measured:
- native attempts/s on one core (argon2-cffi, this process on the client core) and the
  widget's in Chromium (one module worker, /1/static/worker-argon2.js, on a part it cannot
  finish), for three parameter sets; their ratio;
- the server's check of a solution (`challenge.check` of solved default challenges, in
  process on one core) and `/1/solve` over HTTP;
- `/1/challenge` throughput on the two sites, interleaved, from 131,072 /24s;
- a person's first solve in Chromium (automation off, quiet prefixes); slow devices computed
  from the worker's attempt rate as the abuse section does (abuse_browser.slowed);
- the extra transfer (gzip) an Argon2id site's widget fetches, and the solver's memory: the
  resident memory Chromium gains while four Argon2id workers solve.
The GPU advantage is estimated from memory bandwidth (algorithm_report has the arithmetic).
"""

from __future__ import annotations

import gzip
import os
import shutil
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import abuse, abuse_browser, load, prepare, servers
from bench.solver import CHROMIUM, FLAGS
from passgate import algorithms, challenge
from passgate.signing import KeyRing

PARAMS = [(256, 1), (1024, 1), (4096, 1)]  # (m KiB, t): the chosen one is algorithms' own
ARGON2 = ("--algorithm", "argon2id")

RATE_JS = """
async ([seconds, m, t]) => {
  const w = new Worker('/1/static/worker-argon2.js', {type: 'module'});
  const warm = 1000, t0 = performance.now();
  let counted = 0, from = null, last = null;
  await new Promise((resolve, reject) => {
    w.onmessage = (e) => {
      if (e.data.type !== 'progress') { reject(new Error(JSON.stringify(e.data))); return; }
      const now = performance.now();
      if (now - t0 < warm) return;
      if (from === null) { from = now; return; }
      counted += e.data.hashes; last = now;
      if (now - from >= seconds * 1000) resolve();
    };
    w.postMessage({salt: '0123456789abcdef0123456789abcdef', part: 0, threshold: 1, m, t, p: 1});
  });
  w.terminate();
  return {attempts: counted, seconds: (last - from) / 1000};
}
"""

MEMORY_JS = """
async ([workers, seconds]) => {
  const pool = Array.from({length: workers}, () => new Worker('/1/static/worker-argon2.js', {type: 'module'}));
  pool.forEach((w) => w.postMessage({salt: '00112233445566778899aabbccddeeff', part: 0, threshold: 1, m: 1024, t: 1, p: 1}));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  pool.forEach((w) => w.terminate());
  return workers;
}
"""


def log(msg: str) -> None:
    print(f"[bench] algorithm: {msg}", file=sys.stderr, flush=True)


def native_rate(m: int, t: int, seconds: float) -> float:
    """Argon2id attempts/s on this process's core (argon2-cffi)."""
    from argon2.low_level import Type, hash_secret_raw

    salt, n, t0 = bytes(16), 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        hash_secret_raw(b"%032d" % n, salt, t, m, 1, 32, Type.ID)
        n += 1
    return n / (time.perf_counter() - t0)


def check_times(samples: int) -> dict[str, Any]:
    """`challenge.check` of solved default Argon2id challenges: what /1/solve spends on a
    solution, in ms (median, p95), and the same for SHA-256."""
    ring = KeyRing({"k": b"k" * 32}, "k")
    out: dict[str, Any] = {}
    for name in (algorithms.ARGON2ID, algorithms.SHA256):
        alg = algorithms.get(name)
        times = []
        for _ in range(samples):
            ch = challenge.issue(
                "sk", "localhost", alg.default_difficulty, time.time(), 300, algorithm=name
            )
            ch = challenge.decode(challenge.encode(ch, ring), ring, time.time())
            nonces = challenge.solve(ch)
            t0 = time.perf_counter()
            assert challenge.check(ch, nonces)
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = {
            "median_ms": statistics.median(times),
            "p95_ms": abuse_browser.percentile(times, 0.95),
            "parts": ch.parts,
            "difficulty": alg.default_difficulty,
        }
    return out


def throughput(url: str, sites: dict[str, str], seconds: float, pairs: int) -> dict[str, Any]:
    """/1/challenge on each site from another /24 each request; interleaved pairs, medians."""
    work = servers.ROOT / "bench" / ".work"
    bodies, offset = {}, dict.fromkeys(sites, 0)
    runs: dict[str, list[float]] = {name: [] for name in sites}
    for name, sitekey in sites.items():
        bodies[name] = work / f"algorithm-{name}-body.txt"
        bodies[name].write_text(f'{{"sitekey":"{sitekey}","host":"localhost","v":2}}\n')

    def once(name: str, secs: float) -> float:
        r = load.wrk(
            url, secs, bodies=bodies[name], path="/1/challenge", ok_marker='"challenge"',
            reuse=True, xff_prefixes=abuse.PREFIXES, xff_offset=offset[name],
        )  # fmt: skip
        offset[name] += r.requests
        return r.ok_rps

    for name in sites:
        once(name, 1)  # warm-up
    order = list(sites)
    for i in range(pairs):
        for name in order if i % 2 == 0 else order[::-1]:
            runs[name].append(once(name, seconds))
            log(f"/1/challenge {name}: {runs[name][-1]:,.0f} req/s")
    return {name: {"rps": statistics.median(rs), "runs": rs} for name, rs in runs.items()}


def transferred(url: str) -> dict[str, int]:
    """Gzip bytes of what only an Argon2id site's widget fetches."""
    sizes = {}
    for name in ("worker-argon2.js", "argon2.mjs", "argon2.wasm"):
        req = urllib.request.Request(f"{url}/1/static/{name}", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            body = resp.read()
            gz = resp.headers.get("Content-Encoding") == "gzip"
        sizes[name] = len(body) if gz else len(gzip.compress(body, 9))
    return sizes


def _chromium_rss() -> int:
    """Resident bytes of every Chromium process now."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"chromium" not in f.read(200):
                    continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def browser_side(url: str, seconds: float) -> dict[str, Any]:
    """The worker's attempt rate per parameter set, and the solver's memory."""
    import threading

    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {"rates": {}}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(url + "/")
            for m, t in PARAMS:
                r = page.evaluate(RATE_JS, [seconds, m, t])
                out["rates"][f"{m}/{t}"] = r["attempts"] / r["seconds"] if r["seconds"] else 0.0
            workers = 4
            before, peak = _chromium_rss(), 0
            stop = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not stop.is_set():
                    peak = max(peak, _chromium_rss())
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                page.evaluate(MEMORY_JS, [workers, 2])
            finally:
                stop.set()
                sampler.join()
            out["memory"] = {"workers": workers, "bytes": max(0, peak - before)}
            out["browser"] = f"Chromium {browser.version}"
        finally:
            browser.close()
    return out


def run(work: Path, quick: bool) -> dict[str, Any]:
    data = work / "algorithm-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    argon = prepare.add_site(data, None, None, *ARGON2, name="argon2")
    sha = prepare.add_site(data, None, None, "--algorithm", "sha256", name="sha256")
    alg = algorithms.get(algorithms.ARGON2ID)
    out: dict[str, Any] = {"params": alg.params, "default": alg.default_difficulty}
    seconds = 1.0 if quick else 2.0
    with abuse.on_client_core():
        out["native"] = {f"{m}/{t}": native_rate(m, t, seconds) for m, t in PARAMS}
        out["check"] = check_times(5 if quick else 30)
    log(f"native {out['native']}, check {out['check'][algorithms.ARGON2ID]['median_ms']:.2f} ms")
    server = servers.start_passgate(work, data, "passgate-algorithm", env=abuse.TRUST_LOOPBACK)
    try:
        out["transfer"] = transferred(server.url)
        out["throughput"] = throughput(
            server.url, {"argon2": argon.sitekey, "sha256": sha.sitekey},
            2 if quick else 5, 1 if quick else 3,
        )  # fmt: skip
        try:
            out["widget"] = browser_side(server.url, seconds)
            people = abuse_browser.run(
                server.url,
                [{"name": "argon2", "automation": False, "sitekey": argon.sitekey,
                  "ips": [f"10.{60 + k}.1.7" for k in range(3 if quick else 15)]}],
                0.5,
            )  # fmt: skip
            out["people"] = people_times(
                people["argon2"], out["widget"]["rates"], people["workers"]
            )
        except Exception as exc:  # noqa: BLE001 - no browser: its rows say so
            out["widget_error"] = f"{type(exc).__name__}: {exc}"[:300]
            log(out["widget_error"])
    finally:
        server.stop()
    return out


def people_times(runs: list[dict[str, Any]], rates: dict[str, float], cores: int) -> dict[str, Any]:
    """A person's first solves as measured, and on slow devices as computed."""
    done = [r for r in runs if r["ms"] is not None and r["error"] is None]
    out: dict[str, Any] = {"runs": runs}
    alg = algorithms.get(algorithms.ARGON2ID)
    rate = rates.get(f"{alg.params['m']}/{alg.params['t']}", 0.0)
    if not done or not rate:
        return out
    first = done[0]
    workers = max(1, min(cores, 4, first["parts"]))  # frame.js: min(cores, 4, parts)
    pool = rate * workers
    rest = [max(0.0, r["ms"] - 1000 * r["parts"] * 2**32 / r["threshold"] / pool) for r in done]
    out["median_ms"] = statistics.median(r["ms"] for r in done)
    out["p95_ms"] = abuse_browser.percentile([r["ms"] for r in done], 0.95)
    out["workers"] = workers
    out["slowed"] = {
        f"{s}x": abuse_browser.slowed(rate, workers, s, first["parts"], first["threshold"], rest)
        for s in (4, 6)
    }
    return out

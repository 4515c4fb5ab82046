"""People and stock automation in headless Chromium, for the abuse bench: the widget as a
site embeds it, one solve per page load, each from the prefix the test names (sent as
X-Forwarded-For by Playwright with every request of the context, the frame's and its
workers' included).

A solve is timed in the page, from the frame's `open` message (sent as the click starts the
check) to the token callback. Before clicking, the pointer rests on the checkbox for
HOVER_MS, as a person's does: the widget starts its workers on hover.

Slow devices are computed, not throttled: DevTools CPU throttling slows a page's main thread,
not its workers, so it would not slow the proof of work. `slowed` takes the widget worker's
measured attempt rate divided by the slowdown, times attempts drawn from the puzzle's
distribution, plus the measured rest of each solve times the slowdown.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterable
from typing import Any

from tests.browser import PageServer

from bench.solver import CHROMIUM, FLAGS, HASH_RATE_JS

HOVER_MS = 500
AUTOMATION_OFF = ["--disable-blink-features=AutomationControlled"]

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>site</title>
<script>
window.events = [];
function onOpen() { events.push(['open', performance.now()]); }
function onPass(t) { events.push(['token', performance.now(), t]); }
function onFail(e) { events.push(['error', performance.now(), String(e)]); }
</script>
<script src="{url}/1/api.js" async defer></script></head><body>
<div class="h-captcha" data-sitekey="{sitekey}" data-callback="onPass"
  data-open-callback="onOpen" data-error-callback="onFail"></div></body></html>"""


def launch(pw: Any, automation: bool) -> Any:
    """Stock Playwright Chromium (navigator.webdriver true), or with the automation flags off
    (no --enable-automation, AutomationControlled disabled): what a person's browser shows."""
    if automation:
        return pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
    return pw.chromium.launch(
        executable_path=CHROMIUM,
        args=FLAGS + AUTOMATION_OFF,
        ignore_default_args=["--enable-automation"],
        headless=True,
    )


def solve_once(context: Any, page_url: str, ip: str) -> dict[str, Any]:
    """One page load from `ip`, the checkbox hovered then clicked; the time to the token."""
    context.set_extra_http_headers({"X-Forwarded-For": ip})
    page = context.new_page()
    issued: list[Any] = []
    page.on("response", lambda r: issued.append(r) if r.url.endswith("/1/challenge") else None)
    try:
        page.goto(page_url)
        box = page.frame_locator("iframe").first.locator("#box")
        box.hover()
        page.wait_for_timeout(HOVER_MS)
        box.click()
        page.wait_for_function(
            "window.events.some(e => e[0] === 'token' || e[0] === 'error')", timeout=120_000
        )
        events = page.evaluate("window.events")
        frame = next(f for f in page.frames if "/1/frame" in f.url)
        webdriver = frame.evaluate("navigator.webdriver")
        challenges = [r.json() for r in issued]
    finally:
        page.close()
    opened = next((e[1] for e in events if e[0] == "open"), None)
    done = next(e for e in events if e[0] in ("token", "error"))
    last = challenges[-1] if challenges else {}
    return {
        "ip": ip,
        "ms": None if opened is None else done[1] - opened,
        "token": done[2] if done[0] == "token" else None,
        "error": done[2] if done[0] == "error" else None,
        "difficulty": last.get("difficulty"),
        "parts": last.get("parts"),
        "threshold": last.get("threshold"),
        "challenges": len(challenges),
        "webdriver": webdriver,
    }


def run(
    url: str,
    jobs: Iterable[dict[str, Any]],
    hash_seconds: float,
    before: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Each job {name, sitekey, ips, automation}: one solve a prefix, in a browser of its kind
    (one browser of each kind, one context a job). `before(job name, ip)` runs before each
    solve (the bench seeds a prefix's history there). Also the widget worker's attempt rate
    (bench.solver's measurement) in the browser with automation off."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    pages = PageServer()  # the site: another loopback origin than passgate's
    with sync_playwright() as pw:
        browsers = {False: launch(pw, False), True: launch(pw, True)}
        try:
            out["browser"] = f"Chromium {browsers[False].version}"
            for job in jobs:
                html = PAGE.replace("{url}", url).replace("{sitekey}", job["sitekey"])
                page_url = pages.add(f"/{job['name']}", html)
                context = browsers[bool(job["automation"])].new_context()
                try:
                    runs = []
                    for ip in job["ips"]:
                        if before is not None:
                            before(job["name"], ip)
                        runs.append(solve_once(context, page_url, ip))
                    out[job["name"]] = runs
                finally:
                    context.close()
            page = browsers[False].new_page()
            page.goto(url + "/")
            rate = page.evaluate(HASH_RATE_JS, [hash_seconds])
            out["worker_rate"] = rate["hashes"] / rate["seconds"] if rate["seconds"] else 0.0
            out["workers"] = page.evaluate("Math.min(navigator.hardwareConcurrency || 2, 4)")
            page.close()
        finally:
            for b in browsers.values():
                b.close()
            pages.close()
    return out


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0-1) by the nearest rank."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def slowed(
    worker_rate: float,
    workers: int,
    slowdown: float,
    parts: int,
    threshold: int,
    rest_ms: list[float],
    draws: int = 20_000,
    seed: int = 1,
) -> dict[str, float]:
    """Solve times (ms) on a device `slowdown` times slower. Per draw: each part's attempts
    from the puzzle's geometric distribution (success chance threshold / 2^32 an attempt),
    dealt to the widget's `workers` as frame.js deals them (the next part to the first
    worker free), each at worker_rate / slowdown; plus a measured rest of a solve (its time
    less its expected attempts at the warm rate: requests, messages, and the workers' first
    unoptimised moments) times the slowdown."""
    rng = random.Random(seed)
    log_q = math.log1p(-threshold / 2**32)
    per_ms = worker_rate / slowdown / 1000
    times = []
    for _ in range(draws):
        free = [0.0] * workers
        for _ in range(parts):
            attempts = math.floor(math.log(1.0 - rng.random()) / log_q) + 1
            w = free.index(min(free))
            free[w] += attempts / per_ms
        times.append(max(free) + slowdown * rng.choice(rest_ms))
    return {
        "median_ms": statistics.median(times),
        "p95_ms": percentile(times, 0.95),
        "expected_attempts": parts * 2**32 / threshold,
        "draws": draws,
    }

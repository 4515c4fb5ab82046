"""Signals -> a risk score and its reasons. Pure.

`score` runs from 0.0 (no risk) to 1.0 (certain bot), hCaptcha's direction. Each signal
gives a risk of its own; they combine as independent evidence, 1 - prod(1 - risk). The
reasons name each signal that contributed, from the fixed list in `REASONS`
(docs/abuse.md describes each).

Only what passgate sees itself weighs much: the source's solve velocity, the time from the
signed issue to the solve against the fastest a browser could do the work, and the source's
open challenges. Markers the widget reports (`navigator.webdriver` and a few that only
automation sets) are hints: alone they score 0.55, never 0.7.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

REASONS = {
    "proof_of_work": "the token was earned by solving a challenge in the widget",
    "allowlisted": "the source is on the site's allow-list: no risk signal is applied",
    "prefix_velocity": "many recent solves from the client's network prefix",
    "network_velocity": "many recent solves from the wider network around the prefix",
    "open_challenges": "the prefix fetched many more challenges than it solved",
    "fast_solve": "solved faster than any browser could do the work",
    "automation_webdriver": "the browser reports navigator.webdriver (it is automated)",
    "automation_marker": "the page carries a marker only automation tools set",
    "sha256_fallback": "solved through the site's SHA-256 fallback, the door a GPU prefers",
    "untracked_source": "the counters were full: the source's history could not be kept",
}

# The markers the widget may report; anything else is ignored.
MARKERS = ("webdriver", "selenium", "phantom", "nightmare", "cdc")
MARKER_RISK = 0.55  # one or several: a hint, never enough for 0.7 alone

# The parent's solves, as they weigh on the score: a hot prefix stops feeding its parent past
# abuse.counters.SPREAD solves, so the parent's load is spread over networks: 16 of them in a
# minute (two prefixes' worth) reach 0.7.
NETWORK_WEIGHT = 1.0 / 2
FASTEST_BROWSER_RATE = 60_000_000  # SHA-256 hashes/s (passgate.algorithms has each one's)
FAST_SOLVE_RISK = 0.75
FALLBACK_RISK = 0.2
UNTRACKED_RISK = 0.7  # a browser without WebAssembly is rare, and a GPU farm's favourite
QUANTILE_Z = 2.326  # the 1% quantile of the solve time's distribution


@dataclass(frozen=True)
class Signals:
    """What is known about one solve. Loads are decayed solve counts, this one included."""

    prefix_load: float = 0.0
    parent_load: float = 0.0
    open_challenges: float = 0.0
    solve_ms: float | None = None  # server-measured, signed issue -> solve
    difficulty: int = 0
    parts: int = 1
    markers: frozenset[str] = field(default_factory=frozenset)
    allowlisted: bool = False
    fastest_rate: float = FASTEST_BROWSER_RATE  # attempts/s of the challenge's algorithm
    fallback: bool = False  # solved through the site's SHA-256 fallback
    untracked: bool = False  # the counters were full: nothing is known of the source


def velocity_risk(load: float) -> float:
    """0 up to 3 recent solves, 0.7 at 8, rising to 0.9 at 30 and over."""
    if load <= 3:
        return 0.0
    if load <= 8:
        return 0.7 * (load - 3) / 5
    return min(0.9, 0.7 + 0.2 * (load - 8) / 22)


def open_risk(unsolved: float) -> float:
    """0 up to 10 challenges fetched and not solved, 0.7 at 30, 0.8 at 100 and over."""
    if unsolved <= 10:
        return 0.0
    if unsolved <= 30:
        return 0.7 * (unsolved - 10) / 20
    return min(0.8, 0.7 + 0.1 * (unsolved - 30) / 70)


def fastest_ms(difficulty: int, parts: int, rate: float = FASTEST_BROWSER_RATE) -> float:
    """The fastest a browser could solve this challenge (ms): the 1% quantile of the
    attempts drawn (a sum of `parts` geometric draws, by Wilson-Hilferty) at `rate`
    attempts/s."""
    k = max(1, parts)
    low = k * max(0.0, 1 - 1 / (9 * k) - QUANTILE_Z * math.sqrt(1 / (9 * k))) ** 3
    return difficulty * (low / k) / rate * 1000


def score(s: Signals) -> tuple[float, list[str]]:
    """(score, reasons) for a widget token; the score has two decimals."""
    reasons = ["proof_of_work"]
    if s.allowlisted:
        return 0.0, [*reasons, "allowlisted"]
    risks: list[tuple[str, float]] = [
        ("prefix_velocity", velocity_risk(s.prefix_load)),
        ("network_velocity", velocity_risk(NETWORK_WEIGHT * s.parent_load)),
        ("open_challenges", open_risk(s.open_challenges)),
    ]
    if s.solve_ms is not None and s.solve_ms < fastest_ms(s.difficulty, s.parts, s.fastest_rate):
        risks.append(("fast_solve", FAST_SOLVE_RISK))
    if s.fallback:
        risks.append(("sha256_fallback", FALLBACK_RISK))
    if s.untracked:  # fail closed: an unknown volume is treated as a high one
        risks.append(("untracked_source", UNTRACKED_RISK))
    safe = 1.0
    for code, risk in risks:
        if risk > 0:
            reasons.append(code)
            safe *= 1 - risk
    known = s.markers & set(MARKERS)
    if known:  # one hint however many markers: together they still say "automated"
        safe *= 1 - MARKER_RISK
        if "webdriver" in known:
            reasons.append("automation_webdriver")
        if known - {"webdriver"}:
            reasons.append("automation_marker")
    return round(1 - safe, 2), reasons

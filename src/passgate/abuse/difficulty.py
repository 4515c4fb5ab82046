"""The curve: a source's recent solves -> the difficulty of its next challenge. Pure.

History is a decaying count: each solve adds 1, and the count decays as exp(-age / TAU).
A prefix's *load* is its own count plus PARENT_WEIGHT times its parent's, and its
challenges cost

    base * (1 + (load / KNEE) ** POWER), never below base, never above the site's cap.

With TAU = 60 s, n solves within a minute leave a load between 0.63 n (spread evenly)
and n (in a burst): d(10) / d(1) = 1.72, d(1000) / d(1) >= 166. A source that stops is back
under 2x base once its load is under KNEE, within 5 minutes of even a 100,000-a-minute
attack. Difficulties are expected hashes of the site's algorithm.
"""

from __future__ import annotations

import math

from passgate import algorithms

TAU = 60.0  # seconds: the mean lifetime of one solve's weight
KNEE = 12.0  # the load at which the price has doubled
POWER = 1.3
PARENT_WEIGHT = 1.0 / 8  # how much the parent's load counts towards a prefix's
UNDERPRICED = 2.0  # a solution whose challenge cost under 1/2 of today's price is renewed

# SHA-256's default cap: ~10 s for a slow device (passgate.algorithms has each one's).
DEFAULT_MAX_DIFFICULTY = algorithms.get(algorithms.SHA256).default_cap


def decay(count: float, since: float, now: float) -> float:
    """A decaying count `count` as of `since` (seconds), seen at `now`."""
    if now <= since:
        return count
    return count * math.exp(-(now - since) / TAU)


def load(prefix: float, parent: float) -> float:
    """A prefix's load: its own decayed solves plus a share of its parent's."""
    return max(0.0, prefix) + PARENT_WEIGHT * max(0.0, parent)


def multiplier(load_: float) -> float:
    """The price multiple of base for a load (1.0 when quiet)."""
    return 1.0 + math.pow(max(0.0, load_) / KNEE, POWER)


def price(base: int, cap: int, prefix: float, parent: float) -> int:
    """The difficulty (expected hashes) of the next challenge for a source."""
    cap = max(base, cap)
    return min(cap, max(base, round(base * multiplier(load(prefix, parent)))))


def underpriced(paid: int, base: int, cap: int, prefix: float, parent: float) -> bool:
    """True when a challenge that cost `paid` is now far below the source's price: it was
    fetched before the source's own solves raised it (prefetched in bulk), so the widget
    must fetch a fresh one. Never true at the cap."""
    due = price(base, cap, prefix, parent)
    return paid < cap and paid * UNDERPRICED < due


def cap_load(base: int, cap: int) -> float:
    """The load at which the curve meets the cap."""
    if cap <= base:
        return 0.0
    return KNEE * math.pow(cap / base - 1, 1 / POWER)

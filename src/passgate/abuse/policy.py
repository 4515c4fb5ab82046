"""The decisions the widget endpoints make per request: the price of a challenge for the
client asking (`quote`), and, at the solve, the charge, the checks that send the widget for
a fresh challenge (`Renew`), and the score (`judge`). Pure logic lives in difficulty and
score; this module brings it together with the counters and the site's settings.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from passgate import algorithms
from passgate.abuse import difficulty, prefix, score
from passgate.abuse.counters import Counters, Full, History
from passgate.challenge import Challenge
from passgate.sites import Site
from passgate.store import StoreUnavailable


class Renew(Exception):
    """The solution cannot be accepted through no fault of a person: the widget fetches a
    fresh challenge (the endpoint answers `challenge-error` with `renew`)."""


@dataclass(frozen=True)
class Quote:
    difficulty: int  # expected hashes
    source: prefix.Source


@dataclass(frozen=True)
class Verdict:
    score: float
    reasons: tuple[str, ...]


def source_of(key: bytes, site: Site, ip: str) -> prefix.Source:
    return prefix.source(key, ip, site.prefix_v4, site.prefix_v6)


async def quote(
    counters: Counters, key: bytes, site: Site, ip: str, now: float, algorithm: str = ""
) -> Quote:
    """The difficulty of a challenge of `algorithm` (the site's own by default) for `ip`:
    the base when adaptation is off or the address is allow-listed; else the curve over the
    source's history. A store that cannot answer, or counters too full to track a new
    source, give the cap: a store outage never opens the gate."""
    base, cap = site.pricing(algorithm or site.algorithm)
    src = source_of(key, site, ip)
    if prefix.allowed(ip, site.allowlist):
        return Quote(base, src)
    counters.issued(src)
    if not site.adaptive:
        return Quote(base, src)
    try:
        mine, parent = await counters.read(src, now)
    except StoreUnavailable:
        return Quote(cap, src)
    if counters.full and mine.solved == 0 and mine.issued == 0:
        return Quote(cap, src)
    return Quote(difficulty.price(base, cap, mine.solved, parent.solved), src)


async def judge(
    counters: Counters,
    key: bytes,
    site: Site,
    ch: Challenge,
    ip: str,
    markers: frozenset[str],
    now: float,
) -> Verdict:
    """Charge the solve to its source and score it. Raises Renew when the solution comes
    from another network than the challenge was issued to, or when its challenge is far
    below the source's price now (fetched in bulk before the source's solves raised it);
    StoreUnavailable when the counters cannot take the charge (fail closed)."""
    src = source_of(key, site, ip)
    if ch.prefix and not hmac.compare_digest(ch.prefix, src.prefix):
        raise Renew("the challenge was issued to another network")
    if prefix.allowed(ip, site.allowlist):  # trusted: neither charged nor scored
        return Verdict(*_scored(score.Signals(allowlisted=True)))
    base, cap = site.pricing(ch.algorithm)
    untracked = False
    try:
        mine, parent = await counters.charge(src, now)
    except Full:
        if site.adaptive and ch.difficulty < cap:
            raise Renew("the source cannot be tracked: it pays the site's cap") from None
        mine, parent, untracked = History(1.0), History(1.0), True
    if site.adaptive:
        before = (mine.solved - 1, parent.solved - 1)
        if difficulty.underpriced(ch.difficulty, base, cap, *before):
            raise Renew("the source's price rose since this challenge was issued")
    # a negative interval is clock skew between nodes: unknown, not fast
    elapsed = None if ch.issued_ms is None else now * 1000 - ch.issued_ms
    solve_ms = elapsed if elapsed is not None and elapsed >= 0 else None
    value, reasons = _scored(
        score.Signals(
            prefix_load=mine.solved,
            parent_load=parent.solved,
            open_challenges=mine.unsolved,
            solve_ms=solve_ms,
            difficulty=ch.difficulty,
            parts=ch.parts,
            markers=markers,
            fastest_rate=algorithms.get(ch.algorithm).fastest_browser_rate,
            fallback=ch.algorithm != site.algorithm,
            untracked=untracked,
        )
    )
    return Verdict(value, reasons)


def _scored(signals: score.Signals) -> tuple[float, tuple[str, ...]]:
    value, reasons = score.score(signals)
    return value, tuple(reasons)


def markers_of(data: object) -> frozenset[str] | None:
    """The automation markers a `/1/solve` body reports: an object of booleans, keys from
    score.MARKERS (others are ignored). None when it is not such an object."""
    if data is None:
        return frozenset()
    if not isinstance(data, dict) or len(data) > 32:
        return None
    if not all(isinstance(v, bool) for v in data.values()):
        return None
    return frozenset(k for k, v in data.items() if v and k in score.MARKERS)

"""Counters of what passgate does, per site per minute: recorded in each process without I/O
(`Stats`), flushed additively to the relational store (store.stats), and read back as one
summary for `passgate stats` and the console (`summarize`). docs/observability.md.

A count is a row (minute, sitekey, metric, label, n). The metrics and their labels:

    issued      band: "1x" "2x" "8x" "32x" "above" "cap" (difficulty ÷ the site's base)
    solved      ""
    solve_time  the histogram bucket's upper bound in seconds ("0.05" ... "300", "inf")
    solve_ms    "" (the sum of solve times, ms)
    verify      "INTERFACE:OUTCOME": "hcaptcha:success", "hcaptcha:already-seen-response"
    verified    the successes by who earned the token: "widget" or "key:NAME"
    replay      INTERFACE: refused because the token was already spent
    tokenapi    "NAME:OUTCOME": token-API calls by key ("ok" is a token minted)

The sitekey is "" where no site was known (a siteverify with an unknown secret).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

MINUTE = 60
HOUR = 3600
BANDS = ("1x", "2x", "8x", "32x", "above", "cap")
SOLVE_BUCKETS = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
    3.0,
    5.0,
    8.0,
    13.0,
    20.0,
    30.0,
    60.0,
    120.0,
    300.0,
)
BUCKET_LABELS = tuple(f"{b:g}" for b in SOLVE_BUCKETS) + ("inf",)
WIDGET = "widget"
UNKNOWN_KEY = "(unknown key)"  # token-API calls by no recognised key
MAX_SINCE = 10 * 365 * 86400

Key = tuple[int, str, str, str]  # (minute start, sitekey, metric, label)


def band(difficulty: int, base: int, cap: int) -> str:
    """The difficulty band of a challenge relative to its site's base (expected hashes)."""
    if difficulty >= cap > base:
        return "cap"
    ratio = difficulty / max(1, base)
    if ratio <= 1:
        return "1x"
    if ratio <= 2:
        return "2x"
    if ratio <= 8:
        return "8x"
    if ratio <= 32:
        return "32x"
    return "above"


def solve_bucket(seconds: float) -> str:
    for bound, label in zip(SOLVE_BUCKETS, BUCKET_LABELS, strict=False):
        if seconds <= bound:
            return label
    return "inf"


class Stats:
    """One process's counts since its last flush. Every method is a few dictionary updates,
    inline on the hot endpoints; the flush (store.stats.flush) happens off their path.

    `counting` False makes every method return at once (no counters and no metrics);
    `storing` False keeps the counts for the Prometheus metrics only (PASSGATE_STATS=off);
    `on_solve`, when set, sees each solve time (the metrics' multiprocess mode)."""

    def __init__(
        self,
        counting: bool = True,
        storing: bool = True,
        on_solve: Callable[[float], None] | None = None,
    ) -> None:
        self.counting = counting
        self.storing = storing
        self.on_solve = on_solve
        self.pending: dict[Key, int] = {}
        self.unsaved: dict[Key, int] = {}  # drained, but a flush could not store them yet

    def _add(self, now: float, sitekey: str, metric: str, label: str, n: int = 1) -> None:
        key = (int(now) // MINUTE * MINUTE, sitekey, metric, label)
        pending = self.pending
        pending[key] = pending.get(key, 0) + n

    def issued(self, sitekey: str, difficulty: int, base: int, cap: int, now: float) -> None:
        """A challenge issued at `difficulty` expected hashes to a site of that base and cap."""
        if self.counting:
            self._add(now, sitekey, "issued", band(difficulty, base, cap))

    def solved(self, sitekey: str, issued_ms: int | None, now: float) -> None:
        """A challenge solved; its solve time runs from its signed issue time (`issued_ms`,
        unix ms; None on the previous release's challenges, which carry none) to `now`."""
        if not self.counting:
            return
        self._add(now, sitekey, "solved", "")
        if issued_ms is not None:
            seconds = max(0.0, now - issued_ms / 1000)
            self._add(now, sitekey, "solve_time", solve_bucket(seconds))
            self._add(now, sitekey, "solve_ms", "", round(seconds * 1000))
            if self.on_solve is not None:
                self.on_solve(seconds)

    def verified(
        self, interface: str, sitekey: str, outcome: str, source: str, now: float, earned: str = ""
    ) -> None:
        """A siteverify at `interface` answered `outcome` ("success" or its first error
        code); for a successful token, `source` is who earned it ("widget" or "key:NAME") and
        `earned` the interface whose widget or call earned it, else both are ""."""
        if not self.counting:
            return
        minute = int(now) // MINUTE * MINUTE
        pending = self.pending
        key = (minute, sitekey, "verify", interface + ":" + outcome)
        pending[key] = pending.get(key, 0) + 1
        if source:
            key = (minute, sitekey, "verified", source)
            pending[key] = pending.get(key, 0) + 1
        if earned:
            key = (minute, sitekey, "earned", earned)
            pending[key] = pending.get(key, 0) + 1

    def replay(self, interface: str, sitekey: str, now: float) -> None:
        """A verification refused because its token was already spent."""
        if self.counting:
            self._add(now, sitekey, "replay", interface)

    def tokenapi(self, key: str | None, sitekey: str, outcome: str, now: float) -> None:
        """A token-API call by `key` (None when no key was recognised) that ended `outcome`."""
        if self.counting:
            self._add(now, sitekey, "tokenapi", f"{key or ''}:{outcome}")

    def drain(self) -> dict[Key, int]:
        """Take the counts since the last drain, leaving none."""
        taken, self.pending = self.pending, {}
        return taken

    def to_store(self, fresh: dict[Key, int]) -> dict[Key, int]:
        """What the next flush writes: `fresh` (just drained) and what a failed flush left;
        call `keep` with it when the flush fails, so that nothing is lost."""
        if not self.unsaved:
            return fresh
        merged, self.unsaved = self.unsaved, {}
        for key, n in fresh.items():
            merged[key] = merged.get(key, 0) + n
        return merged

    def keep(self, counts: dict[Key, int]) -> None:
        for key, n in counts.items():
            self.unsaved[key] = self.unsaved.get(key, 0) + n


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    start: int  # unix seconds at the bucket's start
    span: int  # MINUTE or HOUR
    sitekey: str
    metric: str
    label: str
    n: int


def _percentile(buckets: dict[str, int], q: float) -> float | None:
    """The q-quantile of a solve-time histogram, interpolated within its bucket as
    Prometheus's histogram_quantile does; the last finite bound when it lies in "inf"."""
    total = sum(buckets.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for bound, label in zip(SOLVE_BUCKETS, BUCKET_LABELS, strict=False):
        count = buckets.get(label, 0)
        if count and seen + count >= rank:
            return round(lower + (bound - lower) * (rank - seen) / count, 3)
        seen += count
        lower = bound
    return SOLVE_BUCKETS[-1]


def _site_summary(rows: list[Row], now: float, lifetime: int) -> dict[str, Any]:
    issued = solved = settled_issued = settled_solved = replays = 0
    bands = dict.fromkeys(BANDS, 0)
    times: dict[str, int] = {}
    solve_ms = 0
    verify: dict[str, dict[str, int]] = {}
    verified: dict[str, int] = {}
    earned: dict[str, int] = {}  # verified tokens by the interface that earned them
    tokenapi: dict[str, dict[str, int]] = {}
    for r in rows:
        settled = r.start + r.span + lifetime <= now  # every challenge of it has expired
        if r.metric == "issued":
            issued += r.n
            settled_issued += r.n if settled else 0
            bands[r.label] = bands.get(r.label, 0) + r.n
        elif r.metric == "solved":
            solved += r.n
            settled_solved += r.n if settled else 0
        elif r.metric == "solve_time":
            times[r.label] = times.get(r.label, 0) + r.n
        elif r.metric == "solve_ms":
            solve_ms += r.n
        elif r.metric == "verify":
            interface, _, outcome = r.label.partition(":")
            codes = verify.setdefault(interface, {})
            codes[outcome] = codes.get(outcome, 0) + r.n
        elif r.metric == "verified":
            verified[r.label] = verified.get(r.label, 0) + r.n
        elif r.metric == "earned":
            earned[r.label] = earned.get(r.label, 0) + r.n
        elif r.metric == "replay":
            replays += r.n
        elif r.metric == "tokenapi":
            name, _, outcome = r.label.rpartition(":")
            name = name or UNKNOWN_KEY
            calls = tokenapi.setdefault(name, {})
            calls[outcome] = calls.get(outcome, 0) + r.n
    successes = sum(codes.get("success", 0) for codes in verify.values())
    failures: dict[str, int] = {}
    for codes in verify.values():
        for code, n in codes.items():
            if code != "success":
                failures[code] = failures.get(code, 0) + n
    widget = verified.get(WIDGET, 0)
    timed = sum(times.values())
    return {
        "challenges": {
            "issued": issued,
            "solved": solved,
            "expired": max(0, settled_issued - settled_solved),
        },
        "difficulty": bands,
        "siteverify": {
            "success": successes,
            "failed": sum(failures.values()),
            "failures": dict(sorted(failures.items(), key=lambda kv: -kv[1])),
            "by_interface": verify,
        },
        "replays": replays,
        "pass_rate": round(widget / issued, 4) if issued else None,
        "verified": {
            "widget": widget,
            "keys": {k[4:]: n for k, n in sorted(verified.items()) if k.startswith("key:")},
            "by_interface": dict(sorted(earned.items())),
        },
        "tokenapi": {
            name: {"minted": calls.get("ok", 0), "calls": sum(calls.values()), "outcomes": calls}
            for name, calls in sorted(tokenapi.items())
        },
        "solve_seconds": {
            "count": timed,
            "mean": round(solve_ms / timed / 1000, 3) if timed else None,
            "p50": _percentile(times, 0.5),
            "p95": _percentile(times, 0.95),
        },
    }


def summarize(
    rows: Iterable[Row], now: float, lifetime: int, since: float, until: float
) -> dict[str, Any]:
    """The counters over [since, until) as one report: every site's figures, and all sites
    together. `lifetime` is the challenge lifetime (seconds): a minute's challenges count as
    expired (issued − solved) only once that long has passed since its end.

    Shape: {"since", "until", "total": SITE, "sites": {sitekey: SITE}}, where SITE holds
    `challenges` {issued, solved, expired}, `difficulty` {band: n}, `siteverify`
    {success, failed, failures {code: n}, by_interface}, `replays`, `pass_rate` (widget
    successes ÷ challenges issued; None without challenges), `verified` {widget, keys},
    `tokenapi` {key: {minted, calls, outcomes}} and `solve_seconds` {count, mean, p50, p95}.
    """
    rows = list(rows)
    by_site: dict[str, list[Row]] = {}
    for r in rows:
        by_site.setdefault(r.sitekey, []).append(r)
    return {
        "since": since,
        "until": until,
        "total": _site_summary(rows, now, lifetime),
        "sites": {
            site: _site_summary(site_rows, now, lifetime)
            for site, site_rows in sorted(by_site.items())
        },
    }


def series(rows: Iterable[Row], step: int) -> list[dict[str, Any]]:
    """The counters bucketed by `step` seconds (a multiple of a minute), oldest first, for
    charts: {"t", "issued", "solved", "success", "failed", "replays", "minted"} per bucket.
    Buckets with no counts are left out."""
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        t = r.start // step * step
        b = out.setdefault(
            t,
            {
                "t": t,
                "issued": 0,
                "solved": 0,
                "success": 0,
                "failed": 0,
                "replays": 0,
                "minted": 0,
            },
        )
        if r.metric in ("issued", "solved"):
            b[r.metric] += r.n
        elif r.metric == "verify":
            b["success" if r.label.endswith(":success") else "failed"] += r.n
        elif r.metric == "replay":
            b["replays"] += r.n
        elif r.metric == "tokenapi" and r.label.endswith(":ok"):
            b["minted"] += r.n
    return [out[t] for t in sorted(out)]


def parse_since(text: str) -> float:
    """A duration such as `90s`, `15m`, `1h`, `7d` or `2w`, in seconds. Raises ValueError."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"not a duration: {text!r} (say 90s, 15m, 1h, 7d or 2w)")
    seconds = int(text[:-1]) * units[text[-1]]
    if not 0 < seconds <= MAX_SINCE:
        raise ValueError("the duration must be positive and at most ten years")
    return float(seconds)


def _site_lines(name: str, s: dict[str, Any]) -> list[str]:
    ch, sv, times = s["challenges"], s["siteverify"], s["solve_seconds"]
    rate = "-" if s["pass_rate"] is None else f"{s['pass_rate']:.1%}"
    lines = [
        f"{name}",
        f"  challenges   issued {ch['issued']}  solved {ch['solved']}  expired {ch['expired']}",
        f"  siteverify   success {sv['success']}  failed {sv['failed']}  "
        f"replays {s['replays']}  pass rate {rate}",
    ]
    if sv["failures"]:
        lines.append("  failures     " + "  ".join(f"{c} {n}" for c, n in sv["failures"].items()))
    if s["verified"]["by_interface"]:
        lines.append(
            "  earned by    "
            + "  ".join(f"{i} {n}" for i, n in s["verified"]["by_interface"].items())
        )
    if sv["by_interface"]:
        lines.append(
            "  interfaces   "
            + "  ".join(
                f"{name} {sum(codes.values())} ({codes.get('success', 0)} ok)"
                for name, codes in sorted(sv["by_interface"].items())
            )
        )
    if times["count"]:
        lines.append(
            f"  solve time   p50 {times['p50']} s  p95 {times['p95']} s  mean {times['mean']} s"
        )
    if ch["issued"]:
        lines.append(
            "  difficulty   " + "  ".join(f"{b} {n}" for b, n in s["difficulty"].items() if n)
        )
    for key, calls in s["tokenapi"].items():
        verified = s["verified"]["keys"].get(key, 0)
        lines.append(
            f"  key {key}  minted {calls['minted']} of {calls['calls']} calls, verified {verified}"
        )
    return lines


def render_text(report: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """A report (summarize) as text: all sites, then each site by name and sitekey."""
    names = names or {}
    lines = _site_lines("all sites", report["total"])
    for sitekey, s in report["sites"].items():
        label = f"{names[sitekey]} ({sitekey})" if names.get(sitekey) else sitekey or "(no site)"
        lines += ["", *_site_lines(label, s)]
    return "\n".join(lines)

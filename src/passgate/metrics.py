"""The Prometheus metrics, exported through prometheus-client on their own listener
(`--metrics-port`), never the public port. docs/observability.md lists every metric.

The counters are the per-site counts passgate.stats already keeps, so the hot endpoints count
each event once: a scrape adds up what was flushed since start (`drain`) and what is pending.
Request durations are bucketed here, without a lock (a locked prometheus-client value per
request cost the hot endpoints several percent of their CPU time). In multiprocess mode
(`multiprocess_dir`: several processes on one node), `sync()` adds the new counts into
prometheus-client's per-process files every second, durations go to those files directly,
and a scrape reads the sum over every process's files.

Label values come only from registered sites and authenticated keys (anything else is
`unknown`), at most `max_sites` sites per process (the rest are `other`), and never an
address, a token or a secret.
"""

from __future__ import annotations

import bisect
import logging
import os
import socket
import socketserver
import sys
import threading
import wsgiref.simple_server
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from passgate.stats import BUCKET_LABELS, SOLVE_BUCKETS, Key, Stats

log = logging.getLogger("passgate")

UNKNOWN = "unknown"
OTHER = "other"
UNMATCHED = "unmatched"  # the route label of a path no route matches
HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {  # name: (help, label names)
    "passgate_siteverify": (
        "siteverify answers by site, interface and outcome (success or the first error code).",
        ("site", "interface", "outcome"),
    ),
    "passgate_replays": (
        "Verifications refused because the token was already spent.",
        ("site", "interface"),
    ),
    "passgate_challenges": ("Challenges issued and solved.", ("site", "event")),
    "passgate_challenge_difficulty": (
        "Challenges issued by difficulty band relative to the site's base "
        "(1x, 2x, 8x, 32x, above, cap).",
        ("site", "band"),
    ),
    "passgate_verified": (
        "siteverify successes by who earned the token: widget (a person's proof of work) or "
        "key (the token API).",
        ("site", "source"),
    ),
    "passgate_tokenapi_calls": (
        "Token-API calls by key and outcome (ok: a token minted).",
        ("key", "outcome"),
    ),
}
SOLVE = ("passgate_solve_seconds", "Seconds from a challenge's signed issue time to its solve.")
HTTP = ("passgate_http_request_duration_seconds", "Request duration by route template.")
STORE_UP = ("passgate_store_up", "1 when the store answers, 0 when it does not.")

Total = tuple[str, str, str]  # (sitekey, metric, label) of passgate.stats, minutes summed


class MetricsError(Exception):
    """The listener could not start (its port is taken, or the directory is unusable)."""


class _Durations:
    """Bucket counts and a sum, added to without a lock (the event loop's thread only)."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(HTTP_BUCKETS) + 1)  # the last is +Inf
        self.total = 0.0


class Metrics:
    """The passgate_* metrics of one process, over its `stats`."""

    def __init__(
        self, stats: Stats, max_sites: int = 1000, multiprocess_dir: str | None = None
    ) -> None:
        self.stats = stats
        self.max_sites = max_sites
        self.multiprocess = bool(multiprocess_dir)
        self.directory = multiprocess_dir or ""
        self.http: dict[str, _Durations] = {}
        self.up: dict[str, float] = {}
        self._totals: dict[Total, int] = {}  # drained from stats since start
        self._synced: dict[tuple[str, ...], float] = {}
        self._sites: set[str] = set()
        self._lock = threading.Lock()  # drain against scrape: no count is seen twice or not at all
        self.registry = CollectorRegistry(auto_describe=True)
        if self.multiprocess:
            self._files = self._open_files(self.directory)
            stats.on_solve = self._files[SOLVE[0]].observe
        else:
            self.registry.register(_Collector(self))
            prometheus_client.ProcessCollector(registry=self.registry)
            prometheus_client.GCCollector(registry=self.registry)

    # -- on the hot paths ----------------------------------------------------------------------

    def request(self, route: str, seconds: float) -> None:
        """One HTTP request's duration, by route template."""
        if self.multiprocess:
            self._files[HTTP[0]].labels(route).observe(seconds)
            return
        d = self.http.get(route)
        if d is None:
            d = self.http[route] = _Durations()
        d.counts[bisect.bisect_left(HTTP_BUCKETS, seconds)] += 1
        d.total += seconds

    # -- off them ------------------------------------------------------------------------------

    def stores(self, up: Mapping[str, bool]) -> None:
        """Whether each store answers (the upkeep's ping)."""
        for store, ok in up.items():
            self.up[store] = 1.0 if ok else 0.0

    def drain(self) -> dict[Key, int]:
        """`stats.drain()`, the counts added to this process's totals in the same step."""
        with self._lock:
            fresh = self.stats.drain()
            totals = self._totals
            for (_minute, sitekey, metric, label), n in fresh.items():
                key = (sitekey, metric, label)
                totals[key] = totals.get(key, 0) + n
        return fresh

    def totals(self) -> dict[Total, int]:
        """Every count since start: drained and pending."""
        with self._lock:
            out = dict(self._totals)
            pending = dict(self.stats.pending)  # one C-level copy: the event loop may add
        for (_minute, sitekey, metric, label), n in pending.items():
            key = (sitekey, metric, label)
            out[key] = out.get(key, 0) + n
        return out

    def site(self, sitekey: str) -> str:
        """The `site` label of a registered site's sitekey ("" is `unknown`)."""
        if not sitekey:
            return UNKNOWN
        if sitekey in self._sites:
            return sitekey
        if len(self._sites) < self.max_sites:
            self._sites.add(sitekey)
            return sitekey
        return OTHER

    def counters(self, totals: Mapping[Total, int]) -> Iterator[tuple[str, tuple[str, ...], int]]:
        """The counter samples (name, label values, value) the totals make."""
        for (sitekey, metric, label), n in totals.items():
            if metric == "verify":
                interface, _, outcome = label.partition(":")
                yield "passgate_siteverify", (self.site(sitekey), interface, outcome), n
            elif metric == "issued":
                site = self.site(sitekey)
                yield "passgate_challenges", (site, "issued"), n
                yield "passgate_challenge_difficulty", (site, label), n
            elif metric == "solved":
                yield "passgate_challenges", (self.site(sitekey), "solved"), n
            elif metric == "verified":
                source = "key" if label.startswith("key:") else "widget"
                yield "passgate_verified", (self.site(sitekey), source), n
            elif metric == "replay":
                yield "passgate_replays", (self.site(sitekey), label), n
            elif metric == "tokenapi":
                key, _, outcome = label.rpartition(":")
                yield "passgate_tokenapi_calls", (key or UNKNOWN, outcome), n

    # -- multiprocess mode -------------------------------------------------------------------

    def _open_files(self, directory: str) -> dict[str, Any]:
        path = Path(directory)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MetricsError(f"metrics_dir {directory}: {exc}") from None
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
        # prometheus-client picks its value class from that variable when first imported;
        # set it here, so that the order of imports does not matter
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        r = self.registry
        files: dict[str, Any] = {
            name: Counter(name, help_, labels, registry=r)
            for name, (help_, labels) in COUNTERS.items()
        }
        files[SOLVE[0]] = Histogram(*SOLVE, buckets=SOLVE_BUCKETS, registry=r)
        files[HTTP[0]] = Histogram(*HTTP, ["route"], buckets=HTTP_BUCKETS, registry=r)
        files[STORE_UP[0]] = Gauge(
            *STORE_UP, ["store"], registry=r, multiprocess_mode="livemostrecent"
        )
        return files

    def sync(self) -> None:
        """In multiprocess mode, add the counts since the last sync to this process's files
        (the event loop calls it every second). A no-op otherwise."""
        if not self.multiprocess:
            return
        summed: dict[tuple[str, ...], int] = {}
        for name, labels, n in self.counters(self.totals()):
            key = (name, *labels)
            summed[key] = summed.get(key, 0) + n
        for key, n in summed.items():
            delta = n - self._synced.get(key, 0)
            if delta > 0:
                self._files[key[0]].labels(*key[1:]).inc(delta)
                self._synced[key] = n
        for store, up in self.up.items():
            self._files[STORE_UP[0]].labels(store).set(up)

    # -- exposition ----------------------------------------------------------------------------

    def exposition_registry(self) -> CollectorRegistry:
        """What a scrape reads: this process's metrics, or in multiprocess mode the sum over
        every process's files."""
        if not self.multiprocess:
            return self.registry
        summed = CollectorRegistry()
        multiprocess.MultiProcessCollector(summed, path=self.directory)  # type: ignore[no-untyped-call]
        return summed

    def render(self) -> bytes:
        """The metrics in the Prometheus text format (after a sync, in multiprocess mode)."""
        self.sync()
        return prometheus_client.generate_latest(self.exposition_registry())

    def listen(self, host: str, port: int) -> Any:
        """Serve this process's metrics (serve). Raises MetricsError."""
        return serve(host, port, self.exposition_registry())


def serve_directory(host: str, port: int, directory: str) -> Any:
    """Serve the sum of every process's metrics files in `directory` (multiprocess mode): the
    listener of `passgate serve --workers N`'s parent. Raises MetricsError."""
    summed = CollectorRegistry()
    multiprocess.MultiProcessCollector(summed, path=directory)  # type: ignore[no-untyped-call]
    return serve(host, port, summed)


def serve(host: str, port: int, registry: CollectorRegistry) -> Any:
    """Serve `GET /metrics` on host:port from a thread, through prometheus-client's WSGI app;
    every other path is 404. Returns the server, whose shutdown() stops it. A client that
    breaks its connection is logged as one line, without its address. Raises MetricsError."""
    if not 0 < port < 65536:
        raise MetricsError(f"metrics_port must be 1-65535, not {port}")
    metrics_app = prometheus_client.make_wsgi_app(registry)

    def only_metrics(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: the metrics are at /metrics\n"]
        return metrics_app(environ, start_response)

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("_MetricsServer", (_MetricsServer,), {"address_family": family})
    try:
        server: Any = wsgiref.simple_server.make_server(
            host, port, only_metrics, server_class, handler_class=_QuietHandler
        )
    except (OSError, OverflowError) as exc:
        raise MetricsError(f"cannot listen for metrics on {host}:{port}: {exc}") from None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """No access lines: scrapes are frequent, and the line would carry the address."""


class _MetricsServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken connection (a scanner, a reset) is one log line, not a traceback."""
        exc = sys.exc_info()[1]
        log.info("metrics listener: a request failed: %s", type(exc).__name__)


def _cumulative(bounds: Iterable[str], counts: Iterable[float]) -> list[tuple[str, float]]:
    out, running = [], 0.0
    for bound, count in zip(bounds, counts, strict=True):
        running += count
        out.append((bound, running))
    return out


class _Collector(Collector):
    """The single-process exposition, built at scrape time in the listener's thread."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        m = self.metrics
        totals = m.totals()
        families = {
            name: CounterMetricFamily(name, help_, labels=list(labels))
            for name, (help_, labels) in COUNTERS.items()
        }
        summed: dict[tuple[str, ...], int] = {}
        with m._lock:  # the site labels are assigned here and by sync
            for name, labels, n in m.counters(totals):
                summed[(name, *labels)] = summed.get((name, *labels), 0) + n
        for key, n in summed.items():
            families[key[0]].add_metric(list(key[1:]), n)
        yield from families.values()
        solve = [0.0] * len(BUCKET_LABELS)
        solve_ms = 0
        for (_site, metric, label), n in totals.items():
            if metric == "solve_time" and label in BUCKET_LABELS:
                solve[BUCKET_LABELS.index(label)] += n
            elif metric == "solve_ms":
                solve_ms += n
        bounds = [f"{b:g}" for b in SOLVE_BUCKETS] + ["+Inf"]
        yield HistogramMetricFamily(
            *SOLVE, buckets=_cumulative(bounds, solve), sum_value=solve_ms / 1000
        )
        http = HistogramMetricFamily(*HTTP, labels=["route"])
        http_bounds = [f"{b:g}" for b in HTTP_BUCKETS] + ["+Inf"]
        for route, d in dict(m.http).items():
            counts, total = list(d.counts), d.total
            http.add_metric([route], _cumulative(http_bounds, counts), total)
        yield http
        up = GaugeMetricFamily(*STORE_UP, labels=["store"])
        for store, value in dict(m.up).items():
            up.add_metric([store], value)
        yield up

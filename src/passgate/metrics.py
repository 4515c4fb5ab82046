"""The Prometheus metrics, through prometheus-client, and their listener: its own port
(`--metrics-port`), never the public one. docs/observability.md lists every metric.

Label values come only from registered sites and authenticated keys (anything else is
`unknown`), at most `max_sites` sites per process (the rest are `other`), and never an
address, a token or a secret. With `multiprocess_dir`, every process of a node writes its
counts there (prometheus-client's multiprocess mode) and the listener reports their sum.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values

from passgate.stats import SOLVE_BUCKETS

UNKNOWN = "unknown"
OTHER = "other"
UNMATCHED = "unmatched"  # the route label of a path no route matches
HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class MetricsError(Exception):
    """The listener could not start (its port is taken, or the directory is unusable)."""


class Metrics:
    """The passgate_* metrics of one process. Hot paths call the methods below; each is a
    dictionary lookup and a locked add on a cached child."""

    def __init__(self, max_sites: int = 1000, multiprocess_dir: str | None = None) -> None:
        self.max_sites = max_sites
        self.multiprocess_dir = multiprocess_dir
        if multiprocess_dir:
            path = Path(multiprocess_dir)
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise MetricsError(f"metrics_dir {multiprocess_dir}: {exc}") from None
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
            # the value class prometheus-client picks at import from that variable; set here
            # so that the order of imports does not matter
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._siteverify = Counter(
            "passgate_siteverify",
            "siteverify answers by site, interface and outcome (success or the first error code).",
            ["site", "interface", "outcome"],
            registry=r,
        )
        self._replays = Counter(
            "passgate_replays",
            "Verifications refused because the token was already spent.",
            ["site", "interface"],
            registry=r,
        )
        self._challenges = Counter(
            "passgate_challenges", "Challenges issued and solved.", ["site", "event"], registry=r
        )
        self._bands = Counter(
            "passgate_challenge_difficulty",
            "Challenges issued by difficulty band relative "
            "to the site's base (1x, 2x, 8x, 32x, above, cap).",
            ["site", "band"],
            registry=r,
        )
        self._solve = Histogram(
            "passgate_solve_seconds",
            "Seconds from a challenge's signed issue time to its solve, measured by the server.",
            buckets=SOLVE_BUCKETS,
            registry=r,
        )
        self._tokenapi = Counter(
            "passgate_tokenapi_calls",
            "Token-API calls by key and outcome (ok: a token minted).",
            ["key", "outcome"],
            registry=r,
        )
        self._store_up = Gauge(
            "passgate_store_up",
            "1 when the store answers, 0 when it does not.",
            ["store"],
            registry=r,
            multiprocess_mode="livemostrecent",
        )
        self._http = Histogram(
            "passgate_http_request_duration_seconds",
            "Request duration by route template.",
            ["route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        if not multiprocess_dir:
            prometheus_client.ProcessCollector(registry=r)
            prometheus_client.GCCollector(registry=r)
        self._sites: set[str] = set()
        self._children: dict[tuple[str, ...], Any] = {}

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

    def _child(self, family: Any, name: str, *labels: str) -> Any:
        key = (name, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*labels)
        return child

    # -- the events (passgate.stats.Sink) ------------------------------------------------------

    def challenge(self, sitekey: str, event: str, band: str = "") -> None:
        site = self.site(sitekey)
        self._child(self._challenges, "c", site, event).inc()
        if band:
            self._child(self._bands, "b", site, band).inc()

    def solve_seconds(self, seconds: float) -> None:
        self._solve.observe(seconds)

    def siteverify(self, sitekey: str, interface: str, outcome: str) -> None:
        self._child(self._siteverify, "v", self.site(sitekey), interface, outcome).inc()

    def replay(self, sitekey: str, interface: str) -> None:
        self._child(self._replays, "r", self.site(sitekey), interface).inc()

    def tokenapi(self, key: str, outcome: str) -> None:
        self._child(self._tokenapi, "t", key or UNKNOWN, outcome).inc()

    def request(self, route: str, seconds: float) -> None:
        """One HTTP request's duration, by route template."""
        self._child(self._http, "h", route).observe(seconds)

    def stores(self, up: Mapping[str, bool]) -> None:
        for store, ok in up.items():
            self._child(self._store_up, "s", store).set(1 if ok else 0)

    # -- exposition ----------------------------------------------------------------------------

    def exposition_registry(self) -> CollectorRegistry:
        """What a scrape reads: this process's registry, or the sum over every process's
        files in multiprocess mode."""
        if not self.multiprocess_dir:
            return self.registry
        summed = CollectorRegistry()
        multiprocess.MultiProcessCollector(summed, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return summed

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return prometheus_client.generate_latest(self.exposition_registry())

    def listen(self, host: str, port: int) -> Any:
        """Serve `GET /metrics` on host:port from a thread (prometheus-client's own server);
        returns the server, whose shutdown() stops it. Raises MetricsError."""
        try:
            server, _thread = prometheus_client.start_http_server(
                port, addr=host, registry=self.exposition_registry()
            )
        except OSError as exc:
            raise MetricsError(f"cannot listen for metrics on {host}:{port}: {exc}") from None
        return server

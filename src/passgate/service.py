"""The running service's shared state: store engine, key ring, site cache and spend set."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Scope

from passgate import addresses, keys, token, web
from passgate.abuse import prefix
from passgate.abuse.counters import Counters, MemoryCounters, SqliteCounters
from passgate.addresses import IPNetwork
from passgate.metrics import Metrics
from passgate.settings import Config, SettingsError
from passgate.signing import KeyRing
from passgate.sites import Site, SiteRegistry, hash_secret
from passgate.stats import Stats
from passgate.store import StoreUnavailable
from passgate.store.db import is_postgres, make_engine, migrate, sqlite_path
from passgate.store.schema import settings_kv
from passgate.store.spent import Spends, SqliteSpends
from passgate.token import PassToken
from passgate.tokenapi.ratelimit import MemoryRateLimiter, RateLimiter, open_limiter

log = logging.getLogger("passgate")

SITE_CACHE_SECONDS = 1.0  # a cached site answers for at most this long after its load began
SITE_REFRESH_AHEAD = 0.5  # an entry this old is reloaded in the background, still answering
RING_REFRESH_SECONDS = 5.0
RING_RELOAD_GAP = 0.25  # unknown key ids reload the ring at most this often
PING_TIMEOUT = 2.0


@dataclass
class _Cached:
    site: Site | None
    at: float  # time.monotonic() when the load that read it began


def _retrieved(task: asyncio.Task[Site | None]) -> None:
    """Mark a load's failure as seen: its callers, if any, got it already."""
    if not task.cancelled():
        task.exception()


@dataclass
class Service:
    config: Config
    engine: sa.Engine
    master: bytes
    ring: KeyRing
    spends: Spends
    sites: SiteRegistry
    trusted_proxies: list[IPNetwork] = field(default_factory=list)
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)  # token API grant buckets
    counters: Counters = field(default_factory=MemoryCounters)  # abuse: per-prefix history
    prefix_key: bytes = b""  # abuse: the key of prefix hashes, derived from the master key
    stats: Stats = field(default_factory=Stats)  # this process's counts (passgate.stats)
    metrics: Metrics | None = None  # the Prometheus metrics, when the listener is on
    _by_key: dict[str, _Cached] = field(default_factory=dict)
    _by_secret: dict[str, _Cached] = field(default_factory=dict)
    _loads: dict[tuple[bool, str, int], asyncio.Task[Site | None]] = field(default_factory=dict)
    _generation: int = 0  # forget_sites() bumps it: loads begun before it are not cached
    _ring_at: float = field(default_factory=time.monotonic)
    _ring_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    untrusted_forwarded_for: bool = False  # seen by this process (client_ip); /readyz warns
    started: float = field(default_factory=time.time)  # the node's start (workers: the parent's)
    _notes: set[asyncio.Task[None]] = field(default_factory=set)
    _forwarded_logged: bool = False

    async def site(self, sitekey: str) -> Site | None:
        """The site for a sitekey, cached for a second. Raises StoreUnavailable."""
        return await self._cached(self._by_key, sitekey, self.sites.get)

    async def site_by_secret(self, secret: str) -> Site | None:
        return await self._cached(self._by_secret, hash_secret(secret), self.sites.by_secret_hash)

    async def _cached(
        self, cache: dict[str, _Cached], key: str, load: Callable[[str], Site | None]
    ) -> Site | None:
        """The cached site under `key`, younger than SITE_CACHE_SECONDS; past
        SITE_REFRESH_AHEAD it still answers while one background load replaces it. A miss
        awaits the load; concurrent callers share one load per key (no burst of identical
        queries when an entry expires under load). Raises StoreUnavailable."""
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None:
            age = now - hit.at
            if age < SITE_REFRESH_AHEAD:
                return hit.site
            if age < SITE_CACHE_SECONDS:
                self._load(cache, key, load)
                return hit.site
        return await asyncio.shield(self._load(cache, key, load))

    def _load(
        self, cache: dict[str, _Cached], key: str, load: Callable[[str], Site | None]
    ) -> asyncio.Task[Site | None]:
        """The load of `key` in flight, or a new one."""
        flight = (cache is self._by_secret, key, self._generation)
        task = self._loads.get(flight)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fetch(cache, key, load, flight))
            task.add_done_callback(_retrieved)
            self._loads[flight] = task
        return task

    async def _fetch(
        self,
        cache: dict[str, _Cached],
        key: str,
        load: Callable[[str], Site | None],
        flight: tuple[bool, str, int],
    ) -> Site | None:
        began = time.monotonic()
        try:
            site = await run_in_threadpool(load, key)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(type(exc).__name__) from None
        finally:
            self._loads.pop(flight, None)
        if flight[2] == self._generation:  # not forgotten meanwhile
            if len(cache) > 10_000:
                cache.clear()
            cache[key] = _Cached(site, began)
        return site

    def forget_sites(self) -> None:
        self._generation += 1
        self._by_key.clear()
        self._by_secret.clear()

    async def refresh_ring(self, force: bool = False) -> KeyRing:
        """Reload signing keys from the store every few seconds, or at once when forced."""
        now = time.monotonic()
        if force or now - self._ring_at > RING_REFRESH_SECONDS:
            self._ring_at = now
            try:
                self.ring = await run_in_threadpool(keys.load_ring, self.engine, self.master)
            except sa.exc.SQLAlchemyError as exc:
                raise StoreUnavailable(type(exc).__name__) from None
        return self.ring

    async def ring_with(self, kid: str | None) -> KeyRing:
        """The key ring, reloaded first if it lacks `kid` (a key rotated on another node).

        Concurrent askers share one reload, and reloads are at least RING_RELOAD_GAP apart,
        so forged key ids cannot flood the store; a reload that began after this call asked
        has already seen every key rotated before the request arrived.
        """
        if kid is None or self.ring.get(kid) is not None:
            return self.ring
        asked = time.monotonic()
        async with self._ring_lock:
            if self.ring.get(kid) is not None or self._ring_at >= asked:
                return self.ring
            wait = self._ring_at + RING_RELOAD_GAP - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            return await self.refresh_ring(force=True)

    def client_ip(self, request: Request) -> str:
        """The client's address (web.client_ip)."""
        return web.client_ip(request, self.trusted_proxies)

    def note_forwarded(self, scope: Scope) -> None:
        """Note, once, an X-Forwarded-For header from a peer that is not a trusted proxy: it
        is ignored, so a node behind a proxy missing from PASSGATE_TRUSTED_PROXIES sees every
        visitor as one source. Logged once; /readyz reports `untrusted_forwarded_for`."""
        if self.untrusted_forwarded_for:
            return
        if not any(name == b"x-forwarded-for" for name, _ in scope.get("headers", ())):
            return
        peer = scope["client"][0] if scope.get("client") else ""
        if addresses.within(peer, self.trusted_proxies):
            return
        self.untrusted_forwarded_for = True
        logged, self._forwarded_logged = self._forwarded_logged, True
        task = asyncio.get_running_loop().create_task(
            run_in_threadpool(_note_untrusted_forwarded_for, self.engine, self.node, time.time())
        )
        self._notes.add(task)
        task.add_done_callback(self._noted)
        if not logged:
            log.warning(
                "X-Forwarded-For arrived from a peer that is not a trusted proxy and was "
                "ignored: if passgate runs behind a proxy, list it in PASSGATE_TRUSTED_PROXIES"
            )

    @property
    def node(self) -> str:
        return self.config.node_name or socket.gethostname()

    def _noted(self, task: asyncio.Task[None]) -> None:
        self._notes.discard(task)
        if task.cancelled() or task.exception() is not None:  # the next one tries again
            self.untrusted_forwarded_for = False

    async def forwarded_warning(self) -> bool:
        """Whether any process of this node (every `--workers` worker shares the store) has
        seen X-Forwarded-For from an untrusted peer since the node started; False when the
        store cannot say (readyz then fails on the store anyway)."""
        if self.untrusted_forwarded_for:
            return True
        try:
            seen = await run_in_threadpool(_untrusted_forwarded_for_at, self.engine, self.node)
        except sa.exc.SQLAlchemyError:
            return False
        return seen is not None and seen >= self.started

    async def decode_token(self, text: str) -> PassToken:
        """`token.decode` against the ring, reloaded first (ring_with) when the token names a
        key the ring lacks. Raises TokenError, StoreUnavailable."""
        try:
            return token.decode(text, self.ring)
        except token.UnknownKey as exc:
            return token.decode(text, await self.ring_with(exc.kid))

    async def ping(self) -> dict[str, bool]:
        """Reachability of each store: the relational database and the spend set."""
        database, spends = await asyncio.gather(
            _reachable(run_in_threadpool(_select_one, self.engine)),
            _reachable(self.spends.ping()),
        )
        return {"database": database, "spends": spends}

    async def close(self) -> None:
        await self.counters.close()
        await self.spends.close()
        await self.limiter.close()
        self.engine.dispose()


def _select_one(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


async def _reachable(call: Awaitable[object]) -> bool:
    try:
        await asyncio.wait_for(call, PING_TIMEOUT)
    except (StoreUnavailable, sa.exc.SQLAlchemyError, OSError, TimeoutError):
        return False
    return True


def open_engine(config: Config) -> sa.Engine:
    """The relational store, created and migrated if needed."""
    engine = make_engine(config.effective_database_url)
    migrate(engine)
    return engine


def open_spends(config: Config) -> Spends:
    """The spend set: Redis when redis_url is set, else the relational store's own table."""
    url = config.effective_database_url
    if config.redis_url:
        from passgate.store.redis import RedisSpends

        return RedisSpends(config.redis_url)
    if is_postgres(url):
        from passgate.store.postgres import PostgresSpends

        return PostgresSpends(url)
    path = sqlite_path(url)
    if path is None:
        raise SettingsError(f"unsupported database URL scheme: {url.partition('://')[0]}")
    return SqliteSpends(path)


def open_rate_limiter(engine: sa.Engine, spends: Spends) -> RateLimiter:
    """Grant buckets where the spend set is: Redis (sharing its client), else PostgreSQL,
    else the token API's own choice for SQLite."""
    from passgate.store.redis import RedisRateLimiter, RedisSpends

    if isinstance(spends, RedisSpends):
        return RedisRateLimiter(spends.client)
    if engine.dialect.name == "postgresql":
        from passgate.store.postgres import PostgresRateLimiter

        return PostgresRateLimiter(engine)
    return open_limiter(engine)


def open_counters(config: Config, engine: sa.Engine, spends: Spends) -> Counters:
    """The abuse counters where the spends are: Redis when set, else PostgreSQL, else the
    SQLite file."""
    from passgate.store.redis import RedisSpends

    if isinstance(spends, RedisSpends):
        from passgate.store.redis_counters import RedisCounters

        return RedisCounters(spends.client, config.abuse_max_prefixes)
    if engine.dialect.name == "postgresql":
        from passgate.store.postgres_counters import PostgresCounters

        return PostgresCounters(config.effective_database_url, config.abuse_max_prefixes)
    path = sqlite_path(config.effective_database_url)
    assert path is not None  # open_spends refused other schemes
    return SqliteCounters(path, config.abuse_max_prefixes)


def trusted_proxies(config: Config) -> list[IPNetwork]:
    """PASSGATE_TRUSTED_PROXIES as networks; raises SettingsError naming a bad entry."""
    try:
        return addresses.networks(config.trusted_proxies)
    except ValueError as exc:
        raise SettingsError(f"trusted_proxies: {exc}") from None


def observers(config: Config) -> tuple[Stats, Metrics | None]:
    """The counters (stats) and the Prometheus metrics they also feed: on when
    `metrics_port` is set (this process serves them) or `metrics_dir` is (this process
    writes them for the node's listener). Raises SettingsError for a bad setting."""
    stats_on = str(config.stats).lower()
    if stats_on not in ("on", "off"):
        raise SettingsError(f"PASSGATE_STATS must be on or off, not {config.stats!r}")
    if config.stats_retention_days < 30:
        raise SettingsError(
            "PASSGATE_STATS_RETENTION_DAYS must be at least 30 (the console charts 30 days)"
        )
    if config.metrics_max_sites < 1:
        raise SettingsError("PASSGATE_METRICS_MAX_SITES must be at least 1")
    if config.metrics_port and not 0 < config.metrics_port < 65536:
        raise SettingsError(f"PASSGATE_METRICS_PORT must be 1-65535, not {config.metrics_port}")
    metered = bool(config.metrics_port or config.metrics_dir)
    stats = Stats(counting=stats_on == "on" or metered, storing=stats_on == "on")
    metrics = None
    if metered:
        metrics = Metrics(stats, config.metrics_max_sites, config.metrics_dir or None)
    return stats, metrics


UNTRUSTED_FORWARDED_FOR = "untrusted_forwarded_for:"  # + node, in `meta`: unix time


def _forwarded_name(node: str) -> str:
    """The `meta` row of a node's warning (names of any length fit in its 64 characters)."""
    return UNTRUSTED_FORWARDED_FOR + hashlib.sha256(node.encode()).hexdigest()[:32]


def _note_untrusted_forwarded_for(engine: sa.Engine, node: str, at: float) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(settings_kv).values(name=_forwarded_name(node), value=repr(at))
    with engine.begin() as conn:
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["name"], set_={"value": repr(at)})
        )


def _untrusted_forwarded_for_at(engine: sa.Engine, node: str) -> float | None:
    with engine.connect() as conn:
        value = conn.execute(
            sa.select(settings_kv.c.value).where(
                settings_kv.c.name == _forwarded_name(node)
            )
        ).scalar()
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def build(config: Config, started: float | None = None) -> Service:
    from passgate.openapi import reference

    reference.enabled(config)  # PASSGATE_API_DOCS: on or off, else SettingsError now
    proxies = trusted_proxies(config)
    stats, metrics = observers(config)
    engine = open_engine(config)
    master = keys.master_key(config)
    ring = keys.load_ring(engine, master)
    spends = open_spends(config)
    return Service(
        config=config,
        engine=engine,
        master=master,
        ring=ring,
        spends=spends,
        sites=SiteRegistry(engine),
        trusted_proxies=proxies,
        limiter=open_rate_limiter(engine, spends),
        counters=open_counters(config, engine, spends),
        prefix_key=prefix.derive_key(master),
        stats=stats,
        metrics=metrics,
        started=time.time() if started is None else started,
    )

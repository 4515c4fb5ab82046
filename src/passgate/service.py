"""The running service's shared state: store engine, key ring, site cache and spend set."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from passgate import keys, token
from passgate.settings import Config
from passgate.signing import KeyRing
from passgate.sites import Site, SiteRegistry, hash_secret
from passgate.store import StoreUnavailable
from passgate.store.db import make_engine, migrate, sqlite_path
from passgate.store.spent import Spends, SqliteSpends
from passgate.token import PassToken
from passgate.web import IPNetwork, parse_networks

SITE_CACHE_SECONDS = 1.0
RING_REFRESH_SECONDS = 5.0


@dataclass
class _Cached:
    site: Site | None
    at: float


@dataclass
class Service:
    config: Config
    engine: sa.Engine
    master: bytes
    ring: KeyRing
    spends: Spends
    sites: SiteRegistry
    trusted_proxies: list[IPNetwork] = field(default_factory=list)
    _by_key: dict[str, _Cached] = field(default_factory=dict)
    _by_secret: dict[str, _Cached] = field(default_factory=dict)
    _ring_at: float = field(default_factory=time.monotonic)

    async def site(self, sitekey: str) -> Site | None:
        """The site for a sitekey, cached for a second. Raises StoreUnavailable."""
        return await self._cached(self._by_key, sitekey, self.sites.get)

    async def site_by_secret(self, secret: str) -> Site | None:
        return await self._cached(self._by_secret, hash_secret(secret), self.sites.by_secret_hash)

    async def _cached(
        self, cache: dict[str, _Cached], key: str, load: Callable[[str], Site | None]
    ) -> Site | None:
        now = time.monotonic()
        hit = cache.get(key)
        if hit and now - hit.at < SITE_CACHE_SECONDS:
            return hit.site
        try:
            site = await run_in_threadpool(load, key)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(str(exc)) from None
        if len(cache) > 10_000:
            cache.clear()
        cache[key] = _Cached(site, now)
        return site

    def forget_sites(self) -> None:
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
                raise StoreUnavailable(str(exc)) from None
        return self.ring

    async def ring_with(self, kid: str | None) -> KeyRing:
        """The key ring, reloaded first (at most once a second) if it lacks `kid`."""
        if kid is None or self.ring.get(kid) is not None:
            return self.ring
        if time.monotonic() - self._ring_at < 1.0:
            return self.ring
        return await self.refresh_ring(force=True)

    async def decode_token(self, text: str) -> PassToken:
        return token.decode(text, await self.ring_with(token.key_id(text)))

    async def close(self) -> None:
        await self.spends.close()
        self.engine.dispose()


def open_engine(config: Config) -> sa.Engine:
    """The relational store, created and migrated if needed."""
    engine = make_engine(config.effective_database_url)
    migrate(engine)
    return engine


def build(config: Config) -> Service:
    engine = open_engine(config)
    master = keys.master_key(config)
    ring = keys.load_ring(engine, master)
    path = sqlite_path(config.effective_database_url)
    if path is None:
        raise NotImplementedError("only the SQLite spend set is built in so far")
    return Service(
        config=config,
        engine=engine,
        master=master,
        ring=ring,
        spends=SqliteSpends(path),
        sites=SiteRegistry(engine),
        trusted_proxies=parse_networks(config.trusted_proxies),
    )

"""The site cache behind siteverify and /1/challenge: one load per key however many requests
wait on it, reloaded ahead of expiry, and never older than SITE_CACHE_SECONDS.

Before this, every request that met an expired entry under load ran its own query in the
threadpool: 64 connections meant 64 queries and a 10-40 ms stall once a second (the
siteverify p99 of BENCHMARKS.md's half-load rows)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from passgate import service as service_module
from passgate.service import Service
from passgate.sites import Site
from passgate.store import StoreUnavailable
from tests.conftest import SiteCreds

pytestmark = pytest.mark.anyio


class CountingLoad:
    """Wraps a site query: counts calls, and holds each until `release` is set."""

    def __init__(self, real: Callable[[str], Site | None], hold: bool = False) -> None:
        self.real = real
        self.calls = 0
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.fail = False

    def __call__(self, key: str) -> Site | None:
        self.calls += 1
        assert self.release.wait(5)
        if self.fail:
            raise sa.exc.OperationalError("SELECT", {}, Exception("database is locked"))
        return self.real(key)


def age(service: Service, seconds: float) -> None:
    """Make every cached entry `seconds` old."""
    for cache in (service._by_key, service._by_secret):
        for entry in cache.values():
            entry.at = time.monotonic() - seconds


async def test_concurrent_misses_share_one_load(
    service: Service, site: SiteCreds, monkeypatch: pytest.MonkeyPatch
) -> None:
    load = CountingLoad(service.sites.by_secret_hash, hold=True)
    monkeypatch.setattr(service.sites, "by_secret_hash", load)
    waiters = [asyncio.create_task(service.site_by_secret(site.secret)) for _ in range(64)]
    await asyncio.sleep(0.05)
    load.release.set()
    found = await asyncio.gather(*waiters)
    assert load.calls == 1
    assert {s.sitekey for s in found if s is not None} == {site.sitekey}
    assert all(s is not None for s in found)


async def test_expired_entry_under_load_is_loaded_once(
    service: Service, site: SiteCreds, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await service.site(site.sitekey) is not None
    load = CountingLoad(service.sites.get, hold=True)
    monkeypatch.setattr(service.sites, "get", load)
    age(service, service_module.SITE_CACHE_SECONDS + 0.1)
    waiters = [asyncio.create_task(service.site(site.sitekey)) for _ in range(32)]
    await asyncio.sleep(0.05)
    assert not any(w.done() for w in waiters)  # too old to answer: they wait
    load.release.set()
    assert all(s is not None for s in await asyncio.gather(*waiters))
    assert load.calls == 1


async def test_an_entry_near_expiry_answers_at_once_and_reloads_behind(
    service: Service, site: SiteCreds, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await service.site_by_secret(site.secret) is not None
    load = CountingLoad(service.sites.by_secret_hash, hold=True)
    monkeypatch.setattr(service.sites, "by_secret_hash", load)
    age(service, service_module.SITE_REFRESH_AHEAD + 0.1)
    answers = [await service.site_by_secret(site.secret) for _ in range(20)]  # no wait
    assert all(a is not None and a.sitekey == site.sitekey for a in answers)
    await asyncio.sleep(0.05)
    assert load.calls == 1  # one background reload for all twenty
    load.release.set()
    for _ in range(100):
        if not service._loads:
            break
        await asyncio.sleep(0.01)
    assert next(iter(service._by_secret.values())).at > time.monotonic() - 1  # renewed
    assert await service.site_by_secret(site.secret) is not None
    assert load.calls == 1


async def test_a_change_is_seen_within_the_cache_lifetime(
    service: Service, site: SiteCreds
) -> None:
    assert (await service.site(site.sitekey)).difficulty != 12_345  # type: ignore[union-attr]
    service.sites.update(site.sitekey, difficulty=12_345)  # as another process would
    deadline = time.monotonic() + service_module.SITE_CACHE_SECONDS + 0.3
    while time.monotonic() < deadline:
        found = await service.site(site.sitekey)
        if found is not None and found.difficulty == 12_345:
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the change was not seen within the cache lifetime")


async def test_a_load_begun_before_forget_is_not_cached(
    service: Service, site: SiteCreds, monkeypatch: pytest.MonkeyPatch
) -> None:
    load = CountingLoad(service.sites.get, hold=True)
    monkeypatch.setattr(service.sites, "get", load)
    early = asyncio.create_task(service.site(site.sitekey))
    await asyncio.sleep(0.05)
    service.sites.remove(site.sitekey)
    service.forget_sites()  # what the console and admin API do after a change
    late = asyncio.create_task(service.site(site.sitekey))  # a new load, not the old one
    await asyncio.sleep(0.05)
    assert load.calls == 2
    load.release.set()
    await asyncio.gather(early, late)
    assert late.result() is None
    assert await service.site(site.sitekey) is None  # the early answer was not kept


async def test_a_failed_load_fails_every_waiter_closed_and_is_not_cached(
    service: Service, site: SiteCreds, monkeypatch: pytest.MonkeyPatch
) -> None:
    load = CountingLoad(service.sites.by_secret_hash, hold=True)
    load.fail = True
    monkeypatch.setattr(service.sites, "by_secret_hash", load)
    waiters = [asyncio.create_task(service.site_by_secret(site.secret)) for _ in range(8)]
    await asyncio.sleep(0.05)
    load.release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, StoreUnavailable) for r in results)
    assert load.calls == 1
    load.fail = False
    assert await service.site_by_secret(site.secret) is not None
    assert load.calls == 2


async def test_a_cancelled_waiter_does_not_cancel_the_others(
    service: Service, site: SiteCreds, monkeypatch: pytest.MonkeyPatch
) -> None:
    load = CountingLoad(service.sites.get, hold=True)
    monkeypatch.setattr(service.sites, "get", load)
    gone = asyncio.create_task(service.site(site.sitekey))  # a client that hangs up
    kept = asyncio.create_task(service.site(site.sitekey))
    await asyncio.sleep(0.05)
    gone.cancel()
    await asyncio.sleep(0.01)
    load.release.set()
    found = await kept
    assert found is not None and found.sitekey == site.sitekey
    assert load.calls == 1

"""The Starlette application: routes, the access log, error pages and background upkeep."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from passgate import demo, hotpaths, logs, metrics
from passgate.openapi import declare, reference
from passgate.openapi import operations as catalogue
from passgate.openapi.declare import Operation
from passgate.service import RING_REFRESH_SECONDS, Service
from passgate.store import StoreUnavailable
from passgate.store import stats as stats_store
from passgate.tokenapi import upkeep as tokenapi_upkeep
from passgate.web import CORS_HEADERS
from passgate.widget import assets

log = logging.getLogger("passgate")

PRUNE_EVERY = 30.0
EPOCH_WATCH_SECONDS = 1.0
COUNTER_FLUSH_SECONDS = 1.0
STATS_FLUSH_SECONDS = 5.0  # at least every 10 s (docs/observability.md)
METRICS_SYNC_SECONDS = 1.0
STATS_ROLL_SECONDS = 60.0


class PassgateApp:
    """The ASGI entry point: the access log and the request-duration metric around
    everything, the hot endpoints dispatched directly (hotpaths), everything else through
    the Starlette app.

    Both name the route template (`/api/records/{record_id}`), never the raw path, and never
    a query string or a body (they hold secrets)."""

    def __init__(self, starlette: Starlette) -> None:
        self.starlette = starlette
        self.router = starlette.router
        self.state = starlette.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.starlette(scope, receive, send)
            return
        service: Service = self.state.service
        if not service.untrusted_forwarded_for:
            service.note_forwarded(scope)
        if logs.access_enabled():
            await self._logged(scope, receive, send, service)
            return
        timed = service.metrics
        start = time.perf_counter() if timed is not None else 0.0
        if await hotpaths.dispatch(scope, receive, send, self.starlette):
            route = scope["path"]  # a hot endpoint's path is its route
        else:
            await self.starlette(scope, receive, send)
            route = getattr(scope.get("route"), "path", None) or metrics.UNMATCHED
        if timed is not None:
            timed.request(route, time.perf_counter() - start)

    async def _logged(self, scope: Scope, receive: Receive, send: Send, service: Service) -> None:
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        route = metrics.UNMATCHED
        try:
            if await hotpaths.dispatch(scope, receive, send_status, self.starlette):
                route = scope["path"]
            else:
                await self.starlette(scope, receive, send_status)
                route = getattr(scope.get("route"), "path", None) or metrics.UNMATCHED
        finally:
            elapsed = time.perf_counter() - start
            if service.metrics is not None:
                service.metrics.request(route, elapsed)
            logs.access(scope["method"], route, status, elapsed * 1000)


async def not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "not_found", "message": "no such endpoint"}, status_code=404)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"error": "method_not_allowed", "message": "method not allowed"}, status_code=405
    )


async def server_error(request: Request, exc: Exception) -> Response:
    route = getattr(request.scope.get("route"), "path", None) or metrics.UNMATCHED
    log.error("unhandled %s on %s", type(exc).__name__, route)
    return JSONResponse(
        {"error": "internal-error", "message": "internal error"},
        status_code=500,
        headers=CORS_HEADERS,
    )


async def _upkeep(service: Service) -> None:
    """Refresh the key ring every few seconds (keys rotated on any node reach this one) and
    prune spent tokens, console sessions, audit entries and Turnstile's idempotency results
    past their expiry, forever."""
    pruned = time.monotonic()
    while True:
        await asyncio.sleep(RING_REFRESH_SECONDS)
        try:
            await service.refresh_ring(force=True)
            if time.monotonic() - pruned >= PRUNE_EVERY:
                pruned = time.monotonic()
                await service.spends.prune(time.time())
                if service.config.console == "on":  # console sessions past their timeouts
                    from passgate.console.sessions import SessionStore

                    await run_in_threadpool(SessionStore(service.engine).prune, time.time())
                from passgate.audit import AuditLog
                from passgate.store.idempotency import IdempotencyStore

                await run_in_threadpool(AuditLog(service.engine).prune, time.time())
                await run_in_threadpool(IdempotencyStore(service.engine).prune, time.time())
        except StoreUnavailable as exc:
            log.warning("upkeep: store unavailable: %s", exc)
        except Exception:  # noqa: BLE001 - upkeep must outlive any one failure
            log.exception("upkeep failed")


async def _abuse_upkeep(service: Service) -> None:
    """Flush the challenges issued per prefix every second, and prune quiet counters every
    PRUNE_EVERY seconds (abuse.counters)."""
    pruned = time.monotonic()
    while True:
        await asyncio.sleep(COUNTER_FLUSH_SECONDS)
        try:
            await service.counters.flush(time.time())
            if time.monotonic() - pruned >= PRUNE_EVERY:
                pruned = time.monotonic()
                await service.counters.prune(time.time())
        except StoreUnavailable as exc:
            log.warning("abuse counters: store unavailable: %s", exc)
        except Exception:  # noqa: BLE001 - upkeep must outlive any one failure
            log.exception("abuse counter upkeep failed")


async def flush_stats(service: Service) -> None:
    """Write this process's counts to the store (store.stats.flush), after handing them to
    the metrics' totals; counts a failed write could not store are kept for the next flush.
    Raises StoreUnavailable."""
    stats = service.stats
    fresh = stats.drain() if service.metrics is None else service.metrics.drain()
    if not stats.storing:
        return
    counts = stats.to_store(fresh)
    if not counts:
        return
    try:
        await run_in_threadpool(stats_store.flush, service.engine, counts)
    except Exception as exc:
        stats.keep(counts)
        if isinstance(exc, sa.exc.SQLAlchemyError):  # the driver's words, never parameters
            raise StoreUnavailable(str(getattr(exc, "orig", None) or type(exc).__name__)) from None
        raise


async def watch_and_flush(service: Service) -> None:
    """Note whether each store answers (the metrics' passgate_store_up), then flush the
    counters; a flush the database refuses marks it down too, even when it still answers
    reads. Raises StoreUnavailable."""
    if service.metrics is not None:
        service.metrics.stores(await service.ping())
    try:
        await flush_stats(service)
    except StoreUnavailable:
        if service.metrics is not None:
            service.metrics.stores({"database": False})
        raise


async def _stats_upkeep(service: Service) -> None:
    """Every METRICS_SYNC_SECONDS, hand the metrics to prometheus-client's files (in
    multiprocess mode); every STATS_FLUSH_SECONDS, note whether each store answers and flush
    the counters; every STATS_ROLL_SECONDS, roll minutes up into hours and prune."""
    flushed = rolled = time.monotonic()
    while True:
        await asyncio.sleep(METRICS_SYNC_SECONDS)
        try:
            if service.metrics is not None:
                service.metrics.sync()
            if time.monotonic() - flushed < STATS_FLUSH_SECONDS:
                continue
            flushed = time.monotonic()
            await watch_and_flush(service)
            if time.monotonic() - rolled >= STATS_ROLL_SECONDS:
                rolled = time.monotonic()
                now = time.time()
                keep = service.config.stats_retention_days
                await run_in_threadpool(stats_store.roll_up, service.engine, now)
                await run_in_threadpool(stats_store.prune, service.engine, now, keep)
        except StoreUnavailable as exc:
            log.warning("stats: the store refused the counters' flush: %s", exc)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("stats: store unavailable: %s", type(exc).__name__)
        except Exception:  # noqa: BLE001 - upkeep must outlive any one failure
            log.exception("stats upkeep failed")


async def _watch_epoch(service: Service) -> None:
    """With Redis, read its epoch every second, so that the challenges this node issues name
    the epoch another node started after a Redis restart (store.redis): such a challenge is
    refused at most once. Ends at once on a store that needs no epoch."""
    while True:
        try:
            if await service.spends.current_epoch() is None:
                return
        except StoreUnavailable:
            pass  # the spend path reports it; the next look may find Redis back
        await asyncio.sleep(EPOCH_WATCH_SECONDS)


def operations(service: Service, console: bool) -> list[Operation]:
    """The declared operations this app serves on its public port: the public ones, the
    OpenAPI document and, when on, its reference page and the console's JSON."""
    ops = [*catalogue.PUBLIC, catalogue.SPEC]
    if reference.enabled(service.config):
        reference.table()  # MissingLibrary at start-up, not at the first page, without npm's
        ops += catalogue.reference_page()
    if console:
        from passgate.console import views

        ops.append(views.STATS)
    return ops


def demo_routes() -> list[Route]:
    """`passgate demo`'s page and backend: not an API, so not declared."""
    return [
        Route("/demo", demo.page),
        Route("/demo/", demo.page),
        Route("/demo/static/{name}", demo.static),
        Route("/demo/verify", demo.verify, methods=["POST"]),
    ]


def console_routes(service: Service) -> list[BaseRoute]:
    """The console's routes (passgate.console), or none when PASSGATE_CONSOLE is off."""
    if service.config.console != "on":
        return []
    from passgate.console import views

    return views.routes()


def create_app(
    service: Service,
    demo_site: tuple[str, str] | None = None,
    console_socket: socket.socket | None = None,
) -> PassgateApp:
    """The ASGI app over a built service; `demo_site` is (sitekey, secret) for the demo.
    The console is under /console/, or, given `console_socket` (console.listener.bind), on
    that listener only."""
    listener = None
    console = console_routes(service)
    if console_socket is not None and console:
        from passgate.console.listener import Listener

        listener = Listener(console, service, console_socket)
        console = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gc.collect()
        gc.freeze()  # start-up objects leave the collector's sight: no long gen-2 pauses
        stores = await service.ping()  # connects early; with Redis, starts its epoch
        if service.metrics is not None:
            service.metrics.stores(stores)
        task = asyncio.create_task(_upkeep(service))
        token_api = asyncio.create_task(tokenapi_upkeep.run(service))  # job worker, pruning
        epoch = asyncio.create_task(_watch_epoch(service))
        abuse = asyncio.create_task(_abuse_upkeep(service))
        stats = asyncio.create_task(_stats_upkeep(service))
        if listener is not None:
            listener.start()
        try:
            yield
        finally:
            if listener is not None:
                await listener.stop()
            for background in (task, token_api, epoch, abuse, stats):
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
            try:  # the counts since the last flush are not lost at a clean stop
                await flush_stats(service)
            except (StoreUnavailable, sa.exc.SQLAlchemyError) as exc:
                log.warning("stats: the last counts could not be stored: %s", type(exc).__name__)
            await service.close()

    assets.table()  # the widget's files, read and compressed now; MissingLibrary without npm's
    handlers: dict[Any, Any] = {404: not_found, 405: method_not_allowed, 500: server_error}
    ops = operations(service, bool(console))
    demo_table = demo_routes() if demo_site is not None else []
    app = Starlette(
        routes=[*declare.routes(ops), *demo_table, *console],
        exception_handlers=handlers,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.operations, app.state.operation_tags = ops, catalogue.TAGS
    if demo_site is not None:
        app.state.demo_sitekey, app.state.demo_secret = demo_site
    return PassgateApp(app)

"""The console's routes (all under /console/), and its overview, signing-key, audit-log and
health pages; the sites and the API-key pages are in pages_sites and pages_keys."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from passgate import __version__, keys
from passgate.audit import AuditLog
from passgate.console import assets, auth, charts, pages_keys, pages_sites, render
from passgate.console.guard import Ctx, form, page
from passgate.openapi import schemas
from passgate.openapi.declare import Answer, Operation, Param
from passgate.sites import SiteRegistry
from passgate.store import StoreUnavailable
from passgate.store import stats as stats_store
from passgate.tokenapi import db

STARTED = time.time()  # the console is loaded when the app is made: this process's start
AUDIT_LIMIT = 200


def load_report(
    engine: sa.Engine, span: str, sitekey: str | None, lifetime: int, now: float
) -> dict[str, Any]:
    """The overview's numbers over the range `span` (a key of charts.RANGES)."""
    since = now - charts.RANGES[span]
    rows = stats_store.read(engine, since, now, sitekey)
    out = charts.report(rows, since, now, lifetime, charts.STEPS[span])
    out["range"] = span
    out["site"] = sitekey or ""
    return out


def _choice(request: Request, known: set[str]) -> tuple[str, str, str]:
    """The overview's range and site from the query, and what is wrong with them."""
    span = request.query_params.get("since", "24h")
    site = request.query_params.get("site", "")
    if span not in charts.RANGES:
        return "24h", site, "The range must be one of 1h, 24h, 7d or 30d."
    if site and site not in known:
        return span, "", f"No site with sitekey {site[:64]!r}: showing all sites."
    return span, site, ""


async def home(request: Request) -> Response:
    """/console/: the overview when signed in, else the sign-in page."""
    try:
        signed = await auth.current(request)
    except StoreUnavailable:
        return render.message(503, "Store unavailable", auth.UNAVAILABLE)
    if signed is None:
        return auth.signin_page(request)
    return await overview(request)


@page
async def overview(ctx: Ctx) -> Response:
    service = ctx.service
    sites = await db.run(SiteRegistry(service.engine).all)
    span, site, wrong = _choice(ctx.request, {s.sitekey for s in sites})
    if wrong:
        ctx.error, ctx.status = wrong, 400
    data = await db.run(
        load_report, service.engine, span, site or None, service.config.challenge_lifetime,
        time.time(),
    )  # fmt: skip
    return ctx.render(
        "overview.html",
        "overview",
        "Overview",
        sites=sites,
        span=span,
        site=site,
        ranges=charts.RANGE_NAMES,
        step=charts.STEP_NAMES[charts.STEPS[span]],
        data=data,
        total=data["total"],
    )


async def stats_api(request: Request) -> Response:
    """GET /console/api/stats?since=1h&site=SITEKEY: the overview's numbers as JSON."""
    service = auth.service_of(request)
    try:
        if await auth.current(request, touch=False) is None:  # polling is not activity
            return render.json_reply({"error": "not_signed_in", "message": "sign in first"}, 401)
        span = request.query_params.get("since", "24h")
        if span not in charts.RANGES:
            message = "since must be one of 1h, 24h, 7d or 30d"
            return render.json_reply({"error": "bad_request", "message": message}, 400)
        site = request.query_params.get("site") or None
        data = await db.run(
            load_report, service.engine, span, site, service.config.challenge_lifetime,
            time.time(),
        )  # fmt: skip
    except StoreUnavailable:
        body = {"error": "store_unavailable", "message": "the store did not answer"}
        return render.json_reply(body, 503)
    return render.json_reply(data)


STATS = Operation(
    "GET", "/console/api/stats", stats_api, "consoleStats", "The console overview's numbers",
    "console",
    (
        Answer(200, "The counters over the range (docs/observability.md).",
               schemas.ref("ConsoleStats")),
        Answer(400, "`since` is not one of 1h, 24h, 7d, 30d (`bad_request`).",
               schemas.ref("ConsoleError")),
        Answer(401, "Not signed in (`not_signed_in`).", schemas.ref("ConsoleError")),
        Answer(503, "The store did not answer (`store_unavailable`).",
               schemas.ref("ConsoleError")),
    ),
    params=(
        Param("since", "query", {"enum": list(charts.RANGES)}, "The range (24h)."),
        Param("site", "query", {"type": "string"}, "Only this sitekey's counters."),
    ),
    security=("ConsoleSession",),
)  # fmt: skip


@page
async def signing(ctx: Ctx) -> Response:
    live = await db.run(keys.live_keys, ctx.service.engine)
    return ctx.render("signing.html", "signing", "Signing keys", keys=live)


@form(on_error=signing)
async def rotate_signing(ctx: Ctx, fields: dict[str, str]) -> Response:
    kid = await db.write(ctx.service.engine, ctx.manager().rotate_signing_key)
    await ctx.service.refresh_ring(force=True)
    await ctx.flash_next(f"Signing with the new key {kid}; tokens under older keys verify "
                         "until they expire.")  # fmt: skip
    return render.redirect("/console/signing")


@form(on_error=signing)
async def new_admin_token(ctx: Ctx, fields: dict[str, str]) -> Response:
    token = await db.write(ctx.service.engine, ctx.manager().new_admin_token)
    await ctx.flash_next(
        "A new admin API token replaces the old one, which no longer works.",
        token,
        "The new admin API token",
    )
    return render.redirect("/console/signing")


@page
async def audit(ctx: Ctx) -> Response:
    q = ctx.request.query_params
    actor, action = q.get("actor", "").strip()[:80], q.get("action", "").strip()[:64]
    entries = await db.run(
        AuditLog(ctx.service.engine).list, AUDIT_LIMIT, actor or None, action or None
    )
    return ctx.render(
        "audit.html", "audit", "Audit log", entries=entries, actor=actor, action=action,
        limit=AUDIT_LIMIT,
    )  # fmt: skip


@page
async def health(ctx: Ctx) -> Response:
    service = ctx.service
    stores = await service.ping()
    warnings = []
    if await service.forwarded_warning():
        warnings.append(
            "X-Forwarded-For arrived from a peer that is not a trusted proxy and was ignored: "
            "list the proxy in PASSGATE_TRUSTED_PROXIES."
        )
    return ctx.render(
        "health.html",
        "health",
        "Health",
        stores=stores,
        ready=all(stores.values()),
        warnings=warnings,
        version=__version__,
        started=STARTED,
        uptime=uptime(time.time() - STARTED),
    )


def uptime(seconds: float) -> str:
    """A duration as `3 d 4 h 5 min`."""
    s = int(seconds)
    days, hours, minutes = s // 86_400, s % 86_400 // 3600, s % 3600 // 60
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if days or hours else []
    return " ".join([*parts, f"{minutes} min"])


async def not_found(request: Request) -> Response:
    signed = None
    try:
        signed = await auth.current(request)
    except StoreUnavailable:
        pass
    nav = auth.nav(signed) if signed else None
    return render.message(404, "Not found", "There is no such console page.", nav)


async def to_home(request: Request) -> Response:
    return render.redirect(auth.HOME)


def routes() -> list[BaseRoute]:
    """The console's routes, with their full paths (the app adds them as they are). Reads
    the static files now: MissingLibrary at start-up, not at the first page, without npm's."""
    assets.table()
    get, post = ["GET"], ["POST"]
    return [
        Route("/console", to_home, methods=get),
        Route("/console/", home, methods=get),
        Route("/console/signin", auth.signin, methods=post),
        Route("/console/signin", to_home, methods=get),
        Route("/console/signout", auth.signout, methods=post),
        Route("/console/static/{name}", assets.static, methods=get),
        STATS.route(),
        Route("/console/sites", pages_sites.sites, methods=get),
        Route("/console/sites", pages_sites.add, methods=post),
        Route("/console/sites/{sitekey}", pages_sites.site, methods=get),
        Route("/console/sites/{sitekey}/edit", pages_sites.edit, methods=post),
        Route("/console/sites/{sitekey}/rotate", pages_sites.rotate, methods=post),
        Route("/console/sites/{sitekey}/remove", pages_sites.confirm_remove, methods=get),
        Route("/console/sites/{sitekey}/remove", pages_sites.remove, methods=post),
        Route("/console/keys", pages_keys.keys, methods=get),
        Route("/console/keys", pages_keys.add, methods=post),
        Route("/console/keys/revoke", pages_keys.revoke, methods=post),
        Route("/console/grants", pages_keys.grant, methods=post),
        Route("/console/grants/remove", pages_keys.ungrant, methods=post),
        Route("/console/signing", signing, methods=get),
        Route("/console/signing/rotate", rotate_signing, methods=post),
        Route("/console/signing/admin-token", new_admin_token, methods=post),
        Route("/console/audit", audit, methods=get),
        Route("/console/health", health, methods=get),
        Route("/console/{path:path}", not_found),
    ]

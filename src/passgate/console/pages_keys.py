"""The console's API keys page: the token API's keys (create, shown once; revoke), their
grants (grant, ungrant) and the call records, filtered by key and site. Changes go through
passgate.manage, as the CLI's do."""

from __future__ import annotations

from starlette.responses import Response

from passgate.console import render
from passgate.console.guard import Ctx, Invalid, form, page, whole
from passgate.sites import SiteRegistry
from passgate.tokenapi import db
from passgate.tokenapi.apikeys import ApiKeyRegistry
from passgate.tokenapi.grants import (
    DEFAULT_BURST,
    DEFAULT_RATE,
    GrantRegistry,
    parse_expiry,
    parse_rate,
)
from passgate.tokenapi.records import RecordLog

RECORDS_SHOWN = 100


@page
async def keys(ctx: Ctx) -> Response:
    engine = ctx.service.engine
    q = ctx.request.query_params
    key_filter, site_filter = q.get("key", "").strip()[:64], q.get("site", "").strip()[:64]
    found = await db.run(ApiKeyRegistry(engine).list)
    grants = await db.run(GrantRegistry(engine).list)
    sites = await db.run(SiteRegistry(engine).all)
    records = await db.run(
        RecordLog(engine).list, key_filter or None, site_filter or None, RECORDS_SHOWN
    )
    fields = {"name": "", "key": "", "site": "", "rate": DEFAULT_RATE,
              "burst": str(DEFAULT_BURST), "expires": ""}  # fmt: skip
    fields.update(ctx.values)
    return ctx.render(
        "keys.html",
        "keys",
        "API keys",
        keys=found,
        active=[k for k in found if k.active],
        grants=grants,
        sites=sites,
        names={s.sitekey: s.name for s in sites},
        records=records,
        key_filter=key_filter,
        site_filter=site_filter,
        shown=RECORDS_SHOWN,
        fields=fields,
    )


def _field(fields: dict[str, str], name: str, label: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise Invalid(f"Choose {label}.")
    return value


@form(on_error=keys)
async def add(ctx: Ctx, fields: dict[str, str]) -> Response:
    name = fields.get("name", "").strip()
    key, token = await db.write(ctx.service.engine, ctx.manager().add_key, name)
    await ctx.flash_next(
        f"API key {key.name} created. Copy its token now: it is shown only once.",
        token,
        f"The token of API key {key.name}",
    )
    return render.redirect("/console/keys")


@form(on_error=keys)
async def revoke(ctx: Ctx, fields: dict[str, str]) -> Response:
    name = _field(fields, "name", "a key")
    await db.write(ctx.service.engine, ctx.manager().revoke_key, name)
    await ctx.flash_next(f"API key {name} revoked: it mints no more tokens.")
    return render.redirect("/console/keys")


@form(on_error=keys)
async def grant(ctx: Ctx, fields: dict[str, str]) -> Response:
    key, sitekey = _field(fields, "key", "a key"), _field(fields, "site", "a site")
    rate = parse_rate(fields.get("rate", "").strip() or DEFAULT_RATE)
    burst = whole(fields, "burst", "The burst", DEFAULT_BURST)
    assert burst is not None
    expires = fields.get("expires", "").strip()
    expires_at = parse_expiry(expires) if expires else None
    await db.write(
        ctx.service.engine, ctx.manager().put_grant, key, sitekey, rate, burst, expires_at
    )
    await ctx.flash_next(f"API key {key} may mint tokens for {sitekey}.")
    return render.redirect("/console/keys")


@form(on_error=keys)
async def ungrant(ctx: Ctx, fields: dict[str, str]) -> Response:
    key, sitekey = _field(fields, "key", "a key"), _field(fields, "site", "a site")
    await db.write(ctx.service.engine, ctx.manager().remove_grant, key, sitekey)
    await ctx.flash_next(f"API key {key} may no longer mint tokens for {sitekey}.")
    return render.redirect("/console/keys")

"""The console's sites pages: the list and the add form, and per site its settings, an embed
snippet, a siteverify example, the edit form, secret rotation and removal (after a confirm
page). Changes go through passgate.manage, as the CLI's do."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from passgate import algorithms, manage
from passgate.console import auth, render
from passgate.console.guard import Ctx, Invalid, NotFound, checked, form, page, whole
from passgate.sites import Site, SiteRegistry
from passgate.tokenapi import db

SPLIT = re.compile(r"[\s,]+")
CHECKBOXES = ("require_remoteip", "bind_ip", "adaptive")


def _list(text: str) -> list[str]:
    return [part for part in SPLIT.split(text.strip()) if part]


def _site_fields(site: Site) -> dict[str, Any]:
    """The edit form's fields, filled from a site."""
    return {
        "name": site.name,
        "hostnames": "\n".join(site.hostnames),
        "difficulty": str(site.difficulty),
        "token_lifetime": str(site.token_lifetime),
        "require_remoteip": site.require_remoteip,
        "bind_ip": site.bind_ip,
        "adaptive": site.adaptive,
        "algorithm": site.algorithm,
        "fallback": site.fallback or "none",
        "max_difficulty": "" if site.max_difficulty is None else str(site.max_difficulty),
        "prefix_v4": str(site.prefix_v4),
        "prefix_v6": str(site.prefix_v6),
        "allowlist": "\n".join(site.allowlist),
    }


def _posted(values: dict[str, str], shown: dict[str, Any]) -> dict[str, Any]:
    """A refused form's fields, to show them again as they were sent (the fields `shown`
    before, where one was not sent)."""
    out = {name: values.get(name, value) for name, value in shown.items()}
    for name in CHECKBOXES:
        out[name] = checked(values, name)
    return out


def _new_fields(ctx: Ctx) -> dict[str, Any]:
    """The add form's fields: what was sent, or the defaults `passgate site add` uses."""
    defaults = manage.site_defaults(ctx.service.config)
    shown = {
        "name": "",
        "hostnames": "",
        "difficulty": "",
        "token_lifetime": str(defaults["token_lifetime"]),
        "require_remoteip": False,
        "bind_ip": False,
        "adaptive": True,
        "algorithm": defaults["algorithm"],
        "fallback": "none",
        "max_difficulty": "",
        "prefix_v4": "",
        "prefix_v6": "",
        "allowlist": "",
    }
    return _posted(ctx.values, shown) if ctx.values else shown


@page
async def sites(ctx: Ctx) -> Response:
    found = await db.run(SiteRegistry(ctx.service.engine).all)
    return ctx.render(
        "sites.html",
        "sites",
        "Sites",
        sites=found,
        fields=_new_fields(ctx),
        algorithms=algorithms.NAMES,
    )


def _options(fields: dict[str, str], defaults: dict[str, Any]) -> dict[str, Any]:
    """`passgate site add`'s options from the add form; blank fields take `defaults`
    (manage.site_defaults). Raises Invalid."""
    options: dict[str, Any] = {
        "name": fields.get("name", "").strip(),
        "algorithm": defaults["algorithm"],
        "difficulty": whole(fields, "difficulty", "The difficulty", defaults["difficulty"]),
        "token_lifetime": whole(
            fields, "token_lifetime", "The token lifetime", defaults["token_lifetime"]
        ),
        "adaptive": checked(fields, "adaptive"),
        "max_difficulty": whole(fields, "max_difficulty", "The max difficulty"),
        "prefix_v4": whole(fields, "prefix_v4", "The IPv4 prefix length"),
        "prefix_v6": whole(fields, "prefix_v6", "The IPv6 prefix length"),
        "allowlist": _list(fields.get("allowlist", "")),
    }
    if fields.get("fallback", "none") not in ("", "none"):
        options["fallback"] = fields["fallback"]
    return options


@form(on_error=sites)
async def add(ctx: Ctx, fields: dict[str, str]) -> Response:
    hostnames = _list(fields.get("hostnames", ""))
    if not hostnames:
        raise Invalid("Give at least one hostname (like shop.example).")
    defaults = manage.site_defaults(ctx.service.config, fields.get("algorithm") or None)
    options = _options(fields, defaults)
    flags = {name: checked(fields, name) for name in ("require_remoteip", "bind_ip")}
    manager = ctx.manager()

    def make() -> tuple[Site, str]:
        site, secret = manager.add_site(hostnames, **options)
        if any(flags.values()):
            site = manager.update_site(site.sitekey, **flags)
        return site, secret

    site, secret = await db.write(ctx.service.engine, make)
    ctx.service.forget_sites()
    await ctx.flash_next(
        f"Site {site.name or site.sitekey} added. Copy its secret now: it is shown only once.",
        secret,
        "The site's secret",
    )
    return render.redirect(f"/console/sites/{site.sitekey}")


async def _require(ctx: Ctx) -> Site:
    sitekey = ctx.request.path_params["sitekey"]
    site = await db.run(SiteRegistry(ctx.service.engine).get, sitekey)
    if site is None:
        raise NotFound(f"No site with sitekey {sitekey[:64]}.")
    return site


@page
async def site(ctx: Ctx) -> Response:
    found = await _require(ctx)
    scheme = "https" if auth.is_https(ctx.request, ctx.service) else "http"
    host = ctx.request.headers.get("host") or ctx.request.url.netloc
    return ctx.render(
        "site.html",
        "sites",
        f"Site {found.name or found.sitekey}",
        site=found,
        fields=_posted(ctx.values, _site_fields(found)) if ctx.values else _site_fields(found),
        algorithms=algorithms.NAMES,
        origin=f"{scheme}://{host}",
    )


def _changes(site: Site, fields: dict[str, str]) -> dict[str, Any]:
    """SiteRegistry.update's keywords from the edit form. A new algorithm with the old
    difficulties unchanged takes its own defaults, as `passgate site update` does. Raises
    Invalid."""
    hostnames = _list(fields.get("hostnames", ""))
    if not hostnames:
        raise Invalid("Give at least one hostname (like shop.example).")
    was = _site_fields(site)
    algorithm = fields.get("algorithm") or site.algorithm
    switched = algorithm != site.algorithm
    changes: dict[str, Any] = {
        "hostnames": hostnames,
        "name": fields.get("name", "").strip(),
        "token_lifetime": whole(fields, "token_lifetime", "The token lifetime"),
        "require_remoteip": checked(fields, "require_remoteip"),
        "bind_ip": checked(fields, "bind_ip"),
        "adaptive": checked(fields, "adaptive"),
        "algorithm": algorithm if switched else None,
        "fallback": fields.get("fallback") or "none",
        "prefix_v4": whole(fields, "prefix_v4", "The IPv4 prefix length"),
        "prefix_v6": whole(fields, "prefix_v6", "The IPv6 prefix length"),
        "allowlist": _list(fields.get("allowlist", "")),
    }
    if algorithm == algorithms.SHA256:
        changes["fallback"] = "none"  # a SHA-256 site needs none
    difficulty = fields.get("difficulty", "").strip()
    if not (switched and difficulty == was["difficulty"]):  # else the new algorithm's own
        changes["difficulty"] = whole(fields, "difficulty", "The difficulty")
    cap = fields.get("max_difficulty", "").strip()
    if cap != was["max_difficulty"]:  # blank: the algorithm's default cap
        changes["max_difficulty"] = whole(fields, "max_difficulty", "The max difficulty", 0)
    return changes


@form(on_error=site)
async def edit(ctx: Ctx, fields: dict[str, str]) -> Response:
    found = await _require(ctx)
    changes = _changes(found, fields)
    await db.write(ctx.service.engine, ctx.manager().update_site, found.sitekey, **changes)
    ctx.service.forget_sites()
    await ctx.flash_next("Saved.")
    return render.redirect(f"/console/sites/{found.sitekey}")


@form(on_error=site)
async def rotate(ctx: Ctx, fields: dict[str, str]) -> Response:
    found = await _require(ctx)
    _, secret = await db.write(ctx.service.engine, ctx.manager().rotate_secret, found.sitekey)
    ctx.service.forget_sites()
    await ctx.flash_next(
        "The site has a new secret; the old one stops working within a second. Copy it now: "
        "it is shown only once.",
        secret,
        "The site's new secret",
    )
    return render.redirect(f"/console/sites/{found.sitekey}")


@page
async def confirm_remove(ctx: Ctx) -> Response:
    found = await _require(ctx)
    return ctx.render(
        "remove.html", "sites", f"Remove site {found.name or found.sitekey}?", site=found
    )


@form(on_error=confirm_remove)
async def remove(ctx: Ctx, fields: dict[str, str]) -> Response:
    found = await _require(ctx)
    await db.write(ctx.service.engine, ctx.manager().remove_site, found.sitekey)
    ctx.service.forget_sites()
    await ctx.flash_next(f"Site {found.name or found.sitekey} removed.")
    return render.redirect("/console/sites")

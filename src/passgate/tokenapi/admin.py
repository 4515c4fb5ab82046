"""The admin HTTP API for keys, grants and records, behind the admin token that
`passgate admin-token` creates (`Authorization: Bearer TOKEN`).

Errors answer `{"ok": false, "error": CODE, "message": TEXT}`, rendered by `error_reply`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from passgate.manage import Manager
from passgate.service import Service
from passgate.sites import SiteError, SiteRegistry
from passgate.store import StoreUnavailable
from passgate.tokenapi import db
from passgate.tokenapi.admintoken import admin_token_matches
from passgate.tokenapi.admintoken import new_admin_token as new_admin_token  # re-exported
from passgate.tokenapi.apikeys import ApiKeyError, ApiKeyExists, ApiKeyNotFound, ApiKeyRegistry
from passgate.tokenapi.grants import (
    DEFAULT_BURST,
    DEFAULT_RATE,
    GrantError,
    GrantNotFound,
    GrantRegistry,
    check_burst,
    parse_expiry,
    parse_rate,
)
from passgate.tokenapi.records import MAX_LIST, RecordLog
from passgate.web import BadBody, BodyTooLarge, client_ip, read_json_object

MAX_LIMIT_DIGITS = 6  # records' `limit`


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def error_reply(status: int, code: str, message: str) -> Response:
    """The one error shape of the admin API."""
    return _json({"ok": False, "error": code, "message": message}, status)


async def _guarded(request: Request) -> Service:
    service: Service = request.app.state.service
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented or len(presented) > 256:
        raise AdminError(401, "unauthorized", "send Authorization: Bearer ADMIN_TOKEN")
    if not await db.run(admin_token_matches, service.engine, presented):
        raise AdminError(401, "unauthorized", "the admin token is not valid")
    return service


async def _body(request: Request, service: Service) -> dict[str, Any]:
    try:
        return await read_json_object(request, service.config.max_body_bytes)
    except BodyTooLarge:
        raise AdminError(413, "invalid_input", "the request body is too large") from None
    except BadBody as exc:
        raise AdminError(400, "invalid_input", str(exc)) from None


def _guard_errors(exc: Exception) -> AdminError:
    if isinstance(exc, AdminError):
        return exc
    if isinstance(exc, StoreUnavailable):
        return AdminError(503, "store_unavailable", "the store is unavailable; try again")
    if isinstance(exc, ApiKeyExists):
        return AdminError(409, "conflict", str(exc))
    if isinstance(exc, ApiKeyNotFound | GrantNotFound):
        return AdminError(404, "not_found", str(exc))
    return AdminError(400, "invalid_input", str(exc))


async def _handle(request: Request, action: Any) -> Response:
    try:
        service = await _guarded(request)
        return await action(request, service)  # type: ignore[no-any-return]
    except (AdminError, StoreUnavailable, ApiKeyError, GrantError, SiteError) as exc:
        err = _guard_errors(exc)
        return error_reply(err.status, err.code, err.message)


def _str_field(body: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise AdminError(400, "invalid_input", f"{name} must be a non-empty string")
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate (JSON "\ud800"): no store can hold it
        raise AdminError(400, "invalid_input", f"{name} must be valid Unicode text") from None
    return value


async def _list_keys(request: Request, service: Service) -> Response:
    found = await db.run(ApiKeyRegistry(service.engine).list)
    return _json({"ok": True, "keys": [k.public() for k in found]})


def _manager(request: Request, service: Service) -> Manager:
    """Changes made here are the admin API's, from the client's address, in the audit log."""
    return Manager(
        service.engine, service.master, "admin-api", client_ip(request, service.trusted_proxies)
    )


async def _add_key(request: Request, service: Service) -> Response:
    name = _str_field(await _body(request, service), "name")
    assert name is not None
    key, token = await db.write(service.engine, _manager(request, service).add_key, name)
    return _json({"ok": True, "key": key.public(), "token": token}, 201)


async def _revoke_key(request: Request, service: Service) -> Response:
    manager = _manager(request, service)
    key = await db.write(service.engine, manager.revoke_key, request.path_params["name"])
    return _json({"ok": True, "key": key.public()})


async def _list_grants(request: Request, service: Service) -> Response:
    q = request.query_params
    found = await db.run(GrantRegistry(service.engine).list, q.get("key"), q.get("site"))
    return _json({"ok": True, "grants": [g.public() for g in found]})


async def _put_grant(request: Request, service: Service) -> Response:
    body = await _body(request, service)
    key, site = _str_field(body, "key"), _str_field(body, "site")
    assert key is not None and site is not None
    rate = body.get("rate", DEFAULT_RATE)
    if isinstance(rate, bool) or not isinstance(rate, str | int | float):
        raise AdminError(400, "invalid_input", "rate must be like 60/min, or tokens per minute")
    burst = check_burst(body.get("burst", DEFAULT_BURST))
    expires = _str_field(body, "expires", required=False)
    grant = await db.write(
        service.engine,
        _manager(request, service).put_grant,
        key,
        site,
        parse_rate(str(rate)),
        burst,
        parse_expiry(expires) if expires else None,
    )
    return _json({"ok": True, "grant": grant.public()})


async def _remove_grant(request: Request, service: Service) -> Response:
    p = request.path_params
    manager = _manager(request, service)
    await db.write(service.engine, manager.remove_grant, p["name"], p["sitekey"])
    return _json({"ok": True})


async def _list_records(request: Request, service: Service) -> Response:
    q = request.query_params
    limit = q.get("limit", "100")
    # ASCII digits only (isdigit alone takes `²`, which int() refuses), and few of them
    # (int() refuses more than 4,300); RecordLog.list caps the number at MAX_LIST.
    if not (limit.isascii() and limit.isdigit() and len(limit) <= MAX_LIMIT_DIGITS):
        raise AdminError(
            400,
            "invalid_input",
            f"limit must be a whole number of at most {MAX_LIMIT_DIGITS} digits"
            f" (more than {MAX_LIST} gives {MAX_LIST})",
        )
    found = await db.run(RecordLog(service.engine).list, q.get("key"), q.get("site"), int(limit))
    return _json({"ok": True, "records": [r.public() for r in found]})


SITE_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "hostnames": (list,),
    "difficulty": (int,),
    "token_lifetime": (int,),
    "require_remoteip": (bool,),
    "bind_ip": (bool,),
    "adaptive": (bool,),
    "max_difficulty": (int,),
    "prefix_v4": (int,),
    "prefix_v6": (int,),
    "allowlist": (list,),
    "algorithm": (str,),
    "fallback": (str,),
}


async def _list_sites(request: Request, service: Service) -> Response:
    found = await db.run(SiteRegistry(service.engine).all)
    return _json({"ok": True, "sites": [s.public() for s in found]})


async def _patch_site(request: Request, service: Service) -> Response:
    """Change what the body names, with `passgate site update`'s rules (Manager.update_site):
    the same function, the same errors. `max_difficulty: 0` restores the default cap."""
    body = await _body(request, service)
    changes: dict[str, Any] = {}
    for name, value in body.items():
        kinds = SITE_FIELDS.get(name)
        if kinds is None:
            raise AdminError(400, "invalid_input", f"unknown site field {name!r}")
        is_bool = isinstance(value, bool)
        if not isinstance(value, kinds) or (is_bool and bool not in kinds):
            kind = {str: "string", int: "whole number", bool: "boolean", list: "list"}
            raise AdminError(400, "invalid_input", f"{name} must be a {kind[kinds[0]]}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise AdminError(400, "invalid_input", f"{name} must be a list of strings")
        changes[name] = value
    if changes.get("hostnames") == []:
        raise AdminError(400, "invalid_input", "a site needs at least one hostname")
    sitekey = request.path_params["sitekey"]
    if await db.run(SiteRegistry(service.engine).get, sitekey) is None:
        raise AdminError(404, "not_found", f"no site with sitekey {sitekey}")
    manager = _manager(request, service)
    site = await db.write(service.engine, lambda: manager.update_site(sitekey, **changes))
    service.forget_sites()
    return _json({"ok": True, "site": site.public()})


async def sites(request: Request) -> Response:
    return await _handle(request, _list_sites)


async def site(request: Request) -> Response:
    return await _handle(request, _patch_site)


async def keys(request: Request) -> Response:
    return await _handle(request, _add_key if request.method == "POST" else _list_keys)


async def revoke_key(request: Request) -> Response:
    return await _handle(request, _revoke_key)


async def grants(request: Request) -> Response:
    return await _handle(request, _put_grant if request.method == "POST" else _list_grants)


async def remove_grant(request: Request) -> Response:
    return await _handle(request, _remove_grant)


async def records(request: Request) -> Response:
    return await _handle(request, _list_records)


async def not_found(request: Request) -> Response:
    """Any other path under /api/admin answers in the admin shape."""
    return error_reply(404, "not_found", "no such admin endpoint")

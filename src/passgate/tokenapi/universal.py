"""`POST /api/wanda/hcaptcha/universal` (contract §A) and `GET /api/records/{id}`.

Every answer, success or not, is `{"status", "msg", "id", "data", "cost"}`, rendered by
`reply`, with the HTTP status of its outcome. Every universal call leaves a record; a token
is handed out only once its record is written.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from passgate.service import Service
from passgate.store import StoreUnavailable
from passgate.tokenapi import db, fields, issue, outcomes
from passgate.tokenapi.apikeys import ApiKey
from passgate.tokenapi.outcomes import BAD_INPUT, NOT_FOUND, OK, STORE_UNAVAILABLE, Outcome, Refusal
from passgate.tokenapi.records import RecordLog, call_record, new_id
from passgate.web import BadBody, BodyTooLarge, client_ip, read_json_object


def reply(
    outcome: Outcome,
    lang: str,
    record_id: str,
    started: float,
    data: dict[str, Any] | None = None,
    detail: str = "",
    retry_after: float = 0.0,
) -> Response:
    """The one shape of every answer on this wire format."""
    body = {
        "status": 1 if outcome is OK else 0,
        "msg": outcomes.message(outcome, lang, detail, retry_after),
        "id": record_id,
        "data": data,
        "cost": cost(started),
    }
    headers = {"Cache-Control": "no-store"}
    if outcome.status == 429:
        headers["Retry-After"] = str(outcomes.retry_seconds(retry_after))
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=outcome.status,
        media_type="application/json",
        headers=headers,
    )


def cost(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.2f}ms"


async def read_object(request: Request, service: Service) -> dict[str, Any]:
    """The JSON object body; Refusal(BAD_INPUT) when it is not one, or too large."""
    try:
        return await read_json_object(request, service.config.max_body_bytes)
    except BodyTooLarge:
        raise Refusal(BAD_INPUT, "the request body is too large") from None
    except BadBody as exc:
        raise Refusal(BAD_INPUT, str(exc)) from None


async def endpoint(request: Request) -> Response:
    started = time.perf_counter()
    service: Service = request.app.state.service
    lang = outcomes.language(request.headers.get("accept-language"))
    now = time.time()
    record_id = new_id()
    key: ApiKey | None = None
    req: fields.TokenRequest | None = None
    developer: str | None = None
    data: dict[str, Any] | None = None
    token_id: str | None = None
    refusal: Refusal | None = None
    sitekey = ""  # a registered site's, once authorized: the counters' site
    try:
        developer = fields.developer_id(request.headers.get("developer-id"))
        key = await issue.authenticate(service, request.headers.get("user-token"))
        req = fields.universal(await read_object(request, service))
        permit = await issue.authorize(service, key, req.sitekey, req.referer, now)
        sitekey = permit.sitekey if permit.site is not None else ""
        await issue.take(service, permit, now)
        minted = await issue.mint(
            service,
            permit,
            now,
            rqdata=req.rqdata,
            invisible=req.invisible,
            bound_ip=req.proxy_ip or client_ip(request, service.trusted_proxies),
            action=req.action,
            cdata=req.cdata,
        )
        data = {"generated_pass_UUID": minted.token}
        if req.need_ekey:
            data["ekey"] = minted.ekey
        token_id = minted.token_id
    except Refusal as exc:
        refusal = exc
    outcome = refusal.outcome if refusal else OK
    service.stats.tokenapi(key.name if key else None, sitekey, outcome.code, now)
    record = call_record(
        record_id,
        "universal",
        outcome.code,
        outcome.status,
        started,
        now,
        key,
        req,
        developer,
        token_id,
    )
    try:
        await db.write(service.engine, RecordLog(service.engine).add, record)
    except StoreUnavailable:
        return reply(STORE_UNAVAILABLE, lang, record_id, started)  # no record, no token
    if refusal is not None:
        return reply(outcome, lang, record_id, started, None, refusal.detail, refusal.retry_after)
    return reply(OK, lang, record_id, started, data)


async def record(request: Request) -> Response:
    """`GET /api/records/{id}`: a record, for the key that made it only."""
    started = time.perf_counter()
    service: Service = request.app.state.service
    lang = outcomes.language(request.headers.get("accept-language"))
    record_id = request.path_params["record_id"][:64]
    try:
        key = await issue.authenticate(service, request.headers.get("user-token"))
        found = await db.run(RecordLog(service.engine).get, record_id)
    except Refusal as exc:
        return reply(exc.outcome, lang, record_id, started, None, exc.detail)
    except StoreUnavailable:
        return reply(STORE_UNAVAILABLE, lang, record_id, started)
    if found is None or found.key_id != key.id:
        return reply(NOT_FOUND, lang, record_id, started)
    return reply(OK, lang, record_id, started, found.public())

"""`POST /api/createJob` and `POST /api/getJobResult` (contract §B).

Errors answer `{"error": true, "message": ...}`, rendered by `error_reply`, with the HTTP
status of their outcome (as in the universal call). Polls are not records.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from passgate.service import Service
from passgate.store import StoreUnavailable
from passgate.tokenapi import db, fields, issue, jobs, outcomes
from passgate.tokenapi.apikeys import ApiKey
from passgate.tokenapi.jobs import FAIL, SUCCESS, Job, JobStore
from passgate.tokenapi.outcomes import (
    BAD_INPUT,
    BY_CODE,
    JOB_CREATED,
    STORE_UNAVAILABLE,
    UNKNOWN_JOB,
    Outcome,
    Refusal,
)
from passgate.tokenapi.records import RecordLog, call_record, new_id
from passgate.tokenapi.universal import read_object
from passgate.web import client_ip

JOB_TYPES = ("11", 11)


def _json(
    body: dict[str, Any], status: int = 200, background: BackgroundTask | None = None
) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
        background=background,
    )


def error_reply(
    outcome: Outcome, lang: str, detail: str = "", retry_after: float = 0.0
) -> Response:
    """The one error shape of the job API."""
    body = {"error": True, "message": outcomes.message(outcome, lang, detail, retry_after)}
    return _json(body, outcome.status)


def _job_id(value: object) -> int:
    """An integer, or a string of 1 to 18 ASCII digits (str.isdigit alone takes `²`, which
    int() refuses, and `١`, which it reads as 1)."""
    if isinstance(value, bool):
        raise Refusal(BAD_INPUT, "job_id must be an integer")
    if isinstance(value, int) and -(2**63) <= value < 2**63:  # the store's integer range
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) < 19:  # below 2**63
            return int(text)
    raise Refusal(BAD_INPUT, "job_id must be an integer")


async def create(request: Request) -> Response:
    started = time.perf_counter()
    service: Service = request.app.state.service
    lang = outcomes.language(request.headers.get("accept-language"))
    now = time.time()
    record_id = new_id()
    key: ApiKey | None = None
    req: fields.TokenRequest | None = None
    developer: str | None = None
    try:
        developer = fields.developer_id(request.headers.get("developer-id"))
        body = await read_object(request, service)
        key = await issue.authenticate(service, body.get("api_token"))
        data = body.get("data")
        if not isinstance(data, dict):
            raise Refusal(BAD_INPUT, "data must be an object")
        if data.get("type_job_id") not in JOB_TYPES:
            raise Refusal(BAD_INPUT, 'type_job_id must be "11" (an hCaptcha token job)')
        req = fields.job(data)
        permit = await issue.authorize(service, key, req.sitekey, req.referer, now)
    except Refusal as exc:
        service.stats.tokenapi(key.name if key else None, "", exc.outcome.code, now)
        refused = call_record(
            record_id,
            "job",
            exc.outcome.code,
            exc.outcome.status,
            started,
            now,
            key,
            req,
            developer,
        )
        try:
            await db.write(service.engine, RecordLog(service.engine).add, refused)
        except StoreUnavailable:
            return error_reply(STORE_UNAVAILABLE, lang)
        return error_reply(exc.outcome, lang, exc.detail)
    job = Job(
        id=0,
        key_id=key.id,
        record_id=record_id,
        sitekey=req.sitekey,
        hostname=permit.hostname,
        created_at=now,
        deadline_at=now + service.config.job_deadline,
        next_attempt_at=now,
        rqdata=req.rqdata,
        bound_ip=req.proxy_ip or client_ip(request, service.trusted_proxies),
        invisible=req.invisible,
        need_ekey=req.need_ekey,
        action=req.action,
        cdata=req.cdata,
    )
    record = call_record(record_id, "job", jobs.RUNNING, 200, started, now, key, req, developer)
    try:
        job = await db.write(service.engine, JobStore(service.engine).create, job, record)
    except StoreUnavailable:
        return error_reply(STORE_UNAVAILABLE, lang)
    body = {"error": False, "job_id": job.id, "message": outcomes.message(JOB_CREATED, lang)}
    # The first attempt runs once the answer is sent; the worker retries what it leaves.
    return _json(body, background=BackgroundTask(_first_attempt, service, job.id))


async def _first_attempt(service: Service, job_id: int) -> None:
    try:
        await jobs.attempt(service, job_id)
    except StoreUnavailable:
        pass  # durable: the worker picks it up


async def result(request: Request) -> Response:
    service: Service = request.app.state.service
    lang = outcomes.language(request.headers.get("accept-language"))
    now = time.time()
    try:
        body = await read_object(request, service)
        key = await issue.authenticate(service, body.get("api_token"))
        job_id = _job_id(body.get("job_id"))
        job = await db.run(JobStore(service.engine).get, job_id)
    except Refusal as exc:
        return error_reply(exc.outcome, lang, exc.detail)
    except StoreUnavailable:
        return error_reply(STORE_UNAVAILABLE, lang)
    if job is None or job.key_id != key.id:
        return error_reply(UNKNOWN_JOB, lang)
    status = job.status_at(now)
    answer: dict[str, Any] = {
        "error": False,
        "status": status,
        "result": job.result if status == SUCCESS else "",
    }
    if status == SUCCESS and job.ekey:
        answer["ekey"] = job.ekey
    if status == FAIL:
        ended = BY_CODE.get(job.outcome or "") or outcomes.DEADLINE_PASSED
        answer["message"] = outcomes.message(ended, lang)
    return _json(answer)

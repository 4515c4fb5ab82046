"""`POST /turnstile/v0/siteverify`: Turnstile's verify interface (docs/turnstile.md), its
published test keys, and `idempotency_key` retries, over the verification core
(passgate.verify). Any passgate token of the site verifies here, once."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from passgate import verify
from passgate.service import Service
from passgate.sites import SECRET_RE
from passgate.siteverify.hcaptcha import score_of
from passgate.siteverify.recaptcha import without_bad_remoteip
from passgate.store import StoreUnavailable
from passgate.store.idempotency import IdempotencyStore, result_id
from passgate.tokenapi import db
from passgate.verify import Verdict, failure, iso_ms
from passgate.web import FastJSON

INTERFACE = "turnstile"
FIELDS = ("secret", "response", "remoteip", "idempotency_key")
ERROR_CODES = (  # Turnstile's (docs/turnstile.md)
    "missing-input-secret",
    "invalid-input-secret",
    "missing-input-response",
    "invalid-input-response",
    "bad-request",
    "timeout-or-duplicate",
    "internal-error",
)
CODES = {  # the core's (hCaptcha's) codes in Turnstile's words
    verify.MISSING_SECRET: "missing-input-secret",
    verify.INVALID_SECRET: "invalid-input-secret",
    verify.MISSING_RESPONSE: "missing-input-response",
    verify.EXPIRED: "timeout-or-duplicate",
    verify.SPENT: "timeout-or-duplicate",
    verify.BAD_REQUEST: "bad-request",
    verify.INTERNAL: "internal-error",
}  # every other problem with the token (bindings, another site's) is invalid-input-response
RETRY_WAIT = 1.0  # seconds a retry waits for the first request's result to be stored
DUMMY_TOKEN = "XXXX.DUMMY.TOKEN.XXXX"  # noqa: S105 - published


@dataclass(frozen=True)
class TestSecret:
    """A published test secret and what it answers, for any response."""

    secret: str
    success: bool
    code: str = ""


TEST_SECRETS = {
    t.secret: t
    for t in (
        TestSecret("1x0000000000000000000000000000000AA", True),
        TestSecret("2x0000000000000000000000000000000AA", False, "invalid-input-response"),
        TestSecret("3x0000000000000000000000000000000AA", False, "timeout-or-duplicate"),
    )
}
TEST_SITEKEYS = {  # sitekey: (passes, invisible, needs a click): docs/turnstile.md
    "1x00000000000000000000AA": (True, False, False),
    "2x00000000000000000000AB": (False, False, False),
    "1x00000000000000000000BB": (True, True, False),
    "2x00000000000000000000BB": (False, True, False),
    "3x00000000000000000000FF": (True, False, True),
}
TEST_HOSTNAME = "example.com"


def translate(codes: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(CODES.get(c, "invalid-input-response") for c in codes))


def success(verdict: Verdict) -> dict[str, Any]:
    tok = verdict.token
    assert tok is not None
    return {
        "success": True,
        "challenge_ts": iso_ms(tok.issued_ms),
        "hostname": tok.hostname,
        "error-codes": [],
        "action": tok.action,
        "cdata": tok.cdata,
        "metadata": {"interactive": False},  # a proof of work never asks for a click
        "score_reason": score_of(tok)[1],  # passgate's extension; clients ignore it
    }


TESTING = {"metadata": {"result_with_testing_key": True}}  # backends refuse these in production


def _test_answer(test: TestSecret, response: str) -> dict[str, Any]:
    """docs/turnstile.md §8: the test secrets take only the dummy token."""
    if not response:
        return failure("missing-input-response")
    if not test.success:
        return {**failure(test.code), **TESTING}
    if response != DUMMY_TOKEN:
        return failure("invalid-input-secret")
    return {
        "success": True,
        "challenge_ts": iso_ms(int(time.time() * 1000)),
        "hostname": TEST_HOSTNAME,
        "error-codes": [],
        "action": "",
        "cdata": "",
        **TESTING,
    }


def reply(body: dict[str, Any]) -> Response:
    return FastJSON(body)


async def get(request: Request) -> Response:
    """`GET`: Turnstile's siteverify takes POST only (docs/turnstile.md §6)."""
    return reply(failure("bad-request"))


async def endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    params = await verify.params_of(service, request, INTERFACE, FIELDS)
    if params is None:
        return reply(failure("bad-request"))
    return reply(await answer(service, params, time.time()))


async def answer(service: Service, params: dict[str, str], now: float) -> dict[str, Any]:
    """The answer for `params` (FIELDS), counted (passgate.stats)."""
    body, verdict = await _answer(service, params, now)
    verify.count(service, INTERFACE, verdict, ok=body["success"])
    return body


async def _answer(
    service: Service, params: dict[str, str], now: float
) -> tuple[dict[str, Any], Verdict]:
    secret, response = params.get("secret", ""), params.get("response", "")
    test = TEST_SECRETS.get(secret)
    if test is not None:
        body = _test_answer(test, response)
        return body, verify.failed(*body["error-codes"])
    key = params.get("idempotency_key") or ""
    if key and not _is_uuid(key):
        return failure("bad-request"), verify.failed(verify.BAD_REQUEST)
    if response == DUMMY_TOKEN and secret:  # a test sitekey's token with a real secret
        return failure("invalid-input-response"), verify.failed(verify.INVALID_RESPONSE)
    store = IdempotencyStore(service.engine)
    try:
        rid = await _result_id(service, key, secret, response)
        if rid:
            stored = await db.run(store.get, rid, now)
            if stored is not None:
                return stored, _stored_verdict(stored)
        core = {k: v for k, v in params.items() if k in ("secret", "response", "remoteip")}
        core = without_bad_remoteip(core)
        verdict = await verify.check(service, core, now, INTERFACE)
        if verdict.ok and rid:
            assert verdict.token is not None
            first = await db.write(
                service.engine, store.put, rid, verdict.sitekey, success(verdict),
                verdict.token.expires_ms / 1000, now,
            )  # fmt: skip
            return first, verdict
        if rid and verify.SPENT in verdict.codes:  # a retry racing the first request
            stored = await _wait_for(store, rid)
            if stored is not None:
                return stored, _stored_verdict(stored)
    except StoreUnavailable:
        return failure("internal-error"), verify.failed(verify.INTERNAL)
    if not verdict.ok:
        return failure(*translate(verdict.codes)), verdict
    return success(verdict), verdict


async def _result_id(service: Service, key: str, secret: str, response: str) -> str:
    """The stored answer's id for (key, site, token), or "" when there is none to keep or
    find: no key, no token, or a secret of no site. The site is the secret's, so a retry
    with another site's secret, or none, is a new verification and fails as one (docs/
    turnstile.md §7). Raises StoreUnavailable."""
    if not key or not response or not secret or not SECRET_RE.match(secret):
        return ""
    site = await service.site_by_secret(secret)
    if site is None:
        return ""
    return result_id(key, site.sitekey + "\x00" + response)


async def _wait_for(store: IdempotencyStore, rid: str) -> dict[str, Any] | None:
    """The first request's result, once it is stored (within RETRY_WAIT), or None."""
    deadline = time.monotonic() + RETRY_WAIT
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        stored = await db.run(store.get, rid, time.time())
        if stored is not None:
            return stored
    return None


def _stored_verdict(stored: dict[str, Any]) -> Verdict:
    """A retry answered from the store: counted as the first answer was."""
    return verify.failed() if stored.get("success") else verify.failed(verify.SPENT)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) in (32, 36)

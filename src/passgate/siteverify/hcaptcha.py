"""`POST /siteverify`: hCaptcha's verify contract (shared/contracts/hcaptcha-compat.md §5),
its published test keys (§6), over the verification core (passgate.verify)."""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from passgate import testkeys, verify
from passgate.service import Service
from passgate.token import PassToken
from passgate.verify import FIELDS, INVALID_RESPONSE, Verdict, failure, iso_ms
from passgate.web import FastJSON

INTERFACE = "hcaptcha"
ERROR_CODES = (  # the contract's table (§5), in its order
    "missing-input-secret",
    "invalid-input-secret",
    "missing-input-response",
    "invalid-input-response",
    "expired-input-response",
    "already-seen-response",
    "bad-request",
    "missing-remoteip",
    "invalid-remoteip",
    "sitekey-secret-mismatch",
    "invalid-sitekey",
    "not-using-dummy-secret",
    "not-using-dummy-passcode",
    "rqdata-mismatch",
    "internal-error",
)
_NAME_RE = re.compile(r"[^a-z0-9_]")


def reply(body: dict[str, Any]) -> Response:
    return FastJSON(body)


async def get(request: Request) -> Response:
    """`GET /siteverify?secret=...&response=...`: the hcaptcha Ruby gem (Mastodon's) verifies
    with GET and the parameters in the query string; without them, `bad-request`."""
    if not request.scope["query_string"]:
        return reply(failure("bad-request"))
    return await endpoint(request)


async def endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    params = await verify.params_of(service, request, INTERFACE)
    if params is None:
        return reply(failure("bad-request"))
    return reply(await answer(service, params, time.time()))


async def answer(service: Service, params: dict[str, str], now: float) -> dict[str, Any]:
    """The siteverify answer for `params` (verify.FIELDS), counted (passgate.stats)."""
    body, verdict = await _check(service, params, now)
    if not body["success"] and not verdict.codes:  # a test key's own failure
        verdict = verify.failed(*body["error-codes"], sitekey=verdict.sitekey)
    verify.count(service, INTERFACE, verdict, ok=body["success"])
    return body


async def _check(
    service: Service, params: dict[str, str], now: float
) -> tuple[dict[str, Any], Verdict]:
    response, secret = params.get("response", ""), params.get("secret", "")
    test = testkeys.BY_TOKEN.get(response)
    if test is not None or params.get("sitekey") in testkeys.BY_SITEKEY:
        early = verify.failed(*([] if response else ["missing-input-response"]),
                              *([] if secret else ["missing-input-secret"]))  # fmt: skip
        return _verify_test(test, secret, params.get("sitekey"), list(early.codes)), early
    if secret == testkeys.TEST_SECRET and response:
        codes = [] if secret else ["missing-input-secret"]
        verdict = verify.failed(*codes, INVALID_RESPONSE)
        return failure(*verdict.codes), verdict
    verdict = await verify.check(service, params, now, INTERFACE)
    if not verdict.ok:
        return failure(*verdict.codes), verdict
    assert verdict.token is not None
    return success(verdict.token), verdict


async def verify_params(
    service: Service, params: dict[str, str], now: float | None = None
) -> dict[str, Any]:
    """The answer for `params` at `now` (default: the present), counted: for callers
    outside a request (the demo's backend, tests)."""
    return await answer(service, params, time.time() if now is None else now)


def success(tok: PassToken) -> dict[str, Any]:
    """The success body. The score and its reasons were decided when the token was minted
    (abuse.score, bound into it): token-API tokens are 0.0 `["automation", "key_NAME"]`,
    the sanctioned door for the site's own automation; a widget token of the previous
    release is 0.0 `["proof_of_work"]`."""
    score, reasons = score_of(tok)
    body: dict[str, Any] = {
        "success": True,
        "challenge_ts": iso_ms(tok.issued_ms),
        "hostname": tok.hostname,
        "credit": False,
        "score": score,
        "score_reason": reasons,
        "sitekey": tok.sitekey,
    }
    if tok.rqdata_sha256:
        body["rqdata_sha256"] = tok.rqdata_sha256
    return body


def score_of(tok: PassToken) -> tuple[float, list[str]]:
    """The risk score (0.0 = human) and `score_reason` of a token, hCaptcha's direction."""
    if tok.source.startswith("key:"):
        return 0.0, ["automation", "key_" + _NAME_RE.sub("_", tok.source[4:])]
    if tok.score is None:
        return 0.0, ["proof_of_work"]
    return tok.score, list(tok.reasons)


def _verify_test(
    test: testkeys.TestKey | None, secret: str, sitekey: str | None, errors: list[str]
) -> dict[str, Any]:
    """The published test keys: fixed answers, verifiable any number of times."""
    host = {"hostname": testkeys.TEST_HOSTNAME}
    if errors:
        return failure(*errors)
    if secret != testkeys.TEST_SECRET:
        code = "not-using-dummy-secret" if test is not None else "not-using-dummy-passcode"
        return failure(code, **host)
    if test is None:
        return failure("invalid-input-response")
    if sitekey is not None and sitekey != test.sitekey:
        return failure("sitekey-secret-mismatch", **host)
    body: dict[str, Any] = {
        "success": True,
        "challenge_ts": iso_ms(int(time.time() * 1000)),
        "credit": False,
        "score": 0.0,
        "score_reason": [],
        "sitekey": test.sitekey,
        **host,
    }
    body.update(test.extra)
    return body


__all__ = ["ERROR_CODES", "FIELDS", "endpoint", "failure", "get", "reply", "verify_params"]

"""`POST /recaptcha/api/siteverify`: reCAPTCHA's verify interface, v2 and v3 alike
(docs/recaptcha.md), and its published v2 test pair, over the verification core
(passgate.verify). Any passgate token of the site verifies here, once, with `score` in
reCAPTCHA's direction (1.0 = very likely human) and its bound `action`."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from passgate import addresses, verify
from passgate.service import Service
from passgate.siteverify.hcaptcha import score_of
from passgate.verify import Verdict, failure
from passgate.web import FastJSON

INTERFACE = "recaptcha"
FIELDS = ("secret", "response", "remoteip")
ERROR_CODES = (  # reCAPTCHA's (docs/recaptcha.md), then passgate's fail-closed extension
    "missing-input-secret",
    "invalid-input-secret",
    "missing-input-response",
    "invalid-input-response",
    "bad-request",
    "timeout-or-duplicate",
    "internal-error",
)
CODES = {
    verify.MISSING_SECRET: "missing-input-secret",
    verify.INVALID_SECRET: "invalid-input-secret",
    verify.MISSING_RESPONSE: "missing-input-response",
    verify.EXPIRED: "timeout-or-duplicate",
    verify.SPENT: "timeout-or-duplicate",
    verify.BAD_REQUEST: "bad-request",
    verify.INTERNAL: "internal-error",
}  # every other problem with the token is invalid-input-response
TEST_SITEKEY = "6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI"  # the published v2 test pair
TEST_SECRET = "6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe"  # noqa: S105 - published
TEST_TOKEN = "passgate-recaptcha-test-token"  # noqa: S105 - what its widget hands out
TEST_HOSTNAME = "testkey.google.com"  # what the published test secret answers


def without_bad_remoteip(params: dict[str, str]) -> dict[str, str]:
    """`remoteip` is not strictly validated here, as at Google's and Cloudflare's: a value
    that is not an address (django-recaptcha sends `None`) counts as absent."""
    remoteip = params.get("remoteip")
    if remoteip and addresses.parse(remoteip) is None:
        return {k: v for k, v in params.items() if k != "remoteip"}
    return params


def iso_s(ms: int) -> str:
    """reCAPTCHA's timestamp: ISO 8601 UTC to the second (`2026-11-22T10:41:06Z`)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def success(verdict: Verdict) -> dict[str, Any]:
    tok = verdict.token
    assert tok is not None
    risk, reasons = score_of(tok)
    body: dict[str, Any] = {
        "success": True,
        "challenge_ts": iso_s(tok.issued_ms),
        "hostname": tok.hostname,
        "score": float(round(1.0 - risk, 2)),  # reCAPTCHA's direction: 1.0 = likely human
    }
    if tok.action:  # omitted when none was bound, as Google omits it (docs/recaptcha.md §6)
        body["action"] = tok.action
    body["score_reason"] = reasons  # passgate's extension; clients ignore it
    return body


async def endpoint(request: Request) -> Response:
    """POST, or GET with the parameters in the query string (the hcaptcha and recaptcha
    Ruby gems verify with GET)."""
    service: Service = request.app.state.service
    params = await verify.params_of(service, request, INTERFACE, FIELDS)
    if params is None:
        return FastJSON(failure("bad-request"))
    return FastJSON(await answer(service, params, time.time()))


async def answer(service: Service, params: dict[str, str], now: float) -> dict[str, Any]:
    """The answer for `params` (FIELDS), counted (passgate.stats)."""
    if params.get("secret") == TEST_SECRET:  # passes any response, on any host
        verdict = verify.failed(*([] if params.get("response") else [verify.MISSING_RESPONSE]))
        ok = not verdict.codes
        verify.count(service, INTERFACE, verdict, ok=ok)
        if not ok:
            return failure("missing-input-response")
        stamp = iso_s(int(now * 1000))
        return {"success": True, "challenge_ts": stamp, "hostname": TEST_HOSTNAME, "score": 1.0}
    verdict = await verify.check(service, without_bad_remoteip(params), now, INTERFACE)
    verify.count(service, INTERFACE, verdict)
    if not verdict.ok:
        codes = (CODES.get(c, "invalid-input-response") for c in verdict.codes)
        return failure(*codes)
    return success(verdict)

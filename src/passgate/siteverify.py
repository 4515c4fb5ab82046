"""`POST /siteverify`: hCaptcha's verify contract. Every check runs before the token is spent."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from passgate import addresses, testkeys
from passgate.service import Service
from passgate.sites import SECRET_RE, SITEKEY_RE
from passgate.stats import WIDGET
from passgate.store import SpendRefused, StoreUnavailable
from passgate.token import PassToken, TokenError, rqdata_digest
from passgate.web import BadBody, BodyTooLarge, FastJSON, parse_json_object, read_body

FIELDS = ("secret", "response", "remoteip", "sitekey", "rqdata")
VERBATIM = frozenset({"rqdata"})  # opaque: compared exactly as bound (contract §5)
MAX_FIELD = 8192
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


def failure(*codes: str, **extra: Any) -> dict[str, Any]:
    return {"success": False, "error-codes": list(dict.fromkeys(codes)), **extra}


INTERFACE = "hcaptcha"


async def get(request: Request) -> Response:
    """`GET /siteverify`: siteverify needs POST, and says so in its own shape."""
    return reply(failure("bad-request"))


async def endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    try:
        params = await read_params(request, service.config.max_body_bytes)
    except (BadBody, BodyTooLarge):
        service.stats.verified(INTERFACE, "", "bad-request", "", time.time())
        return reply(failure("bad-request"))
    now = time.time()
    body, sitekey, source = await check(service, params, now)
    count(service, body, sitekey, source, now)
    return reply(body)


def count(service: Service, body: dict[str, Any], sitekey: str, source: str, now: float) -> None:
    """Count an answer by its outcome: "success" or its first error code (passgate.stats)."""
    codes = body.get("error-codes") or ("bad-request",)
    outcome = "success" if body["success"] else codes[0]
    service.stats.verified(INTERFACE, sitekey, outcome, source, now)


async def read_params(request: Request, limit: int) -> dict[str, str]:
    """Query string, then the body (urlencoded, multipart or JSON) over it."""
    params: dict[str, Any] = dict(request.query_params) if request.scope["query_string"] else {}
    body = await read_body(request, limit)
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if body or ctype == "multipart/form-data":
        if ctype == "application/x-www-form-urlencoded":
            try:
                params.update(
                    parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
                )
            except UnicodeDecodeError:
                raise BadBody("not UTF-8") from None
        elif ctype == "multipart/form-data":
            boundary = request.headers["content-type"].partition("boundary=")[2].strip('" ')
            if not boundary or b"--" + boundary.encode() + b"--" not in body:
                raise BadBody("incomplete multipart body")
            try:
                form = await request.form(max_files=0, max_fields=32)
            except Exception:  # noqa: BLE001 - python-multipart raises several types
                raise BadBody("unreadable multipart body") from None
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        elif ctype == "application/json":
            params.update(parse_json_object(body))
        else:
            raise BadBody(f"unsupported content type {ctype!r}")
    out: dict[str, str] = {}
    for name in FIELDS:
        value = params.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > MAX_FIELD:
            raise BadBody(f"{name} must be a string")
        out[name] = value if name in VERBATIM else value.strip()
    return out


async def verify(
    service: Service, params: dict[str, str], now: float | None = None
) -> dict[str, Any]:
    """The siteverify answer for `params` (FIELDS), counted (passgate.stats) by its outcome:
    "success" or its first error code."""
    body, sitekey, source = await check(service, params, time.time() if now is None else now)
    count(service, body, sitekey, source, time.time())
    return body


async def check(
    service: Service, params: dict[str, str], now: float
) -> tuple[dict[str, Any], str, str]:
    """The verification core: (answer, the sitekey it concerned or "", who earned a
    successful token: "widget" or "key:NAME", else ""). The token is spent only when every
    other check passed."""
    seen = ""
    secret = params.get("secret", "")
    response = params.get("response", "")
    sitekey = params.get("sitekey")
    remoteip = params.get("remoteip")
    rqdata = params.get("rqdata")

    errors: list[str] = []
    if not response:
        errors.append("missing-input-response")
    if not secret:
        errors.append("missing-input-secret")

    test = testkeys.BY_TOKEN.get(response)
    if test is not None or (sitekey in testkeys.BY_SITEKEY):
        return _verify_test(test, secret, sitekey, errors), seen, ""
    if secret == testkeys.TEST_SECRET and response:
        return failure(*errors, "invalid-input-response"), seen, ""

    site = None
    if secret:
        if not SECRET_RE.match(secret):
            errors.append("invalid-input-secret")
        else:
            try:
                site = await service.site_by_secret(secret)
            except StoreUnavailable:
                return failure("internal-error"), seen, ""
            if site is None:
                errors.append("invalid-input-secret")
            else:
                seen = site.sitekey
    if sitekey is not None:
        if not SITEKEY_RE.match(sitekey):
            errors.append("invalid-sitekey")
        elif site is not None and sitekey != site.sitekey:
            errors.append("sitekey-secret-mismatch")
    if remoteip is not None and remoteip != "":
        if addresses.parse(remoteip) is None:
            errors.append("invalid-remoteip")
    elif site is not None and site.require_remoteip:
        errors.append("missing-remoteip")

    tok: PassToken | None = None
    if response:
        try:
            tok = await service.decode_token(response)
        except TokenError:
            errors.append("invalid-input-response")
        except StoreUnavailable:
            return failure("internal-error"), seen, ""
    if tok is not None:
        seen = seen or tok.sitekey  # signed here: a site that was registered
        if site is not None and tok.sitekey != site.sitekey:
            errors.append("sitekey-secret-mismatch")
        if now * 1000 > tok.expires_ms:
            errors.append("expired-input-response")
        if (
            site is not None
            and site.bind_ip
            and tok.bound_ip
            and remoteip
            and addresses.parse(remoteip) is not None
            and not addresses.same(remoteip, tok.bound_ip)
        ):
            errors.append("invalid-remoteip")
        if rqdata is not None and rqdata_digest(rqdata) != tok.rqdata_sha256:
            errors.append("rqdata-mismatch")
    if errors or tok is None:
        return failure(*errors), seen, ""

    try:
        first = await service.spends.spend(
            tok.spend_key, tok.expires_ms / 1000, issued_at=tok.issued_ms / 1000, epoch=tok.epoch
        )
    except SpendRefused:  # minted before Redis restarted empty: never verifiable again
        return failure("expired-input-response"), seen, ""
    except StoreUnavailable:
        return failure("internal-error"), seen, ""
    if not first:
        service.stats.replay(INTERFACE, tok.sitekey, now)
        return failure("already-seen-response"), seen, ""
    return _success(tok), seen, tok.source if tok.source.startswith("key:") else WIDGET


def _success(tok: PassToken) -> dict[str, Any]:
    """The success body. The score and its reasons were decided when the token was minted
    (abuse.score, bound into it): token-API tokens are 0.0 `["automation", "key_NAME"]`,
    the sanctioned door for the site's own automation; a widget token of the previous
    release is 0.0 `["proof_of_work"]`."""
    score = 0.0
    if tok.source.startswith("key:"):
        reasons = ["automation", "key_" + _NAME_RE.sub("_", tok.source[4:])]
    elif tok.score is None:
        reasons = ["proof_of_work"]
    else:
        score, reasons = tok.score, list(tok.reasons)
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


def iso_ms(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"

"""The verification core behind the three siteverify interfaces (passgate.siteverify):
read the parameters, check the secret, token and bindings, and spend the token only when
every other check passed. Each interface answers the `Verdict` in its own shape."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from passgate import addresses
from passgate.service import Service
from passgate.sites import SECRET_RE, SITEKEY_RE
from passgate.stats import WIDGET
from passgate.store import SpendRefused, StoreUnavailable
from passgate.token import PassToken, TokenError, rqdata_digest
from passgate.web import BadBody, BodyTooLarge, parse_json_object, read_body

FIELDS = ("secret", "response", "remoteip", "sitekey", "rqdata")
VERBATIM = frozenset({"rqdata"})  # opaque: compared exactly as bound (contract §5)
MAX_FIELD = 8192

# The core's codes are hCaptcha's (its contract §5); the other interfaces translate them.
MISSING_SECRET, INVALID_SECRET = "missing-input-secret", "invalid-input-secret"
MISSING_RESPONSE, INVALID_RESPONSE = "missing-input-response", "invalid-input-response"
EXPIRED, SPENT, BAD_REQUEST = "expired-input-response", "already-seen-response", "bad-request"
MISSING_REMOTEIP, INVALID_REMOTEIP = "missing-remoteip", "invalid-remoteip"
MISMATCH, INVALID_SITEKEY = "sitekey-secret-mismatch", "invalid-sitekey"
RQDATA_MISMATCH, INTERNAL = "rqdata-mismatch", "internal-error"


class Verdict:
    """What the core found: the spent `token` on success, else the `codes` of every
    problem (hCaptcha's names); `sitekey` is the site it concerned ("" when none), `source`
    who earned a successful token ("widget" or "key:NAME"). A plain slotted class: one is
    made per siteverify, on the hot path."""

    __slots__ = ("codes", "sitekey", "source", "token")

    def __init__(
        self,
        token: PassToken | None = None,
        codes: tuple[str, ...] = (),
        sitekey: str = "",
        source: str = "",
    ) -> None:
        self.token, self.codes, self.sitekey, self.source = token, codes, sitekey, source

    @property
    def ok(self) -> bool:
        return self.token is not None and not self.codes


def failed(*codes: str, sitekey: str = "") -> Verdict:
    return Verdict(codes=tuple(dict.fromkeys(codes)), sitekey=sitekey)


def failure(*codes: str, **extra: Any) -> dict[str, Any]:
    """The failure body all three interfaces share: `{"success": false, "error-codes"}`,
    each code once, in order, plus `extra` fields."""
    return {"success": False, "error-codes": list(dict.fromkeys(codes)), **extra}


async def params_of(
    service: Service, request: Request, interface: str, fields: tuple[str, ...] = FIELDS
) -> dict[str, str] | None:
    """`read_params`, or None for a request that cannot be read (counted as BAD_REQUEST at
    `interface`), which every interface answers `bad-request`."""
    try:
        return await read_params(request, service.config.max_body_bytes, fields)
    except (BadBody, BodyTooLarge):
        count(service, interface, failed(BAD_REQUEST))
        return None


async def read_params(
    request: Request, limit: int, fields: tuple[str, ...] = FIELDS
) -> dict[str, str]:
    """`fields` from the query string, then the body (urlencoded, multipart or JSON) over
    it; trimmed, but for VERBATIM ones. Raises BadBody or BodyTooLarge."""
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
    for name in fields:
        value = params.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > MAX_FIELD:
            raise BadBody(f"{name} must be a string")
        out[name] = value if name in VERBATIM else value.strip()
    return out


async def check(service: Service, params: dict[str, str], now: float, interface: str) -> Verdict:
    """Verify `params` (FIELDS) for a passgate token; `interface` names the endpoint, for
    the replay counter. The token is spent only when every other check passed; a store
    that cannot confirm it unspent answers INTERNAL (fail closed)."""
    seen = ""
    secret = params.get("secret", "")
    response = params.get("response", "")
    sitekey = params.get("sitekey")
    remoteip = params.get("remoteip")
    rqdata = params.get("rqdata")

    errors: list[str] = []
    if not response:
        errors.append(MISSING_RESPONSE)
    if not secret:
        errors.append(MISSING_SECRET)

    site = None
    if secret:
        if not SECRET_RE.match(secret):
            errors.append(INVALID_SECRET)
        else:
            try:
                site = await service.site_by_secret(secret)
            except StoreUnavailable:
                return failed(INTERNAL)
            if site is None:
                errors.append(INVALID_SECRET)
            else:
                seen = site.sitekey
    if sitekey is not None:
        if not SITEKEY_RE.match(sitekey):
            errors.append(INVALID_SITEKEY)
        elif site is not None and sitekey != site.sitekey:
            errors.append(MISMATCH)
    if remoteip is not None and remoteip != "":
        if addresses.parse(remoteip) is None:
            errors.append(INVALID_REMOTEIP)
    elif site is not None and site.require_remoteip:
        errors.append(MISSING_REMOTEIP)

    tok: PassToken | None = None
    if response:
        try:
            tok = await service.decode_token(response)
        except TokenError:
            errors.append(INVALID_RESPONSE)
        except StoreUnavailable:
            return failed(INTERNAL, sitekey=seen)
    if tok is not None:
        seen = seen or tok.sitekey  # signed here: a site that was registered
        if site is not None and tok.sitekey != site.sitekey:
            errors.append(MISMATCH)
        if now * 1000 > tok.expires_ms:
            errors.append(EXPIRED)
        if (
            site is not None
            and site.bind_ip
            and tok.bound_ip
            and remoteip
            and addresses.parse(remoteip) is not None
            and not addresses.same(remoteip, tok.bound_ip)
        ):
            errors.append(INVALID_REMOTEIP)
        if rqdata is not None and rqdata_digest(rqdata) != tok.rqdata_sha256:
            errors.append(RQDATA_MISMATCH)
    if errors or tok is None:
        return failed(*errors, sitekey=seen)

    try:
        first = await service.spends.spend(
            tok.spend_key, tok.expires_ms / 1000, issued_at=tok.issued_ms / 1000, epoch=tok.epoch
        )
    except SpendRefused:  # minted before Redis restarted empty: never verifiable again
        return failed(EXPIRED, sitekey=seen)
    except StoreUnavailable:
        return failed(INTERNAL, sitekey=seen)
    if not first:
        service.stats.replay(interface, tok.sitekey, now)
        return failed(SPENT, sitekey=seen)
    source = tok.source if tok.source.startswith("key:") else WIDGET
    return Verdict(token=tok, sitekey=seen, source=source)


def count(service: Service, interface: str, verdict: Verdict, ok: bool | None = None) -> None:
    """Count an answer by its outcome (passgate.stats): "success" (the verdict's, or `ok`
    for an answer the interface gave itself, such as a test key's), or its first code."""
    ok = verdict.ok if ok is None else ok
    outcome = "success" if ok else (verdict.codes or (BAD_REQUEST,))[0]
    earned = verdict.token.interface if verdict.ok and verdict.token is not None else ""
    service.stats.verified(
        interface, verdict.sitekey, outcome, verdict.source, time.time(), earned
    )


def iso_ms(ms: int) -> str:
    """ISO 8601 UTC with milliseconds and `Z`: `2026-11-22T10:41:06.462Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"

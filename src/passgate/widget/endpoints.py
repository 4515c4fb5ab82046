"""`POST /1/challenge` and `POST /1/solve`: what the widget's iframe calls to earn a token."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from passgate import algorithms, challenge, testkeys, token
from passgate.abuse import policy
from passgate.service import Service
from passgate.sites import SITEKEY_RE, SiteError, normalize_hostname
from passgate.siteverify import recaptcha, turnstile
from passgate.store import SpendRefused, StoreUnavailable
from passgate.web import (
    NO_STORE_CORS_RAW,
    BadBody,
    BodyTooLarge,
    FastJSON,
    error,
    read_json_object,
)

MAX_RQDATA = 4096
PROTOCOL = 2  # the widget protocol: `v` in /1/challenge; 2 knows `algorithm` and `params`
TEST_LIFETIME = 120
TURNSTILE_TEST_LIFETIME = 300  # a Turnstile token lives 300 s
# The error codes these endpoints answer, among the widget's error-callback codes (contract §3).
WIDGET_ERRORS = ("invalid-data", "challenge-error", "network-error")


def ok(body: dict[str, Any]) -> Response:
    return FastJSON(body, raw=NO_STORE_CORS_RAW)


async def _body(request: Request, service: Service) -> dict[str, Any] | Response:
    try:
        return await read_json_object(request, service.config.max_body_bytes)
    except BodyTooLarge:
        return error(413, "invalid-data", "the request body is too large")
    except BadBody as exc:
        return error(400, "invalid-data", str(exc))


async def issue_challenge(request: Request) -> Response:
    service: Service = request.app.state.service
    data = await _body(request, service)
    if isinstance(data, Response):
        return data
    sitekey, host = data.get("sitekey"), data.get("host")
    if not isinstance(sitekey, str) or not isinstance(host, str):
        return error(400, "invalid-data", "sitekey and host are required strings")
    test = testkeys.BY_SITEKEY.get(sitekey)
    if test is not None:
        return ok({"token": test.token, "ekey": "E0_" + test.token, "expires_in": TEST_LIFETIME})
    turnstile_test = turnstile.TEST_SITEKEYS.get(sitekey)
    if turnstile_test is not None:  # Turnstile's published test sitekeys (docs/turnstile.md)
        if not turnstile_test[0]:
            return error(400, "challenge-error", "this test sitekey always fails")
        dummy = turnstile.DUMMY_TOKEN
        return ok({"token": dummy, "ekey": "", "expires_in": TURNSTILE_TEST_LIFETIME})
    if sitekey == recaptcha.TEST_SITEKEY:  # reCAPTCHA's published v2 test pair
        return ok({"token": recaptcha.TEST_TOKEN, "ekey": "", "expires_in": TEST_LIFETIME})
    if not SITEKEY_RE.match(sitekey):
        return error(400, "invalid-data", "the sitekey is not a sitekey")
    try:
        host = normalize_hostname(host)
    except SiteError:
        return error(400, "invalid-data", "the host is not a hostname")
    try:
        site = await service.site(sitekey)
    except StoreUnavailable:
        return error(503, "network-error", "the store is unavailable; try again")
    if site is None:
        return error(403, "invalid-data", "unknown sitekey")
    if not site.allows(host):
        return error(403, "invalid-data", f"this sitekey is not allowed on {host}")
    try:  # a widget renewing a challenge refused as stale gets one in the current epoch
        epoch = await service.spends.current_epoch() if data.get("renew") is True else None
    except StoreUnavailable:
        return error(503, "network-error", "the store is unavailable; try again")
    algorithm = site.algorithm
    if algorithm != algorithms.SHA256:
        if data.get("v") != PROTOCOL:  # a cached widget from before the site's algorithm
            return error(
                400,
                "challenge-error",
                "this widget is out of date for the site's proof of work: reload it",
                reload=True,
            )
        if data.get("fallback") is True:  # the browser cannot run WebAssembly
            if site.fallback != algorithms.SHA256:
                return error(
                    400, "challenge-error", "this site's check needs WebAssembly", nowasm=True
                )
            algorithm = algorithms.SHA256
    now = time.time()
    quote = await policy.quote(
        service.counters, service.prefix_key, site, service.client_ip(request), now, algorithm
    )
    ch = challenge.issue(
        sitekey,
        host,
        quote.difficulty,
        now,
        service.config.challenge_lifetime,
        epoch=epoch if epoch is not None else service.spends.epoch_ms,
        prefix=quote.source.prefix,
        algorithm=algorithm,
    )
    body: dict[str, Any] = {
        "challenge": challenge.encode(ch, service.ring),
        "algorithm": ch.algorithm,
        "salt": ch.salt,
        "parts": ch.parts,
        "threshold": ch.threshold,
        "difficulty": ch.difficulty,
        "expires": ch.expires,
    }
    params = algorithms.get(ch.algorithm).params
    if params:
        body["params"] = params
    service.stats.issued(sitekey, ch.difficulty, *site.pricing(algorithm), now)
    return ok(body)


async def solve(request: Request) -> Response:
    service: Service = request.app.state.service
    data = await _body(request, service)
    if isinstance(data, Response):
        return data
    text, nonces = data.get("challenge"), data.get("nonces")
    rqdata, mode = data.get("rqdata"), data.get("mode") or ""
    if not isinstance(text, str):
        return error(400, "invalid-data", "challenge is required")
    if rqdata is not None and (not isinstance(rqdata, str) or len(rqdata) > MAX_RQDATA):
        return error(
            400, "invalid-data", f"rqdata must be a string of at most {MAX_RQDATA} characters"
        )
    if mode not in ("", "invisible"):
        return error(400, "invalid-data", "mode must be 'invisible' or empty")
    markers = policy.markers_of(data.get("automation"))
    if markers is None:
        return error(400, "invalid-data", "automation must be an object of booleans")
    interface = data.get("interface") or token.HCAPTCHA
    action, cdata = data.get("action") or "", data.get("cdata") or ""
    if not all(isinstance(v, str) for v in (interface, action, cdata)):
        return error(400, "invalid-data", "interface, action and cdata must be strings")
    try:
        token.check_bindings(interface, action, cdata)
    except token.BindingError as exc:
        return error(400, "invalid-data", str(exc))
    now = time.time()
    try:
        ring = await service.ring_with(challenge.key_id(text))
        ch = challenge.decode(text, ring, now)
    except challenge.ChallengeError as exc:
        return error(400, "challenge-error", f"the challenge is {exc.code}")
    except StoreUnavailable:
        return error(503, "network-error", "the store is unavailable; try again")
    if not challenge.check(ch, nonces):
        return error(400, "challenge-error", "the solution is wrong")
    try:
        site = await service.site(ch.sitekey)
        if site is None:
            return error(403, "invalid-data", "unknown sitekey")
        first = await service.spends.spend(
            ch.spend_key,
            ch.expires,
            issued_at=ch.expires - service.config.challenge_lifetime,
            epoch=ch.epoch,
        )
    except SpendRefused:  # issued before Redis restarted empty: ask for a fresh challenge
        return error(400, "challenge-error", "the challenge predates the store", renew=True)
    except StoreUnavailable:
        return error(503, "network-error", "the store is unavailable; try again")
    if not first:
        return error(400, "challenge-error", "this challenge was already solved")
    epoch = service.spends.epoch_ms  # what the challenge's spend just saw
    ip = service.client_ip(request)
    try:
        verdict = await policy.judge(
            service.counters, service.prefix_key, site, ch, ip, markers, now
        )
    except policy.Renew as exc:
        return error(400, "challenge-error", str(exc), renew=True)
    except StoreUnavailable:
        return error(503, "network-error", "the store is unavailable; try again")
    tok = token.mint(
        site.sitekey,
        ch.host,
        now,
        site.token_lifetime,
        rqdata=rqdata or None,
        bound_ip=ip,
        mode=mode,
        epoch=epoch,
        score=verdict.score,
        reasons=verdict.reasons,
        markers=tuple(sorted(markers)),
        interface=interface,
        action=action,
        cdata=cdata,
    )
    encoded = token.encode(tok, service.ring)
    service.stats.solved(site.sitekey, ch.issued_ms, now)
    return ok(
        {
            "token": encoded,
            "ekey": token.response_key(tok, service.ring),
            "expires_in": site.token_lifetime,
        }
    )

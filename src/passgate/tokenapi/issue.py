"""Who may mint what: authenticate an API key, authorize it for a sitekey (grant, expiry,
referer host), take from the grant's rate bucket, and mint the pass token.

The universal endpoint and the job worker both come through here. There is no other way a
token leaves the token API, and none of it makes an outbound request: tokens are minted
only for sites registered on this deployment, or are the published test tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from passgate import testkeys, token
from passgate.service import Service
from passgate.sites import SITEKEY_RE, Site
from passgate.store import StoreUnavailable
from passgate.tokenapi import db
from passgate.tokenapi.apikeys import ApiKey, ApiKeyRegistry
from passgate.tokenapi.fields import url_host
from passgate.tokenapi.grants import Grant, GrantRegistry
from passgate.tokenapi.outcomes import (
    BAD_INPUT,
    GRANT_EXPIRED,
    MISSING_KEY,
    NO_GRANT,
    RATE_LIMITED,
    REFERER_NOT_ALLOWED,
    REVOKED_KEY,
    STORE_UNAVAILABLE,
    UNKNOWN_KEY,
    UNKNOWN_SITEKEY,
    Refusal,
)


@dataclass(frozen=True)
class Permit:
    """A key's leave to mint for one sitekey: a registered site under a grant, or a test key."""

    key: ApiKey
    sitekey: str
    hostname: str
    site: Site | None = None
    grant: Grant | None = None
    test: testkeys.TestKey | None = None


@dataclass(frozen=True)
class Minted:
    token: str
    ekey: str
    token_id: str | None  # the jti; None for a published test token


async def authenticate(service: Service, presented: str | None) -> ApiKey:
    """The active key behind a `User-Token` / `api_token`; raises Refusal (401 or 503)."""
    if presented is None or not isinstance(presented, str) or not presented.strip():
        raise Refusal(MISSING_KEY)
    if not presented.isascii():  # key tokens are ASCII; a lone surrogate could not be hashed
        raise Refusal(UNKNOWN_KEY)
    try:
        key = await db.run(ApiKeyRegistry(service.engine).authenticate, presented.strip())
    except StoreUnavailable:
        raise Refusal(STORE_UNAVAILABLE) from None
    if key is None:
        raise Refusal(UNKNOWN_KEY)
    if not key.active:
        raise Refusal(REVOKED_KEY)
    return key


async def authorize(
    service: Service, key: ApiKey, sitekey: str, referer: str, now: float
) -> Permit:
    """Refusal unless `key` may mint for `sitekey` on the referer's host right now."""
    test = testkeys.BY_SITEKEY.get(sitekey)
    if test is not None:  # no grant and no referer check, by contract
        return Permit(key, sitekey, testkeys.TEST_HOSTNAME, test=test)
    if not SITEKEY_RE.match(sitekey):
        raise Refusal(UNKNOWN_SITEKEY)
    try:
        site = await service.site(sitekey)
        if site is None:
            raise Refusal(UNKNOWN_SITEKEY)
        grant = await db.run(GrantRegistry(service.engine).get, key.id, sitekey)
    except StoreUnavailable:
        raise Refusal(STORE_UNAVAILABLE) from None
    if grant is None:
        raise Refusal(NO_GRANT)
    if grant.expired(now):
        raise Refusal(GRANT_EXPIRED)
    host = url_host(referer)
    if host is None:
        raise Refusal(BAD_INPUT, "the referer is not an http(s) URL")
    if not site.allows(host):
        raise Refusal(REFERER_NOT_ALLOWED)
    return Permit(key, sitekey, host, site=site, grant=grant)


async def take(service: Service, permit: Permit, now: float) -> None:
    """One token from the grant's bucket, or Refusal(RATE_LIMITED) with the wait."""
    if permit.grant is None:
        return
    g = permit.grant
    try:
        answer = await service.limiter.take(g.bucket, g.rate_per_min, g.burst, now)
    except StoreUnavailable:
        raise Refusal(STORE_UNAVAILABLE) from None
    if not answer.allowed:
        raise Refusal(RATE_LIMITED, retry_after=answer.retry_after)


async def mint(
    service: Service,
    permit: Permit,
    now: float,
    rqdata: str | None = None,
    invisible: bool = False,
    bound_ip: str | None = None,
    action: str | None = None,
    cdata: str | None = None,
) -> Minted:
    """The pass token for a permit; `bound_ip` is kept only where the site binds to the IP.
    `action` and `cdata` are bound as the widget binds them (siteverify returns them); the
    token keeps the hCaptcha interface, the token API's own.
    With Redis, the token names the epoch read now, so it verifies at once even just after
    Redis restarted. Raises Refusal(STORE_UNAVAILABLE) when the epoch cannot be read."""
    if permit.test is not None:
        return Minted(permit.test.token, "E0_" + permit.test.token, None)
    assert permit.site is not None
    try:
        epoch = await service.spends.current_epoch()
    except StoreUnavailable:
        raise Refusal(STORE_UNAVAILABLE) from None
    tok = token.mint(
        permit.sitekey,
        permit.hostname,
        now,
        permit.site.token_lifetime,
        rqdata=rqdata,
        bound_ip=bound_ip if permit.site.bind_ip else None,
        source="key:" + permit.key.name,
        mode="invisible" if invisible else "",
        epoch=epoch,
        action=action or "",
        cdata=cdata or "",
    )
    ring = service.ring
    return Minted(token.encode(tok, ring), token.response_key(tok, ring), tok.jti)

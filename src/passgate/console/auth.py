"""Signing in and out of the console: the session cookie, CSRF tokens (the session's, and a
double-submit pre-session token on the sign-in form), sign-in limits per account and per
source in the shared rate limiter, and one-time flashes sealed under the master key."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response

from passgate import addresses
from passgate.abuse import prefix
from passgate.audit import AuditLog
from passgate.console import render
from passgate.console.accounts import User, UserRegistry
from passgate.console.sessions import MAX_COOKIE, Session, SessionStore
from passgate.service import Service
from passgate.store import StoreUnavailable
from passgate.tokenapi import db
from passgate.web import BadBody, BodyTooLarge, read_body

COOKIE = "passgate_console"
PRE_COOKIE = "passgate_console_pre"
PATH = "/console"
HOME = "/console/"
MAX_FORM = 65_536  # bytes of a posted form
MAX_NAME_FIELD = 128  # characters of a user name tried
# Sign-in attempts: tokens per minute and burst, per account and per source (/24 or /48).
ACCOUNT_RATE, ACCOUNT_BURST = 6.0, 5  # an account from one source (/24 or /48)
ACCOUNT_ALL_RATE, ACCOUNT_ALL_BURST = 30.0, 60  # an account from every source together
SOURCE_RATE, SOURCE_BURST = 30.0, 20
WRONG = "Wrong user name or password."
UNAVAILABLE = "The store did not answer, so the console cannot do this now. Try again soon."
CSRF_REFUSED = (
    "This form's security token is missing or wrong, so nothing was done. "
    "Reload the page and try again."
)


class FormError(Exception):
    """A posted form that cannot be read: the status and what to say."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


_UNSEEN = object()


@dataclass(frozen=True)
class Signed:
    """A signed-in request: who, their session, and the cookie that names it."""

    user: User
    session: Session
    cookie: str


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _key(master: bytes, label: str) -> bytes:
    return hmac.new(master, f"passgate/console/{label}/v1".encode(), hashlib.sha256).digest()


def is_https(request: Request, service: Service) -> bool:
    """The request came over https: the scope's scheme, or X-Forwarded-Proto from a trusted
    proxy (never from anyone else)."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else ""
    if not addresses.within(peer, service.trusted_proxies):
        return False
    forwarded = request.headers.get("x-forwarded-proto", "")
    return forwarded.split(",")[0].strip().lower() == "https"


def _set_cookie(
    response: Response, request: Request, name: str, value: str, same_site: str
) -> None:
    response.set_cookie(
        name,
        value,
        path=PATH,
        httponly=True,
        samesite=same_site,  # type: ignore[arg-type]
        secure=is_https(request, service_of(request)),
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path=PATH, httponly=True, samesite="lax",
        secure=is_https(request, service_of(request)),
    )  # fmt: skip


# -- forms and CSRF ---------------------------------------------------------------------------


async def read_form(request: Request) -> dict[str, str]:
    """A posted form's fields (the first value of each; files refused). Raises FormError."""
    try:
        await read_body(request, MAX_FORM)
        form = await request.form(max_files=0, max_fields=200)
    except BodyTooLarge:
        raise FormError(413, "The form is too large.") from None
    except (BadBody, MultiPartException, HTTPException, UnicodeDecodeError):
        raise FormError(400, "The form could not be read.") from None
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            raise FormError(400, "The console takes no files.")
        fields.setdefault(name, value)
    return fields


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def pre_token(service: Service, pre: str) -> str:
    """The sign-in form's CSRF field: an HMAC of its pre-session cookie."""
    return hmac.new(_key(service.master, "pre"), pre.encode(), hashlib.sha256).hexdigest()


def pre_cookie(request: Request) -> str | None:
    value = request.cookies.get(PRE_COOKIE, "")
    return value if 20 <= len(value) <= MAX_COOKIE else None


def pre_valid(request: Request, form: dict[str, str]) -> bool:
    pre = pre_cookie(request)
    return pre is not None and same(form.get("csrf", ""), pre_token(service_of(request), pre))


# -- sessions and flashes ----------------------------------------------------------------------


async def current(request: Request, touch: bool = True) -> Signed | None:
    """The signed-in user and session of a request, or None; looked up once a request.
    `touch` False: the lookup is not activity (SessionStore.get)."""
    cached = getattr(request.state, "console_signed", _UNSEEN)
    if cached is not _UNSEEN:
        assert cached is None or isinstance(cached, Signed)
        return cached
    found = None
    cookie = request.cookies.get(COOKIE, "")
    if cookie:
        service = service_of(request)
        session = await db.write(
            service.engine, SessionStore(service.engine).get, cookie, time.time(), touch
        )
        if session is not None:
            user = await db.run(UserRegistry(service.engine).by_id, session.user_id)
            if user is not None:
                found = Signed(user, session, cookie)
    request.state.console_signed = found
    return found


def seal(service: Service, session: Session, data: dict[str, Any]) -> bytes:
    """A flash for one session, encrypted (AES-GCM) under a key derived from the master key,
    bound to that session."""
    nonce = secrets.token_bytes(12)
    body = json.dumps(data).encode()
    return nonce + AESGCM(_key(service.master, "flash")).encrypt(nonce, body, session.id.encode())


def unseal(service: Service, session: Session, blob: bytes) -> dict[str, Any] | None:
    try:
        body = AESGCM(_key(service.master, "flash")).decrypt(
            blob[:12], blob[12:], session.id.encode()
        )
    except (InvalidTag, ValueError):
        return None
    data = json.loads(body)
    return data if isinstance(data, dict) else None


# -- sign-in limits ----------------------------------------------------------------------------


def source_of(ip: str) -> str:
    """A client's source for the limits: its /24 (IPv4) or /48 (IPv6); a peer that is not an
    address is its own source."""
    found = prefix.networks(ip, prefix.DEFAULT_V4, prefix.DEFAULT_V6)
    return found[0] if found else "other:" + ip


def printable(text: str) -> str:
    """`text` without control characters (a name typed at the sign-in form, for the log)."""
    return "".join(c if c.isprintable() else "?" for c in text)


async def admit(service: Service, name: str, ip: str, now: float) -> float:
    """Count a sign-in attempt; 0 when its buckets allow it, else the seconds until they
    would. Three buckets, in the store (every process and node shares them): the account from
    this source (ACCOUNT_*), the source (SOURCE_*), and the account from anywhere
    (ACCOUNT_ALL_*, wide): a guesser on one network slows only that network's attempts at
    the account, so the owner signs in from another; a spread-out attack on one account is
    still held to ACCOUNT_ALL_RATE guesses a minute. Raises StoreUnavailable."""
    account = hashlib.sha256(name.lower().encode()).hexdigest()[:32]
    source = source_of(ip)
    wait = 0.0
    for bucket, rate, burst in (
        (f"console:signin:user:{account}:{source}", ACCOUNT_RATE, ACCOUNT_BURST),
        ("console:signin:source:" + source, SOURCE_RATE, SOURCE_BURST),
        (f"console:signin:user:{account}", ACCOUNT_ALL_RATE, ACCOUNT_ALL_BURST),
    ):
        taken = await service.limiter.take(bucket, rate, burst, now)
        if not taken.allowed:
            wait = max(wait, taken.retry_after, 1.0)
    return wait


# -- the sign-in page and the sign-in and sign-out forms ----------------------------------------


def signin_page(
    request: Request, status: int = 200, error: str = "", name: str = "", **headers: str
) -> Response:
    """The sign-in form; sets a pre-session cookie when the visitor has none."""
    service = service_of(request)
    pre = pre_cookie(request)
    fresh = pre is None
    if pre is None:
        pre = secrets.token_urlsafe(32)
    context = {
        "title": "Welcome to the passgate console",
        "section": "signin",
        "user": None,
        "csrf": pre_token(service, pre),
        "error": error,
        "name": name,
    }
    response = render.html("signin.html", context, status, **headers)
    if fresh:
        _set_cookie(response, request, PRE_COOKIE, pre, "strict")
    return response


async def signin(request: Request) -> Response:
    """POST /console/signin: check the form's token, count the attempt, check the password;
    a new session on success."""
    try:
        form = await read_form(request)
        return await _signin(request, form)
    except FormError as exc:
        return signin_page(request, exc.status, exc.text)
    except StoreUnavailable:
        return render.message(503, "Store unavailable", UNAVAILABLE)


async def _signin(request: Request, form: dict[str, str]) -> Response:
    service = service_of(request)
    if not pre_valid(request, form):
        return render.message(403, "Refused", CSRF_REFUSED)
    name = form.get("name", "")[:MAX_NAME_FIELD]
    password = form.get("password", "")
    if not name or not password:
        return signin_page(request, 400, "Enter a user name and a password.", name)
    ip = service.client_ip(request)
    now = time.time()
    audit = AuditLog(service.engine)
    wait = await admit(service, name, ip, now)
    if wait:  # refused before any check: not written to the audit log, which it would flood
        seconds = math.ceil(wait)
        text = f"Too many sign-in attempts; try again in {seconds} s."
        return signin_page(request, 429, text, name, **{"Retry-After": str(seconds)})
    user = await db.write(service.engine, UserRegistry(service.engine).authenticate, name, password)
    if user is None:
        await db.write(
            service.engine, audit.add, "anonymous", "signin.failed", printable(name)[:64],
            {"reason": "wrong-password"}, ip,
        )  # fmt: skip
        return signin_page(request, 401, WRONG, name)
    sessions = SessionStore(service.engine)
    old = request.cookies.get(COOKIE, "")
    if old:
        await db.write(service.engine, sessions.revoke, old)
    cookie, _ = await db.write(service.engine, sessions.create, user.id, now)
    await db.write(service.engine, audit.add, f"user:{user.name}", "signin", user.name, {}, ip)
    response = render.redirect(HOME)
    _set_cookie(response, request, COOKIE, cookie, "lax")
    clear_cookie(response, request, PRE_COOKIE)
    return response


async def signout(request: Request) -> Response:
    """POST /console/signout (CSRF-checked): end the session."""
    try:
        form = await read_form(request)
        return await _signout(request, form)
    except FormError as exc:
        return render.message(exc.status, "Not signed out", exc.text)
    except StoreUnavailable:
        return render.message(503, "Store unavailable", UNAVAILABLE)


async def _signout(request: Request, form: dict[str, str]) -> Response:
    service = service_of(request)
    signed = await current(request)
    if signed is None:
        response = render.redirect(HOME)
        clear_cookie(response, request, COOKIE)
        return response
    if not same(form.get("csrf", ""), signed.session.csrf):
        return render.message(403, "Refused", CSRF_REFUSED, nav(signed))
    await db.write(service.engine, SessionStore(service.engine).revoke, signed.cookie)
    name = signed.user.name
    ip = service.client_ip(request)
    await db.write(
        service.engine, AuditLog(service.engine).add, f"user:{name}", "signout", name, {}, ip
    )
    response = render.redirect(HOME)
    clear_cookie(response, request, COOKIE)
    return response


def nav(signed: Signed) -> dict[str, Any]:
    """What the layout's nav needs of a signed-in visitor."""
    return {"user": signed.user, "csrf": signed.session.csrf}

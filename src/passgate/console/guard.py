"""The guards around every console page and form: a page needs a session (else the sign-in
page); a form also needs the session's CSRF token and, to change anything, an owner. Bad
input is shown on the form's page with status 400; a missing thing is a 404 page and a store
that does not answer a 503 page: never a 500."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from passgate.console import auth, render
from passgate.console.accounts import AccountError, User
from passgate.console.sessions import SessionStore
from passgate.keys import MasterKeyError
from passgate.manage import Manager
from passgate.service import Service
from passgate.sites import SiteError
from passgate.store import StoreUnavailable
from passgate.tokenapi import db
from passgate.tokenapi.apikeys import ApiKeyError
from passgate.tokenapi.grants import GrantError

NOT_SIGNED_IN = "You are not signed in, or your session has ended: sign in again."
VIEWER = "Viewers see everything and change nothing: ask an owner to make this change."
UNAVAILABLE = auth.UNAVAILABLE


class Invalid(ValueError):
    """Input the console itself refuses (a number that is not one); the message says why."""


class NotFound(Exception):
    """The page's subject does not exist; the message says which."""


INPUT_ERRORS = (Invalid, SiteError, ApiKeyError, GrantError, AccountError, MasterKeyError)


@dataclass
class Ctx:
    """One signed-in request, and what its page shows besides its own content."""

    request: Request
    service: Service
    signed: auth.Signed
    error: str = ""  # the form's refusal, shown on the page re-rendered with status 400
    values: dict[str, str] = field(default_factory=dict)  # the refused form's fields
    status: int = 200
    flash: dict[str, Any] | None = None

    @property
    def user(self) -> User:
        return self.signed.user

    def manager(self) -> Manager:
        """The one door for changes, acting as this user from the client's address."""
        ip = self.service.client_ip(self.request)
        return Manager(self.service.engine, self.service.master, f"user:{self.user.name}", ip)

    def render(self, template: str, section: str, title: str, **more: Any) -> Response:
        context = {
            "title": title,
            "section": section,
            "user": self.user,
            "owner": self.user.owner,
            "csrf": self.signed.session.csrf,
            "flash": self.flash,
            "error": self.error,
            "values": self.values,
            **more,
        }
        return render.html(template, context, self.status)

    async def flash_next(self, notice: str, secret: str = "", label: str = "") -> None:
        """A one-time message (and secret) for the next page this session shows."""
        data = {"notice": notice, "secret": secret, "label": label}
        blob = auth.seal(self.service, self.signed.session, data)
        store = SessionStore(self.service.engine)
        await db.write(self.service.engine, store.set_flash, self.signed.session.id, blob)


Page = Callable[[Ctx], Awaitable[Response]]
Form = Callable[[Ctx, dict[str, str]], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
_PAGES: dict[Endpoint, Page] = {}  # each page endpoint's own handler, for `form(on_error)`


async def _shown(ctx: Ctx, handler: Page) -> Response:
    try:
        return await handler(ctx)
    except NotFound as exc:
        return render.message(404, "Not found", str(exc), auth.nav(ctx.signed))
    except StoreUnavailable:
        return render.message(503, "Store unavailable", UNAVAILABLE, auth.nav(ctx.signed))


def page(handler: Page) -> Endpoint:
    """A GET page for the signed-in (anyone else gets the sign-in page's address); it shows
    and clears the session's flash."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        service = auth.service_of(request)
        try:
            signed = await auth.current(request)
        except StoreUnavailable:
            return render.message(503, "Store unavailable", UNAVAILABLE)
        if signed is None:
            return render.redirect(auth.HOME)
        ctx = Ctx(request, service, signed)
        try:
            blob = await db.write(
                service.engine, SessionStore(service.engine).pop_flash, signed.session.id
            )
        except StoreUnavailable:
            blob = None
        ctx.flash = auth.unseal(service, signed.session, blob) if blob else None
        response = await _shown(ctx, handler)
        if blob and response.status_code >= 400:  # not shown: kept for the next page
            store = SessionStore(service.engine)
            try:
                await db.write(service.engine, store.set_flash, signed.session.id, blob)
            except StoreUnavailable:
                pass
        return response

    _PAGES[endpoint] = handler
    return endpoint


def form(on_error: Endpoint) -> Callable[[Form], Endpoint]:
    """A POST form that changes something: a session, its CSRF token and an owner, else 403.
    Input errors re-render the page `on_error` with the message, the fields and status 400."""
    shown = _PAGES[on_error]

    def wrap(handler: Form) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            service = auth.service_of(request)
            try:
                fields = await auth.read_form(request)
                signed = await auth.current(request)
            except auth.FormError as exc:
                return render.message(exc.status, "Not done", exc.text)
            except StoreUnavailable:
                return render.message(503, "Store unavailable", UNAVAILABLE)
            if signed is None:
                return render.message(403, "Refused", NOT_SIGNED_IN)
            if not auth.same(fields.get("csrf", ""), signed.session.csrf):
                return render.message(403, "Refused", auth.CSRF_REFUSED, auth.nav(signed))
            if not signed.user.owner:
                return render.message(403, "Refused", VIEWER, auth.nav(signed))
            ctx = Ctx(request, service, signed)
            try:
                return await handler(ctx, fields)
            except INPUT_ERRORS as exc:
                ctx.error, ctx.values, ctx.status = f"Nothing was changed: {exc}", fields, 400
                return await _shown(ctx, shown)
            except NotFound as exc:
                return render.message(404, "Not found", str(exc), auth.nav(signed))
            except StoreUnavailable:
                return render.message(503, "Store unavailable", UNAVAILABLE, auth.nav(signed))

        return endpoint

    return wrap


def whole(fields: dict[str, str], name: str, label: str, default: int | None = None) -> int | None:
    """A whole-number field; blank gives `default`. Raises Invalid."""
    text = fields.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise Invalid(f"{label} must be a whole number, not {text[:40]!r}") from None


def checked(fields: dict[str, str], name: str) -> bool:
    return fields.get(name) in ("on", "1", "true", "yes")

"""The console's HTML: Jinja2 templates (autoescaped) rendered with the headers every console
answer carries: a strict Content-Security-Policy with no inline script or style, no framing,
no caching (pages show secrets once) and no sniffing."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from passgate.console import assets

TEMPLATES = Path(__file__).with_name("templates")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
# What the layout (base.html) shows when a page does not say.
LAYOUT: dict[str, Any] = {"user": None, "csrf": "", "section": "", "flash": None, "error": ""}


def when(ts: float | None) -> str:
    """A time as `2025-01-31 12:00:05 UTC`; a dash for none."""
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_input(ts: float | None) -> str:
    """A time as a datetime-local field's value (UTC, to the minute)."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M")


def compact(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str)


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["asset"] = assets.url
    env.filters["when"] = when
    env.filters["iso_input"] = iso_input
    env.filters["compact"] = compact
    return env


def html(template: str, context: dict[str, Any], status: int = 200, **headers: str) -> Response:
    """A rendered page with the console's headers."""
    context = {**LAYOUT, **context}
    body = environment().get_template(template).render(context)
    return HTMLResponse(body, status_code=status, headers={**HEADERS, **headers})


def message(
    status: int, title: str, text: str, signed_in: dict[str, Any] | None = None
) -> Response:
    """A page that says one thing (refused, not found, unavailable), with the nav when the
    visitor is signed in (`signed_in`: the page context's user and csrf)."""
    context = {"title": title, "text": text, **(signed_in or {})}
    return html("message.html", context, status)


def redirect(url: str) -> Response:
    """303 See Other: the answer to every successful form."""
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def json_reply(body: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, headers=HEADERS)

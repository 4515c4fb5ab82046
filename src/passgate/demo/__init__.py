"""The demo served by `passgate demo`: a sign-up form protected by the widget, whose server
side calls siteverify and shows the verdict."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from passgate import verify as core
from passgate.service import Service
from passgate.siteverify import hcaptcha
from passgate.web import BadBody, BodyTooLarge, client_ip
from passgate.widget.assets import AssetTable, table

STATIC = Path(__file__).with_name("static")
PAGE_CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
    "connect-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'"
)


def assets() -> AssetTable:
    return table(STATIC)


async def page(request: Request) -> Response:
    """The demo page; its sitekey is filled in from the running demo site."""
    sitekey = request.app.state.demo_sitekey
    html = assets().assets["index.html"].body.decode().replace("{{SITEKEY}}", sitekey)
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"},
    )


async def static(request: Request) -> Response:
    return assets().respond(request, request.path_params["name"], cache="no-cache")


async def verify(request: Request) -> Response:
    """The demo's backend: what a site's form handler does with the posted token."""
    service: Service = request.app.state.service
    try:
        params = await core.read_params(request, service.config.max_body_bytes)
    except (BadBody, BodyTooLarge):
        return JSONResponse({"accepted": False, "siteverify": core.failure("bad-request")})
    outcome = await hcaptcha.verify_params(
        service,
        {
            "secret": request.app.state.demo_secret,
            "response": params.get("response", ""),
            "remoteip": client_ip(request, service.trusted_proxies),
        },
    )
    return JSONResponse({"accepted": outcome["success"], "siteverify": outcome})

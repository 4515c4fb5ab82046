"""`GET /healthz`, `GET /readyz` and `GET /`: whether this process, and the stores behind it,
can serve."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from passgate import __version__
from passgate.service import Service


async def healthz(request: Request) -> Response:
    """Alive: the process answers."""
    return JSONResponse({"ok": True})


async def readyz(request: Request) -> Response:
    """Ready when every store answers: the database and the spend set (Redis when set)."""
    service: Service = request.app.state.service
    stores = await service.ping()
    warnings = ["untrusted_forwarded_for"] if await service.forwarded_warning() else []
    if not all(stores.values()):
        body: dict[str, Any] = {"ok": False, "error": "store_unavailable", "stores": stores}
        return JSONResponse({**body, **({"warnings": warnings} if warnings else {})}, 503)
    return JSONResponse({"ok": True, **({"warnings": warnings} if warnings else {})})


async def index(request: Request) -> Response:
    """What this is, and where its script and its siteverify are."""
    return JSONResponse(
        {
            "service": "passgate",
            "version": __version__,
            "script": "/1/api.js",
            "verify": "/siteverify",
        }
    )

"""The ceiling: bare Starlette endpoints returning a small JSON body, nothing else.

Run on the same uvicorn settings as `passgate serve` (one worker, uvloop, httptools), it is
the fastest path Python's ASGI stack offers, so passgate's figures are quoted against it.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def get(request: Request) -> JSONResponse:
    return JSONResponse({"success": True, "hostname": "localhost"})


async def post(request: Request) -> JSONResponse:
    """Reads the body as a real endpoint must, and answers the same small JSON."""
    body = await request.body()
    return JSONResponse({"success": True, "size": len(body)})


app = Starlette(routes=[Route("/", get), Route("/post", post, methods=["POST"])])

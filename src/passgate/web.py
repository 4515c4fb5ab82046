"""The HTTP edge every endpoint shares: bounded bodies, client IPs, CORS and JSON errors."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, User-Token, Developer-Id, Authorization",
    "Access-Control-Max-Age": "86400",
}


class BodyTooLarge(Exception):
    pass


class BadBody(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused past `limit` bytes without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadBody("bad Content-Length")
        if int(declared) > limit:
            raise BodyTooLarge()
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # lets request.form() reuse what was read
    return body


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """A JSON object body; raises BadBody or BodyTooLarge."""
    return parse_json_object(await read_body(request, limit))


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadBody("the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadBody("the body must be a JSON object")
    return data


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The widget endpoints' one error shape."""
    return JSONResponse(
        {"error": code, "message": message},
        status_code=status,
        headers={**CORS_HEADERS, **(headers or {})},
    )


def parse_networks(spec: str) -> list[IPNetwork]:
    return [ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip()]


def client_ip(request: Request, trusted: Iterable[IPNetwork]) -> str:
    """The peer address, or the X-Forwarded-For hop nearest a trusted proxy chain."""
    peer = request.client.host if request.client else ""
    trusted = list(trusted)
    if not trusted or not _in(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _in(hop, trusted):
            return hop if _is_ip(hop) else peer
    return peer


def _in(ip: str, nets: list[IPNetwork]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in n for n in nets)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True

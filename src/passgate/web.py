"""The HTTP edge every endpoint shares: bounded bodies, client IPs, CORS and JSON errors."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from passgate import addresses
from passgate.addresses import IPNetwork

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, User-Token, Developer-Id, Authorization",
    "Access-Control-Max-Age": "86400",
}


async def preflight(request: Request) -> Response:
    """A CORS preflight: any origin may call the widget's endpoints (hCaptcha contract §1)."""
    return Response(status_code=204, headers=CORS_HEADERS)


class BodyTooLarge(Exception):
    pass


class BadBody(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused past `limit` bytes without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):  # not `²` (latin-1 0xB2)
            raise BadBody("bad Content-Length")
        digits = declared.lstrip("0") or "0"  # int() refuses more than 4,300 digits
        if len(digits) > 18 or int(digits) > limit:
            raise BodyTooLarge()
    if hasattr(request, "_body"):  # read before, by this or by Starlette
        if len(request._body) > limit:
            raise BodyTooLarge()
        return request._body
    # ASGI's messages read directly (what request.stream() does, without its generator:
    # this runs on every siteverify)
    chunks = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request._stream_consumed = True
    request._body = body  # lets request.form() reuse what was read
    return body


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """A JSON object body; raises BadBody or BodyTooLarge."""
    return parse_json_object(await read_body(request, limit))


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A JSON object body; BadBody when it is not one. A key twice in one object, at any
    depth, is refused (RFC 7493 §2.3): parsers disagree on which value wins, and a check
    that reads one value while another component acts on the other can be bypassed.
    `NaN`, `Infinity` and `-Infinity`, which Python's json takes, are refused: not JSON."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(pairs)
        if len(found) != len(pairs):
            seen: set[str] = set()
            for name, _ in pairs:
                if name in seen:
                    shown = json.dumps(name[:64])  # escaped: it goes into a message
                    raise BadBody(f"the body has a duplicate key {shown}")
                seen.add(name)
        return found

    def constant(name: str) -> Any:
        raise BadBody("the body is not JSON: NaN and Infinity are not JSON")

    try:
        data = json.loads(body, object_pairs_hook=unique, parse_constant=constant)
    except (ValueError, UnicodeDecodeError):
        raise BadBody("the body is not JSON") from None
    except RecursionError:  # nested thousands deep: within the size limit, past the parser
        raise BadBody("the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadBody("the body must be a JSON object")
    return data


class FastJSON(Response):
    """A JSON response whose headers are assembled from pre-encoded parts: the hot
    endpoints answer thousands of times a second, and Starlette's header handling showed in
    their profile."""

    media_type = "application/json"

    def __init__(
        self, body: Any, status_code: int = 200, raw: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.status_code = status_code
        self.body = json.dumps(body, separators=(",", ":")).encode()
        self.background = None
        self.raw_headers = [
            (b"content-length", str(len(self.body)).encode()),
            (b"content-type", b"application/json"),
            *(raw or ()),
        ]


CORS_RAW = [(k.lower().encode(), v.encode()) for k, v in CORS_HEADERS.items()]
NO_STORE_CORS_RAW = [*CORS_RAW, (b"cache-control", b"no-store")]


def error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **flags: bool,
) -> Response:
    """The widget endpoints' one error shape: `{"error", "message"}`, plus each flag that is
    true: `"renew": true` when the widget should silently fetch a fresh challenge and solve
    that instead, `"reload": true` when the widget is too old for the site's proof of work
    and should reload itself, `"nowasm": true` when the site needs WebAssembly and offers
    no fallback (docs/architecture.md)."""
    body: dict[str, Any] = {"error": code, "message": message}
    body.update({name: True for name, on in flags.items() if on})
    return JSONResponse(
        body,
        status_code=status,
        headers={**CORS_HEADERS, **(headers or {})},
    )


def client_ip(request: Request, trusted: Iterable[IPNetwork]) -> str:
    """The client's address, canonical (`addresses.canonical`): the peer address; or, when
    the peer is a trusted proxy, the X-Forwarded-For hop nearest the end of the chain of
    trusted proxies (the leftmost hop when all are trusted). A hop that is not an address
    ends the walk at the last trusted one."""
    raw = request.client.host if request.client else ""
    peer = addresses.canonical(raw) or raw
    trusted = list(trusted)
    if not trusted or not addresses.within(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",")]
    found = peer
    for hop in reversed([h for h in hops if h]):
        ip = _hop_ip(hop)
        if ip is None:
            return found
        found = ip
        if not addresses.within(ip, trusted):
            return ip
    return found


def _hop_ip(hop: str) -> str | None:
    """A hop's canonical address, without a port some proxies append (`1.2.3.4:80`,
    `[::1]:80`)."""
    ip = addresses.canonical(hop)
    if ip is not None:
        return ip
    if hop.startswith("[") and "]" in hop:
        return addresses.canonical(hop[1 : hop.index("]")])
    host, sep, port = hop.rpartition(":")
    if sep and port.isdigit() and "." in host:
        return addresses.canonical(host)
    return None

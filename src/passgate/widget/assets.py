"""Static files served from memory: ETag by content hash, gzip when the client takes it."""

from __future__ import annotations

import functools
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from passgate.web import CORS_HEADERS

STATIC = Path(__file__).with_name("static")
CACHE_LONG = "public, max-age=86400, stale-while-revalidate=604800"

FRAME_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "worker-src 'self'; img-src 'self' data:; frame-ancestors *; base-uri 'none'"
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


def load(path: Path) -> Asset:
    body = path.read_bytes()
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media.startswith("text/") or media.endswith("javascript"):
        media += "; charset=utf-8"
    return Asset(
        body=body,
        gzipped=gzip.compress(body, 9, mtime=0),
        etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"',
        media_type=media,
    )


class AssetTable:
    """Every file of a folder, read once."""

    def __init__(self, folder: Path) -> None:
        self.assets = {p.name: load(p) for p in sorted(folder.iterdir()) if p.is_file()}

    def respond(
        self,
        request: Request,
        name: str,
        cache: str = CACHE_LONG,
        extra: dict[str, str] | None = None,
    ) -> Response:
        asset = self.assets.get(name)
        if asset is None:
            return Response("not found", status_code=404, media_type="text/plain")
        headers = {
            "ETag": asset.etag,
            "Cache-Control": cache,
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
            **CORS_HEADERS,
            **(extra or {}),
        }
        if asset.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)


@functools.cache
def table(folder: Path = STATIC) -> AssetTable:
    """The assets of a folder, loaded on first use."""
    return AssetTable(folder)


async def api_js(request: Request) -> Response:
    return table().respond(request, "api.js")


async def frame(request: Request) -> Response:
    return table().respond(
        request,
        "frame.html",
        cache="public, max-age=3600",
        extra={"Content-Security-Policy": FRAME_CSP},
    )


async def static(request: Request) -> Response:
    return table().respond(request, request.path_params["name"])

"""Static files served from memory: ETag by content hash, gzip when the client takes it.

The widget's files (static/, and the Argon2 library that `npm ci` installs from
package-lock.json into node_modules/) are also served under content-hashed names,
`NAME.HASH.EXT`, cached for a year: the frame HTML, revalidated at every load, names them,
so a page never runs an old frame with new files or the reverse. A file that names another
(`"static/worker.js"`, `"./argon2.mjs"`) has the reference rewritten to the hashed name before
its own hash is taken. The plain names stay served for frames cached before an upgrade."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from passgate.web import CORS_HEADERS

STATIC = Path(__file__).with_name("static")
LIBRARY = Path(__file__).with_name("node_modules") / "@phi-ag" / "argon2"
# Served name: the library's file. Pinned in package.json, installed by `make` (npm ci).
LIBRARY_FILES = {"argon2.mjs": "dist/index.js", "argon2.wasm": "dist/argon2.wasm"}

CACHE_LONG = "public, max-age=86400, stale-while-revalidate=604800"
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_FRAME = "no-cache"  # revalidated by ETag at each load: it names the hashed files

# The frame's policy, and the workers' (Chromium gives a dedicated worker its own response's
# policy, not its frame's): 'wasm-unsafe-eval' lets the Argon2id worker compile its module.
FRAME_CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "connect-src 'self'; worker-src 'self'; img-src 'self' data:; frame-ancestors *; "
    "base-uri 'none'"
)
WORKER_CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'"
WORKER_HEADERS = {"Content-Security-Policy": WORKER_CSP}

UNHASHED = {"api.js", "frame.html"}  # served at their own URLs only
REFERENCE = re.compile(r"""(?<=["'/])[\w-]+\.(?:css|js|mjs|wasm)(?=["'])""")
MEDIA = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}


class MissingLibrary(RuntimeError):
    """The widget's npm libraries are not installed."""


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str
    digest: str


def make(name: str, body: bytes) -> Asset:
    suffix = Path(name).suffix
    media = MEDIA.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media.startswith("text/") or media.endswith("javascript"):
        media += "; charset=utf-8"
    digest = hashlib.sha256(body).hexdigest()
    return Asset(
        body=body,
        gzipped=gzip.compress(body, 9, mtime=0),
        etag='"' + digest[:20] + '"',
        media_type=media,
        digest=digest,
    )


def load(path: Path) -> Asset:
    return make(path.name, path.read_bytes())


def library() -> dict[str, bytes]:
    """The Argon2 library's files under their served names; a notice names its licence."""
    missing = [str(LIBRARY / f) for f in LIBRARY_FILES.values() if not (LIBRARY / f).is_file()]
    if missing:
        raise MissingLibrary(
            "the widget's npm library is missing (" + ", ".join(missing) + "): "
            "run make (npm ci) first"
        )
    files = {name: (LIBRARY / f).read_bytes() for name, f in LIBRARY_FILES.items()}
    meta = json.loads((LIBRARY / "package.json").read_text())
    files["argon2.mjs"] = (
        f"/*! {meta['name']} {meta['version']} | {meta['license']} licence | "
        f"{meta['repository']['url'].removeprefix('git+')} */\n"
    ).encode() + files["argon2.mjs"]
    return files


class AssetTable:
    """Every file of a folder (and `extra` files), read once; with `hashed`, also under
    content-hashed names, references between the files rewritten to those names."""

    def __init__(
        self, folder: Path, extra: dict[str, bytes] | None = None, hashed: bool = False
    ) -> None:
        sources = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
        sources.update(extra or {})
        self.assets: dict[str, Asset] = {}
        self.source: dict[str, str] = {}  # served name: the file it is
        self.hashed: dict[str, str] = {}  # file: its hashed name
        if not hashed:
            for name, body in sources.items():
                self.assets[name] = make(name, body)
                self.source[name] = name
            return
        for name in sources:
            self._hash(name, sources, ())

    def _hash(self, name: str, sources: dict[str, bytes], within: tuple[str, ...]) -> str:
        """The served name of a file, its references hashed first."""
        if name in self.source:
            return self.hashed.get(name, name)
        if name in within:
            raise ValueError(f"static files reference each other in a cycle: {within}")
        body = sources[name]
        if name.endswith((".js", ".mjs", ".css", ".html")) and name != "api.js":
            body = REFERENCE.sub(
                lambda m: (
                    self._hash(m[0], sources, (*within, name))
                    if m[0] in sources and m[0] not in UNHASHED and m[0] != name
                    else m[0]
                ),
                body.decode(),
            ).encode()
        asset = self.assets[name] = make(name, body)
        self.source[name] = name
        if name in UNHASHED:
            return name
        stem, ext = name.rsplit(".", 1)
        hashed = self.hashed[name] = f"{stem}.{asset.digest[:12]}.{ext}"
        self.assets[hashed] = asset
        self.source[hashed] = name
        return hashed

    def respond(
        self,
        request: Request,
        name: str,
        cache: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> Response:
        asset = self.assets.get(name)
        if asset is None:
            return Response("not found", status_code=404, media_type="text/plain")
        if cache is None:
            cache = CACHE_IMMUTABLE if self.source[name] != name else CACHE_LONG
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
    """The assets of a folder, loaded on first use; the widget's with its library, hashed."""
    if folder == STATIC:
        return AssetTable(folder, library(), hashed=True)
    return AssetTable(folder)


async def api_js(request: Request) -> Response:
    return table().respond(request, "api.js", cache=CACHE_LONG)


async def frame(request: Request) -> Response:
    return table().respond(
        request,
        "frame.html",
        cache=CACHE_FRAME,
        extra={"Content-Security-Policy": FRAME_CSP},
    )


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    t = table()
    worker = t.source.get(name, "").startswith("worker")
    return t.respond(request, name, extra=WORKER_HEADERS if worker else None)

"""Static files served from memory: ETag by content hash, gzip when the client takes it.

The widget's files (static/, and the Argon2 library that `npm ci` installs from
package-lock.json into node_modules/) are also served under content-hashed names,
`NAME.HASH.EXT`, cached for a year: the frame HTML, revalidated at every load, names them,
so a page never runs an old frame with new files or the reverse. A file that names another
(`"static/worker.js"`, `"./argon2.mjs"`) has the reference rewritten to the hashed name before
its own hash is taken. The plain names stay served for frames cached before an upgrade.

The files served are build/'s minified copies (`npm run build`, which make runs) of those whose
source has not changed since the build, and the readable sources otherwise: a stale or missing
build costs bytes, never correctness, and tests/test_widget_assets.py fails on it. Each locale
(locales/CODE.json) is served compact at `/1/static/locales/CODE.HASH.json`, HASH the digest of
all the locales together: frame.js, whose own hash changes with any locale's, then needs one
hash and the codes, not a hash for each (about 650 bytes gzip less on every first visit). It
gets them, and English's strings as its built-in fallback, in place of two placeholders.

The page-side scripts, one for each interface a site may speak (hCaptcha's at /1/api.js,
Turnstile's, reCAPTCHA's), are page/engine.js followed by that interface's adapter (page/NAME)
in one function scope: build/page-NAME, minified, while both sources are unchanged, and
otherwise the two readable sources so joined."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from passgate.web import CORS_HEADERS

STATIC = Path(__file__).with_name("static")
BUILD = Path(__file__).with_name("build")  # minified copies, manifest.json: their sources' SHA-256
LOCALES = Path(__file__).with_name("locales")
PAGE = Path(__file__).with_name("page")  # the page-side scripts: engine.js and the adapters
# Each page-side script's served name: its adapter in page/.
SCRIPTS = {
    "api.js": "hcaptcha.js",
    "turnstile-api.js": "turnstile.js",
    "recaptcha-api.js": "recaptcha.js",
}
# frame.js's string literals replaced: by "HASH CODE CODE...", the locales' common hash and
# their codes; by en's strings as JSON text.
PLACEHOLDER = re.compile(r"""(["'])@@passgate:(locales|en)@@\1""")
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

UNHASHED = {*SCRIPTS, "frame.html"}  # served at their own URLs only
REFERENCE = re.compile(r"""(?<=["'/])[\w-]+\.(?:css|js|mjs|wasm)(?=["'])""")
MEDIA = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}


log = logging.getLogger("passgate")


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


def minified(folder: Path = STATIC, build: Path = BUILD) -> dict[str, bytes]:
    """build/'s copy of each file of `folder` that is unchanged since the build."""
    try:
        made = json.loads((build / "manifest.json").read_text())
    except (OSError, ValueError):
        made = {}
    copies, stale = {}, []
    for p in sorted(f for f in folder.iterdir() if f.is_file()):
        if made.get(p.name) == hashlib.sha256(p.read_bytes()).hexdigest():
            copies[p.name] = (build / p.name).read_bytes()
        elif p.suffix in (".js", ".css", ".html"):
            stale.append(p.name)
    if stale or not made:
        log.warning(
            "serving the widget's readable sources for %s: build/ is %s; run make "
            "(npm run build) for the minified files",
            ", ".join(stale) or "all files",
            "older than them" if made else "missing",
        )
    return copies


def bundle(engine: str, adapter: str) -> str:
    """A page-side script's text: the engine and an adapter in one function scope (as
    build.mjs joins them)."""
    return '(function () {\n"use strict";\n' + engine + "\n" + adapter + "})();\n"


def page_scripts(folder: Path = PAGE, build: Path = BUILD) -> dict[str, bytes]:
    """Each page-side script by its served name: build/'s minified copy while current, else
    the readable sources joined."""
    try:
        made = json.loads((build / "manifest.json").read_text())
    except (OSError, ValueError):
        made = {}
    engine = (folder / "engine.js").read_text("utf-8")
    scripts, stale = {}, []
    for served, adapter in SCRIPTS.items():
        text = bundle(engine, (folder / adapter).read_text("utf-8")).encode()
        if made.get("page/" + adapter) == hashlib.sha256(text).hexdigest():
            scripts[served] = (build / ("page-" + adapter)).read_bytes()
        else:
            scripts[served] = text
            stale.append(adapter)
    if stale:
        log.warning(
            "serving the readable page-side scripts for %s: build/ is %s; run make "
            "(npm run build) for the minified files",
            ", ".join(stale),
            "older than them" if made else "missing",
        )
    return scripts


def locales(folder: Path = LOCALES) -> dict[str, bytes]:
    """Each locale's strings as served: compact JSON, by code."""
    return {
        p.stem: json.dumps(
            json.loads(p.read_text("utf-8")), ensure_ascii=False, separators=(",", ":")
        ).encode()
        for p in sorted(folder.glob("*.json"))
    }


def fill(text: str, locales: dict[str, bytes], digest: str) -> str:
    """A script with its locale placeholders replaced, each by a string literal."""
    english = json.dumps(json.loads(locales["en"]), ensure_ascii=False, separators=(",", ":"))
    data = {"locales": " ".join([digest, *locales]), "en": english}
    return PLACEHOLDER.sub(lambda m: json.dumps(data[m[2]], ensure_ascii=False), text)


class AssetTable:
    """Every file of a folder (and `extra` files), read once; with `hashed`, also under
    content-hashed names, references between the files rewritten to those names."""

    def __init__(
        self,
        folder: Path,
        extra: dict[str, bytes] | None = None,
        hashed: bool = False,
        locales: dict[str, bytes] | None = None,
    ) -> None:
        sources = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
        sources.update(extra or {})
        self.assets: dict[str, Asset] = {}
        self.source: dict[str, str] = {}  # served name: the file it is
        self.hashed: dict[str, str] = {}  # file: its hashed name
        self.locales = locales or {}  # code: its strings, served
        every = b"\n".join(c.encode() + b" " + b for c, b in self.locales.items())
        self.locale_hash = hashlib.sha256(every).hexdigest()[:12]  # in every locale's URL
        for code, body in self.locales.items():
            plain = f"locales/{code}.json"
            for served in (plain, f"locales/{code}.{self.locale_hash}.json"):
                self.assets[served] = make(plain, body)
                self.source[served] = plain
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
        if self.locales and name.endswith(".js"):
            body = fill(body.decode(), self.locales, self.locale_hash).encode()
        if name.endswith((".js", ".mjs", ".css", ".html")) and name not in SCRIPTS:
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
        files = {**library(), **minified(), **page_scripts()}
        return AssetTable(folder, files, hashed=True, locales=locales())
    return AssetTable(folder)


async def api_js(request: Request) -> Response:
    """hCaptcha's interface: /1/api.js, /1/secure-api.js."""
    return table().respond(request, "api.js", cache=CACHE_LONG)


async def turnstile_api_js(request: Request) -> Response:
    """Turnstile's interface: /turnstile/v0/api.js."""
    return table().respond(request, "turnstile-api.js", cache=CACHE_LONG)


async def recaptcha_api_js(request: Request) -> Response:
    """reCAPTCHA's interface: /recaptcha/api.js, /recaptcha/api2/api.js."""
    return table().respond(request, "recaptcha-api.js", cache=CACHE_LONG)


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


async def locale(request: Request) -> Response:
    return table().respond(request, "locales/" + request.path_params["name"])

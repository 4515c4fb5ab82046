"""The API reference page at /docs/api: Redoc's standalone bundle, which `npm ci` installs
from package-lock.json into node_modules/, renders /openapi.json in the browser. The bundle
and the page's own files (static/) are served from memory under content-hashed names
(`NAME.HASH.EXT`, cached for a year), never from a CDN. The page has its own
Content-Security-Policy (POLICY): passgate's origin only, scripts from files only.
PASSGATE_API_DOCS=off leaves the page and its files unmounted."""

from __future__ import annotations

import functools
import html
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from passgate.settings import Config, SettingsError
from passgate.widget.assets import AssetTable, MissingLibrary

STATIC = Path(__file__).with_name("static")
LIBRARY = Path(__file__).with_name("node_modules") / "redoc"
# Served name: the library's file. Pinned in package.json, installed by `make` (npm ci). The
# names are npm's, so that the bundle's "see redoc.standalone.js.LICENSE.txt" resolves.
BUNDLE = "redoc.standalone.js"
LICENCE = "redoc.standalone.js.LICENSE.txt"
LIBRARY_FILES = {BUNDLE: "bundles/redoc.standalone.js", LICENCE: "bundles/" + LICENCE}
# The sidebar's "API docs by Redocly" link shows a logo from Redocly's CDN: an empty image
# from a data: URL instead keeps the page to passgate's origin (the link and text stay).
CDN_LOGO = b'"https://cdn.redoc.ly/redoc/logo-mini.svg"'
NO_LOGO = b"\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E\""
PREFIX = "/docs/api/static/"
SPEC_URL = "/openapi.json"  # on the page's own origin
TITLE = "passgate API reference"


def enabled(config: Config) -> bool:
    """Whether the reference page is served (PASSGATE_API_DOCS: on or off); raises
    SettingsError for any other value."""
    value = str(config.api_docs).strip().lower()
    if value not in ("on", "off"):
        raise SettingsError(f"PASSGATE_API_DOCS must be on or off, not {config.api_docs!r}")
    return value == "on"


def library() -> dict[str, bytes]:
    """Redoc's files under their served names, the bundle headed by a licence notice and
    kept to passgate's origin; raises MissingLibrary when npm has not installed them."""
    missing = [str(LIBRARY / f) for f in LIBRARY_FILES.values() if not (LIBRARY / f).is_file()]
    if missing:
        raise MissingLibrary(
            "the API reference page's npm library is missing (" + ", ".join(missing) + "): "
            "run make (npm ci) first, or set PASSGATE_API_DOCS=off"
        )
    files = {name: (LIBRARY / f).read_bytes() for name, f in LIBRARY_FILES.items()}
    meta = json.loads((LIBRARY / "package.json").read_text())
    repository = meta["repository"]
    url = repository["url"] if isinstance(repository, dict) else repository
    files[BUNDLE] = (
        f"/*! {meta['name']} {meta['version']} | {meta['license']} licence | "
        f"{url.removeprefix('git+')} */\n"
    ).encode() + files[BUNDLE].replace(CDN_LOGO, NO_LOGO)
    return files


@functools.cache
def table() -> AssetTable:
    """The page's files and Redoc's, read, hashed and compressed once: call it when the app
    is made, so that a missing library (MissingLibrary) stops the start, not a request."""
    return AssetTable(STATIC, library(), hashed=True)


def url(name: str) -> str:
    """The content-hashed URL of a static file (`reference.js` -> /docs/api/static/...)."""
    return PREFIX + table().hashed[name]


# The page's policy: scripts are passgate's files only (no inline script, no eval); Redoc
# inserts <style> elements (styled-components, and perfect-scrollbar's CSS as the bundle loads,
# before a nonce could reach it), hence 'unsafe-inline' for styles only; it fetches
# /openapi.json (connect-src) and runs its search index in a worker made from a blob: URL.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",  # it names the hashed files: revalidated at each load
}


@functools.cache
def render() -> str:
    """The page's HTML: no inline script or style, only the hashed files (and an empty icon,
    so that the browser asks for no /favicon.ico)."""
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(TITLE)}</title>\n"
        '<link rel="icon" href="data:,">\n'
        f'<link rel="stylesheet" href="{url("reference.css")}">\n'
        f'<script src="{url(BUNDLE)}" defer></script>\n'
        f'<script src="{url("reference.js")}" defer></script>\n'
        "</head>\n<body>\n"
        f'<noscript><p>This page needs JavaScript. The OpenAPI document is at <a href="'
        f'{SPEC_URL}">{SPEC_URL}</a>.</p></noscript>\n'
        f'<div id="reference" data-spec="{SPEC_URL}"></div>\n'
        "</body>\n</html>\n"
    )


async def page(request: Request) -> Response:
    """GET /docs/api: the reference page, with its own Content-Security-Policy."""
    return HTMLResponse(render(), headers=HEADERS)


async def static(request: Request) -> Response:
    """GET /docs/api/static/{name}: a file by its hashed name (cached for a year, immutable;
    gzip when the client takes it) or its plain one; a JSON 404 for any other name."""
    name = request.path_params["name"]
    t = table()
    if name not in t.assets:
        return JSONResponse(
            {"error": "not_found", "message": f"no static file {name[:100]!r}"}, status_code=404
        )
    return t.respond(request, name)

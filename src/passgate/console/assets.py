"""The console's static files: console.css, console.js and the uPlot chart library that
`npm ci` installs from package-lock.json into node_modules/, served from memory under
content-hashed names (`NAME.HASH.EXT`, cached for a year), never from a CDN."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from passgate.widget.assets import AssetTable, MissingLibrary

STATIC = Path(__file__).with_name("static")
LIBRARY = Path(__file__).with_name("node_modules") / "uplot"
# Served name: the library's file. Pinned in package.json, installed by `make` (npm ci).
LIBRARY_FILES = {"uplot.js": "dist/uPlot.iife.min.js", "uplot.css": "dist/uPlot.min.css"}
PREFIX = "/console/static/"


def library() -> dict[str, bytes]:
    """uPlot's files under their served names, the script headed by a licence notice."""
    missing = [str(LIBRARY / f) for f in LIBRARY_FILES.values() if not (LIBRARY / f).is_file()]
    if missing:
        raise MissingLibrary(
            "the console's npm library is missing (" + ", ".join(missing) + "): "
            "run make (npm ci) first"
        )
    files = {name: (LIBRARY / f).read_bytes() for name, f in LIBRARY_FILES.items()}
    meta = json.loads((LIBRARY / "package.json").read_text())
    files["uplot.js"] = (
        f"/*! {meta['name']} {meta['version']} | {meta['license']} licence | "
        f"{meta['repository']['url'].removeprefix('git+')} */\n"
    ).encode() + files["uplot.js"]
    return files


@functools.cache
def table() -> AssetTable:
    """The console's files, read, hashed and compressed on first use."""
    return AssetTable(STATIC, library(), hashed=True)


def url(name: str) -> str:
    """The content-hashed URL of a static file (`console.css` -> /console/static/...)."""
    return PREFIX + table().hashed[name]


async def static(request: Request) -> Response:
    """A static file by its hashed name (cached for a year) or its plain one."""
    return table().respond(request, request.path_params["name"])

"""The API reference page at /docs/api (passgate.openapi.reference): the page and its
content-hashed files in process (beside a stand-in OpenAPI 3.1 document), the
PASSGATE_API_DOCS switch, and Redoc rendering passgate's own /openapi.json in real Chromium
under the page's own Content-Security-Policy."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from passgate import settings
from passgate.openapi import reference
from tests.browser import Recorder
from tests.conftest import LiveServer

# A small OpenAPI 3.1 document in place of passgate's own (passgate.openapi.document).
SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "passgate test API", "version": "1.0.0"},
    "paths": {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness of the process",
                "responses": {
                    "200": {
                        "description": "alive",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"status": {"type": "string"}},
                                }
                            }
                        },
                    }
                },
            }
        },
        "/siteverify": {
            "post": {
                "operationId": "siteverify",
                "summary": "Check a pass token once",
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["secret", "response"],
                                "properties": {
                                    "secret": {"type": "string"},
                                    "response": {"type": "string"},
                                    "remoteip": {"type": ["string", "null"]},
                                },
                            }
                        }
                    }
                },
                "responses": {"200": {"description": "the verdict"}},
            }
        },
    },
}


async def openapi_json(request: Request) -> Response:
    return JSONResponse(SPEC)


def reference_app() -> Starlette:
    """The page's two routes alone, and a stand-in /openapi.json."""
    return Starlette(
        routes=[
            Route("/openapi.json", openapi_json),
            Route("/docs/api", reference.page),
            Route("/docs/api/static/{name}", reference.static),
        ]
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=reference_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://passgate.test") as c:
        yield c


def static_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/docs/api/static/[^"]+)"', html)


@pytest.mark.anyio
async def test_the_page_carries_its_policy_and_names_only_hashed_files(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/docs/api")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-cache"
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    assert directives["style-src"] == "'self' 'unsafe-inline'"  # Redoc's <style> elements
    assert directives["connect-src"] == "'self'" and directives["worker-src"] == "blob:"
    assert "http" not in csp and "*" not in csp  # passgate's origin only
    assert "<title>passgate API reference</title>" in r.text
    assert "<style" not in r.text and " style=" not in r.text
    assert re.findall(r"<script[^>]*>[^<]", r.text) == []  # every script is a file
    assert 'data-spec="/openapi.json"' in r.text
    urls = static_urls(r.text)
    assert len(urls) == 3
    for u in urls:
        assert re.fullmatch(r"/docs/api/static/[\w.-]+\.[0-9a-f]{12}\.(js|css)", u), u


@pytest.mark.anyio
async def test_the_hashed_files_are_immutable_and_gzipped(client: httpx.AsyncClient) -> None:
    for u in static_urls((await client.get("/docs/api")).text):
        plain = await client.get(u, headers={"accept-encoding": "identity"})
        assert plain.status_code == 200
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert plain.headers["x-content-type-options"] == "nosniff"
        assert "content-encoding" not in plain.headers
        zipped = await client.get(u, headers={"accept-encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.content == plain.content  # httpx decodes it
        again = await client.get(u, headers={"if-none-match": plain.headers["etag"]})
        assert again.status_code == 304
    bundle = reference.table().assets[reference.table().hashed[reference.BUNDLE]]
    assert bundle.body.startswith(b"/*! redoc 2.")
    assert b"cdn.redoc.ly" not in bundle.body  # the sidebar logo no longer leaves the origin
    assert gzip.decompress(bundle.gzipped) == bundle.body


@pytest.mark.parametrize(
    "name", ["nope.js", "redoc.standalone.000000000000.js", "reference.js.map"]
)
@pytest.mark.anyio
async def test_an_unknown_static_name_is_a_json_404(client: httpx.AsyncClient, name: str) -> None:
    r = await client.get("/docs/api/static/" + name)
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "not_found" and body["message"]


def test_a_missing_library_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from passgate.widget.assets import MissingLibrary

    monkeypatch.setattr(reference, "LIBRARY", tmp_path / "redoc")
    with pytest.raises(MissingLibrary, match="npm ci.*PASSGATE_API_DOCS=off"):
        reference.library()


@pytest.mark.parametrize(
    ("value", "on"), [("on", True), ("off", False), ("OFF", False), (" On ", True)]
)
def test_the_switch(value: str, on: bool) -> None:
    config = settings.load(env={"PASSGATE_API_DOCS": value})
    assert reference.enabled(config) is on


def test_the_switch_is_on_by_default() -> None:
    assert reference.enabled(settings.load(env={}))


@pytest.mark.parametrize("value", ["maybe", "", "1", "true"])
def test_the_switch_refuses_other_values(value: str) -> None:
    config = settings.load(env={"PASSGATE_API_DOCS": value})
    with pytest.raises(settings.SettingsError, match="PASSGATE_API_DOCS must be on or off"):
        reference.enabled(config)


@pytest.mark.anyio
@pytest.mark.parametrize("switch", ["on", "off"])
async def test_the_app_serves_the_page_only_when_on(tmp_path, switch: str) -> None:
    from passgate.app import create_app
    from passgate.service import build

    service = build(settings.load(env={"PASSGATE_API_DOCS": switch}, data_dir=str(tmp_path)))
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://passgate.test") as c:
        assert (await c.get("/openapi.json")).status_code == 200  # on either way
        r = await c.get("/docs/api")
        assert r.status_code == (200 if switch == "on" else 404)
        if switch == "on":
            assert r.headers["content-security-policy"] == reference.POLICY
            for u in static_urls(r.text):
                assert (await c.get(u)).status_code == 200
        else:
            assert r.json()["error"] == "not_found"
            assert (await c.get(reference.url("reference.js"))).status_code == 404
    await service.close()


# The browser: the real app (`passgate demo`), its own /openapi.json rendered by Redoc.


@pytest.mark.browser
@pytest.mark.slow
def test_redoc_renders_the_document_under_the_policy(browser: Any, live_server: LiveServer) -> None:
    server = live_server
    from playwright.sync_api import expect

    rec = Recorder()
    context = browser.new_context()
    page = context.new_page()
    rec.attach(context, page)
    try:
        page.goto(server.base_url + "/docs/api")
        expect(page.locator("#reference[data-state=ready]")).to_be_attached(timeout=10_000)
        assert page.title() == "passgate API reference"
        summary = page.locator("h2", has_text="Verify a pass token, once")
        expect(summary.first).to_be_visible()
        page.get_by_placeholder("Search...").fill("createJob")  # the blob: search worker
        expect(page.locator("[role=search] li", has_text="A token job").first).to_be_visible(
            timeout=5_000
        )
    finally:
        context.close()
    assert rec.console_errors == []  # CSP violations included (Recorder reports them)
    assert rec.page_errors == []
    assert rec.origins() == {server.base_url}  # nothing from a CDN

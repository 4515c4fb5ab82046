"""Browser-test helpers: Debian's Chromium under Playwright, a page server on another
loopback origin (the site embedding the widget), and a recorder of what the page did."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def expect() -> Any:
    """Playwright's `expect`, imported only when a browser test runs."""
    from playwright.sync_api import expect as _expect

    return _expect


def unavailable(reason: str) -> None:
    """Skip a browser test locally; under CI a missing browser is a failure, never a skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def chromium_session() -> Iterator[Any]:
    """A headless Chromium for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is missing")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Recorder:
    """Everything a test may want to assert about a page: requests, console errors, uncaught
    exceptions and CSP violations (reported by an init script in every frame)."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def attach(self, context: Any, page: Any) -> None:
        context.on("request", lambda r: self.requests.append(r.url))
        page.on(
            "console",
            lambda m: self.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        context.add_init_script(
            "window.addEventListener('securitypolicyviolation', function (e) {"
            " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI); });"
        )

    def origins(self) -> set[str]:
        return {origin(u) for u in self.requests if u.startswith("http")}


class PageServer:
    """Serves test pages from memory on 127.0.0.1, addressed as http://localhost:PORT so that
    the page's origin differs from passgate's (http://127.0.0.1:PORT)."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[bytes, dict[str, str]]] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                body, headers = pages.get(path, (b"not found", {}))
                self.send_response(200 if path in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://localhost:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, html: str, headers: dict[str, str] | None = None) -> str:
        self.pages[path] = (html.encode(), headers or {})
        return self.base_url + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def widget_page(script_url: str, body: str, head: str = "") -> str:
    """A minimal site page that loads api.js and holds `body`."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>site</title>'
        f'{head}<script src="{script_url}" async defer></script></head>'
        f"<body>{body}</body></html>"
    )


# Records every widget callback into window.events as [name, argument].
RECORD_CALLBACKS = """<script>
window.events = [];
function rec(name) { return function (x) { events.push([name, x === undefined ? null : x]); }; }
window.onPass = rec("callback");
window.onExpired = rec("expired");
window.onChalExpired = rec("chalexpired");
window.onOpen = rec("open");
window.onClose = rec("close");
window.onError = rec("error");
</script>"""

CALLBACK_ATTRS = (
    'data-callback="onPass" data-expired-callback="onExpired" '
    'data-chalexpired-callback="onChalExpired" data-open-callback="onOpen" '
    'data-close-callback="onClose" data-error-callback="onError"'
)

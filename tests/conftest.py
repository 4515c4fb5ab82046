"""Shared fixtures: an in-process service and client, a registered site, and a live server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from passgate import challenge, settings
from passgate.app import create_app
from passgate.service import Service, build

SLOW_DIFFICULTY = 2_000  # keeps test solves to milliseconds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def config(tmp_path: Path) -> settings.Config:
    return settings.load(env={}, data_dir=str(tmp_path / "data"))


@pytest.fixture
async def service(config: settings.Config) -> AsyncIterator[Service]:
    svc = build(config)
    yield svc
    await svc.close()


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(service, demo_site=None)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://passgate.test") as c:
        yield c


@dataclass
class SiteCreds:
    sitekey: str
    secret: str


@pytest.fixture
def site(service: Service) -> SiteCreds:
    created, secret = service.sites.add(["shop.example"], name="shop", difficulty=SLOW_DIFFICULTY)
    return SiteCreds(created.sitekey, secret)


async def earn_token(
    client: httpx.AsyncClient, sitekey: str, host: str = "shop.example", **extra: Any
) -> dict[str, Any]:
    """What the widget does: fetch a challenge, solve it, trade the solution for a token."""
    r = await client.post("/1/challenge", json={"sitekey": sitekey, "host": host})
    assert r.status_code == 200, r.text
    data = r.json()
    ch = challenge.Challenge(
        sitekey, host, data["salt"], data["difficulty"], data["parts"], data["expires"]
    )
    solved = await client.post(
        "/1/solve", json={"challenge": data["challenge"], "nonces": challenge.solve(ch), **extra}
    )
    assert solved.status_code == 200, solved.text
    body: dict[str, Any] = solved.json()
    return body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    sitekey: str
    secret: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli_input(None, *args)

    def cli_input(self, stdin: str | None, *args: str) -> subprocess.CompletedProcess[str]:
        """`passgate ARGS` against this server's data, with `stdin` as its input."""
        return subprocess.run(
            [sys.executable, "-m", "passgate.cli", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )


def start_server(data_dir: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    """`passgate demo` on a free loopback port, ready when /healthz answers."""
    port = free_port()
    env = {
        **os.environ,
        "PASSGATE_DATA_DIR": str(data_dir),
        "PASSGATE_DEFAULT_DIFFICULTY": str(SLOW_DIFFICULTY),
        **(extra_env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "passgate.cli", "demo", "--port", str(port), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("passgate did not start")
    return LiveServer(base, info["sitekey"], info["secret"], data_dir, proc, env)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("live") / "data")
    yield server
    server.process.terminate()
    server.process.wait(10)


# -- browser tests: one Chromium per module, one page server per session -------------------


@pytest.fixture(scope="module")  # Playwright's sync API holds an event loop while open
def browser() -> Iterator[Any]:
    from tests.browser import chromium_session

    yield from chromium_session()


@pytest.fixture(scope="session")
def pages() -> Iterator[Any]:
    """Another loopback origin: the site that embeds the widget (tests.browser)."""
    from tests.browser import PageServer

    server = PageServer()
    yield server
    server.close()


@pytest.fixture
def rec() -> Any:
    """What a page did: console errors, CSP violations, requests (tests.browser)."""
    from tests.browser import Recorder

    return Recorder()


@pytest.fixture
def page(browser: Any, rec: Any) -> Iterator[Any]:
    """A fresh context and page in the module's Chromium, recorded by `rec`."""
    context = browser.new_context()
    page = context.new_page()
    rec.attach(context, page)
    yield page
    context.close()

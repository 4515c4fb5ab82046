"""The console in real Chromium: sign in, add a site and see its secret once, watch a solve
reach the overview, rotate a secret, revoke a key, a viewer who cannot change anything, CSRF
and wrong passwords refused, a session that dies with `user passwd`, and axe-core's WCAG
2.x A/AA rules on every page."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import PageServer, Recorder, expect, unavailable
from tests.conftest import LiveServer, start_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER, VIEWER = "olga", "victor"
PASSWORD = "correct horse battery"
AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
PAGES = ["/console/", "/console/sites", "/console/keys", "/console/signing", "/console/audit",
         "/console/health"]  # fmt: skip


def cli(server: LiveServer, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "passgate.cli", *args],
        env=server.env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("console") / "data")
    cli(live, "user", "add", OWNER, "--role", "owner", "--password-stdin", stdin=PASSWORD)
    cli(live, "user", "add", VIEWER, "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    yield live
    live.process.terminate()
    live.process.wait(10)


@pytest.fixture
def page(browser: Any, rec: Recorder) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    rec.attach(context, page)
    yield page
    context.close()
    assert not [e for e in rec.console_errors if "CSP" in e], rec.console_errors
    assert rec.page_errors == []


def sign_in(page: Any, server: LiveServer, name: str = OWNER, password: str = PASSWORD) -> None:
    page.goto(server.base_url + "/console/")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def add_site(page: Any, server: LiveServer, host: str) -> tuple[str, str]:
    """Add a site through the Sites page; returns (sitekey, the secret shown once)."""
    page.goto(server.base_url + "/console/sites")
    page.get_by_label("Hostnames").fill(host)
    page.get_by_label("Name", exact=True).fill("console-made " + host)
    page.get_by_label("Difficulty", exact=True).fill("2000")
    page.get_by_role("button", name="Add site").click()
    secret = page.locator("#shown-secret").input_value()
    sitekey = re.search(r"/console/sites/([0-9a-f-]{36})", page.url)
    assert sitekey, page.url
    return sitekey.group(1), secret


def test_sign_in_add_a_site_and_see_its_secret_once(page: Any, server: LiveServer) -> None:
    ex = expect()
    sign_in(page, server)
    ex(page.get_by_role("heading", level=1)).to_have_text(re.compile("Overview"))
    sitekey, secret = add_site(page, server, "once.example")
    assert re.fullmatch(r"0x[0-9a-f]{40}", secret)
    ex(page.locator("body")).to_contain_text(sitekey)
    ex(page.locator("body")).to_contain_text('data-sitekey="' + sitekey + '"')  # the snippet
    page.reload()
    ex(page.locator("#shown-secret")).to_have_count(0)
    assert secret not in page.content()
    listed = json.loads(cli(server, "site", "list", "--json"))
    assert any(s["sitekey"] == sitekey for s in listed)
    audit = json.loads(cli(server, "audit", "--json", "--action", "site.add"))
    assert any(e["actor"] == "user:" + OWNER and e["target"] == sitekey for e in audit)


def test_a_solve_reaches_the_overview_within_15_seconds(
    page: Any, server: LiveServer, browser: Any
) -> None:
    ex = expect()
    sign_in(page, server)
    sitekey, _secret = add_site(page, server, "localhost")
    pages = PageServer()
    try:
        url = pages.add(
            "/form.html",
            "<!doctype html><html lang=en><title>shop</title>"
            f'<script src="{server.base_url}/1/api.js" async defer></script>'
            f'<form><div class="h-captcha" data-sitekey="{sitekey}"></div></form>',
        )
        shop = browser.new_page()
        shop.goto(url)
        box = shop.frame_locator("iframe").locator("#box")
        box.click()
        ex(box).to_have_attribute("aria-checked", "true", timeout=20_000)
        shop.close()
    finally:
        pages.close()
    solved_at = time.monotonic()
    page.goto(f"{server.base_url}/console/?since=1h&site={sitekey}")
    solved = page.locator('[data-total="solved"]')
    ex(solved).to_have_text("1", timeout=15_000)  # the overview refreshes itself
    assert time.monotonic() - solved_at < 15


def test_rotate_a_secret_and_revoke_a_key(page: Any, server: LiveServer) -> None:
    ex = expect()
    sign_in(page, server)
    sitekey, first = add_site(page, server, "rotate.example")
    page.get_by_role("button", name=re.compile("Rotate")).first.click()
    rotated = page.locator("#shown-secret").input_value()
    assert re.fullmatch(r"0x[0-9a-f]{40}", rotated) and rotated != first
    r = httpx.post(server.base_url + "/siteverify", data={"secret": first, "response": "x"})
    assert "invalid-input-secret" in r.json()["error-codes"]  # the old secret is gone
    page.goto(server.base_url + "/console/keys")
    page.get_by_label("Key name").fill("console-ci")
    page.get_by_role("button", name="Create key").click()
    token = page.locator("#shown-secret").input_value()
    assert token
    page.get_by_role("button", name=re.compile("Revoke key console-ci")).click()
    confirm = page.get_by_role("button", name=re.compile("^Revoke"))
    if confirm.count():  # a confirmation step, when the page asks for one
        confirm.first.click()
    keys = json.loads(cli(server, "key", "list", "--json"))
    assert any(k["name"] == "console-ci" and k["revoked_at"] for k in keys), keys
    bad = httpx.post(
        server.base_url + "/api/wanda/hcaptcha/universal",
        headers={"User-Token": token},
        json={"sitekey": sitekey, "referer": "https://rotate.example/"},
    )
    assert bad.json().get("error_code") == "revoked_key" or "revoked" in bad.text
    ex(page.locator("body")).to_contain_text("console-ci")


def test_a_viewer_cannot_change_anything(page: Any, server: LiveServer) -> None:
    sign_in(page, server, VIEWER)
    for path in ("/console/sites", "/console/keys", "/console/signing"):
        page.goto(server.base_url + path)
        changing = page.locator("form[method=post]:not([action='/console/signout'])")
        assert changing.count() == 0, path
    csrf = page.locator("input[name=csrf]").first.input_value()
    for action, form in (
        ("/console/sites", {"hostnames": "viewer.example"}),
        ("/console/keys", {"name": "viewer-key"}),
        ("/console/signing/rotate", {}),
    ):
        r = page.request.post(server.base_url + action, form={"csrf": csrf, **form})
        assert r.status == 403, action
    assert "viewer.example" not in cli(server, "site", "list")


def test_a_form_without_its_csrf_token_and_a_wrong_password_are_refused(
    page: Any, server: LiveServer
) -> None:
    ex = expect()
    sign_in(page, server, OWNER, "not the password at all")
    ex(page.locator("[role=alert]")).to_contain_text("Wrong user name or password")
    ex(page.get_by_label("Password")).to_be_visible()
    sign_in(page, server)
    r = page.request.post(server.base_url + "/console/sites", form={"hostnames": "x.example"})
    assert r.status == 403
    forged = page.request.post(
        server.base_url + "/console/sites", form={"csrf": "0" * 43, "hostnames": "x.example"}
    )
    assert forged.status == 403
    nocsrf = page.request.post(
        server.base_url + "/console/signin", form={"name": OWNER, "password": PASSWORD}
    )
    assert nocsrf.status == 403  # the sign-in form too
    assert "x.example" not in cli(server, "site", "list")


def test_a_session_dies_after_user_passwd(page: Any, server: LiveServer) -> None:
    ex = expect()
    cli(server, "user", "add", "pat", "--role", "owner", "--password-stdin", stdin=PASSWORD)
    sign_in(page, server, "pat")
    ex(page.get_by_role("link", name="Sites")).to_be_visible()
    cli(server, "user", "passwd", "pat", "--password-stdin", stdin=PASSWORD + " again")
    page.goto(server.base_url + "/console/sites")
    ex(page.get_by_label("Password")).to_be_visible()  # signed out: the sign-in page
    ex(page.get_by_role("link", name="Sites")).to_have_count(0)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    if not AXE.exists():
        unavailable(f"{AXE} is missing: run `make` (npm ci in tests/axe)")
    page.evaluate(AXE.read_text())
    result: dict[str, Any] = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag', values:
            ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
    ]


@pytest.mark.parametrize("who", [OWNER, VIEWER])
def test_axe_finds_no_wcag_violation_on_any_page(page: Any, server: LiveServer, who: str) -> None:
    page.goto(server.base_url + "/console/")
    assert axe_violations(page) == [], "sign-in page"
    sign_in(page, server, who)
    sites = json.loads(cli(server, "site", "list", "--json"))
    for path in [*PAGES, f"/console/sites/{sites[0]['sitekey']}"]:
        page.goto(server.base_url + path)
        page.wait_for_load_state("networkidle")
        assert axe_violations(page) == [], path


def test_the_console_can_be_switched_off_or_moved(tmp_path: Path) -> None:
    from tests.conftest import free_port

    off = start_server(tmp_path / "off", {"PASSGATE_CONSOLE": "off"})
    try:
        assert httpx.get(off.base_url + "/console/").status_code == 404
    finally:
        off.process.terminate()
        off.process.wait(10)
    port = free_port()
    moved = start_server(tmp_path / "moved", {"PASSGATE_CONSOLE_PORT": str(port)})
    try:
        assert httpx.get(moved.base_url + "/console/").status_code == 404
        own = httpx.get(f"http://127.0.0.1:{port}/console/")
        assert own.status_code == 200 and "Sign in" in own.text
    finally:
        moved.process.terminate()
        moved.process.wait(10)

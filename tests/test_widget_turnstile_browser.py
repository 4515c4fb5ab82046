"""Turnstile's page interface in a real browser (docs/turnstile.md §1-5, §8): implicit and
explicit rendering, execute mode, action and cData bound into the token and read back at
/turnstile/v0/siteverify, the form posting cf-turnstile-response, one verification per token,
the strict CSP, refused parameters, and the published test sitekeys."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from passgate.widget import assets
from tests.browser import PageServer, Recorder, expect, widget_page
from tests.conftest import LiveServer
from tests.test_widget_browser import CSP, TOKEN_RE

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DUMMY = "XXXX.DUMMY.TOKEN.XXXX"
PASS_SECRET = "1x0000000000000000000000000000000AA"
GERMAN = json.loads((assets.LOCALES / "de.json").read_text("utf-8"))
# Records each callback of each widget into window.events as [widget, callback, argument].
RECORD = """<script>
window.events = [];
function on(who, name) {
  return function (x) { events.push([who, name, x === undefined ? null : x]); return true; };
}
function calls(who) {
  var o = {};
  ["callback", "error-callback", "expired-callback", "timeout-callback",
   "before-interactive-callback", "after-interactive-callback"].forEach(function (k) {
    o[k] = on(who, k.replace("-callback", ""));
  });
  return o;
}
</script>"""


def script(server: LiveServer, query: str = "") -> str:
    return f"{server.base_url}/turnstile/v0/api.js{query}"


def siteverify(server: LiveServer, secret: str, response: str) -> dict[str, Any]:
    r = httpx.post(
        server.base_url + "/turnstile/v0/siteverify", json={"secret": secret, "response": response}
    )
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def test_implicit_render_binds_action_and_cdata_and_the_form_posts_the_field(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    ex = expect()
    pages.add("/ts-posted.html", "<!doctype html><title>posted</title>")
    url = pages.add(
        "/ts-implicit.html",
        widget_page(
            script(live_server),
            '<form method="get" action="/ts-posted.html"><input name="q" value="1">'
            f'<div class="cf-turnstile" data-sitekey="{live_server.sitekey}" '
            'data-action="log-in_2" data-cdata="session=42" data-theme="dark"></div>'
            "<button>Send</button></form>",
        ),
        {"Content-Security-Policy": CSP.format(P=live_server.base_url)},
    )
    page.goto(url)
    field = page.locator("form input[name=cf-turnstile-response]")
    # under the strict CSP (no inline script: no callbacks here); execution "render": the check
    # runs by itself, no click
    ex(field).to_have_value(TOKEN_RE, timeout=20_000)
    token = field.input_value()
    wid = page.locator(".cf-turnstile").get_attribute("data-passgate-id")
    assert field.get_attribute("id") == f"{wid}_response"
    assert field.get_attribute("type") == "hidden"
    assert page.evaluate("() => turnstile.getResponse()") == token
    assert page.evaluate(f"() => turnstile.getResponse('{wid}')") == token
    assert page.evaluate("() => turnstile.isExpired('.cf-turnstile')") is False
    assert page.evaluate("() => [typeof grecaptcha, typeof hcaptcha]") == ["undefined"] * 2
    ex(page.frame_locator("iframe").locator("#box")).to_have_attribute("aria-checked", "true")
    page.click("button")
    page.wait_for_url(re.compile(r"/ts-posted\.html\?"))
    assert parse_qs(urlsplit(page.url).query)["cf-turnstile-response"] == [token]

    first = siteverify(live_server, live_server.secret, token)
    assert first["success"] is True, first
    assert first["action"] == "log-in_2" and first["cdata"] == "session=42"
    assert first["hostname"] == "localhost" and first["error-codes"] == []
    assert "score" not in first
    again = siteverify(live_server, live_server.secret, token)
    assert again == {"success": False, "error-codes": ["timeout-or-duplicate"]}
    csp = [m for m in rec.console_errors if "Content Security Policy" in m or "CSP" in m]
    assert csp == [] and rec.page_errors == []


def test_explicit_render_in_execute_mode(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    ex = expect()
    url = pages.add(
        "/ts-explicit.html",
        widget_page(
            script(live_server, "?render=explicit&onload=go"),
            '<div class="cf-turnstile" data-sitekey="not-rendered"></div>'
            '<form><div id="slot"></div></form>',
            RECORD
            + "<script>function go() { turnstile.ready(function () {"
            + "window.wid = turnstile.render('#slot', Object.assign(calls('slot'), {"
            + f"sitekey: '{live_server.sitekey}', execution: 'execute', appearance: 'execute',"
            + " 'response-field-name': 'captcha', size: 'flexible', language: 'de',"
            + " theme: 'purple', unknownKey: 1})); }); }</script>",
        ),
    )
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(url)
    page.wait_for_function("() => window.wid")
    ex(page.locator("div[data-sitekey=not-rendered] iframe")).to_have_count(0)  # explicit
    frame = page.locator("#slot iframe")
    ex(frame).to_be_hidden()  # appearance "execute": hidden until the check runs
    field = page.locator("#slot input[name=captcha]")
    ex(field).to_have_value("")
    assert page.evaluate("() => turnstile.getResponse()") is None
    page.wait_for_timeout(300)
    assert not [u for u in rec.requests if u.endswith("/1/challenge")]  # not before execute

    page.evaluate("() => turnstile.execute('#slot')")
    ex(field).to_have_value(TOKEN_RE, timeout=20_000)
    token = field.input_value()
    ex(frame).to_be_visible()
    ex(page.frame_locator("#slot iframe").locator("#label")).to_have_text(GERMAN["done"])
    assert frame.evaluate("f => f.getBoundingClientRect().width") >= 303  # flexible
    assert any("unknown theme" in m for m in warnings)
    # execute on a widget holding a token: the callback again, with that token
    page.evaluate("() => turnstile.execute(window.wid)")
    assert page.evaluate("() => events") == [["slot", "callback", token]] * 2
    page.evaluate("() => turnstile.reset()")
    ex(field).to_have_value("")
    assert page.evaluate("() => turnstile.getResponse(window.wid)") is None
    page.evaluate("() => turnstile.remove('#slot')")
    ex(page.locator("#slot iframe")).to_have_count(0)
    ex(field).to_have_count(0)
    assert page.evaluate("() => [turnstile.getResponse(), turnstile.isExpired()]") == [None, False]
    assert rec.page_errors == []


def test_expiry_calls_back_early_and_refreshes(
    page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    ex = expect()
    url = pages.add(
        "/ts-expiry.html",
        widget_page(
            script(live_server, "?render=explicit&onload=go"),
            '<div id="slot"></div>',
            RECORD
            + "<script>function go() { window.wid = turnstile.render('#slot', Object.assign("
            + f"calls('slot'), {{sitekey: '{live_server.sitekey}', 'refresh-expired': 'manual'"
            + "})); }</script>",
        ),
    )
    page.clock.install()
    page.goto(url)
    field = page.locator("#slot input")
    ex(field).to_have_value(TOKEN_RE, timeout=20_000)
    token = field.input_value()
    page.clock.fast_forward("01:51")  # 120 s lifetime, expired-callback 10 s early
    ex(field).to_have_value("")
    assert page.evaluate("() => events.map(e => e[1])") == ["callback", "expired"]
    assert page.evaluate("() => events[1][2]") == token
    assert page.evaluate("() => [turnstile.isExpired(), turnstile.getResponse()]") == [
        True,
        token,  # documented: the old token stays readable
    ]
    # manual: the box offers a new check; a click earns a new token
    page.frame_locator("#slot iframe").locator("#box").click()
    ex(field).to_have_value(TOKEN_RE, timeout=20_000)
    assert field.input_value() != token
    assert page.evaluate("() => turnstile.isExpired()") is False


def test_bad_action_or_cdata_is_refused_in_the_page(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    url = pages.add(
        "/ts-refused.html",
        widget_page(
            script(live_server, "?render=explicit&onload=go"),
            '<div id="a"></div><div id="c"></div><div id="ok"></div>',
            RECORD
            + "<script>function go() { var k = '"
            + live_server.sitekey
            + "'; window.ids = ["
            + "turnstile.render('#a', Object.assign(calls('a'), {sitekey: k,"
            + " action: 'x'.repeat(33)})),"
            + "turnstile.render('#c', Object.assign(calls('c'), {sitekey: k,"
            + " cData: 'y'.repeat(256)})),"
            + "turnstile.render('#ok', Object.assign(calls('ok'), {sitekey: k,"
            + " execution: 'execute', cData: 'y'.repeat(255)}))]; }</script>",
        ),
    )
    page.goto(url)
    page.wait_for_function("() => events.length >= 2")
    assert sorted(page.evaluate("() => events")) == [
        ["a", "error", "110420"],
        ["c", "error", "110430"],
    ]
    assert page.evaluate("() => ids.map(x => typeof x)") == ["undefined", "undefined", "string"]
    assert page.locator("#a iframe, #c iframe").count() == 0
    # a bad action given to execute is refused too, and nothing reaches the server
    page.evaluate("() => turnstile.execute('#ok', {action: 'no spaces'})")
    page.wait_for_function("() => events.length >= 3")
    assert page.evaluate("() => events[2]") == ["ok", "error", "110420"]
    page.wait_for_timeout(300)
    assert not [u for u in rec.requests if u.endswith("/1/challenge")]


def test_the_published_test_sitekeys(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    ex = expect()
    keys = {
        "pass": "1x00000000000000000000AA",
        "block": "2x00000000000000000000AB",
        "pass-invisible": "1x00000000000000000000BB",
        "block-invisible": "2x00000000000000000000BB",
        "interactive": "3x00000000000000000000FF",
    }
    body = "".join(f'<div id="{name}"></div>' for name in keys)
    renders = "".join(
        f"turnstile.render('#{name}', Object.assign(calls('{name}'), {{sitekey: '{key}',"
        f" appearance: '{'interaction-only' if name == 'interactive' else 'always'}'}}));"
        for name, key in keys.items()
    )
    url = pages.add(
        "/ts-testkeys.html",
        widget_page(
            script(live_server, "?render=explicit&onload=go"),
            body,
            RECORD + f"<script>function go() {{ {renders} }}</script>",
        ),
    )
    page.goto(url)
    page.wait_for_function("() => events.length >= 5")
    events = page.evaluate("() => events")
    assert sorted(events) == [
        ["block", "error", "600010"],
        ["block-invisible", "error", "600010"],
        ["interactive", "before-interactive", None],
        ["pass", "callback", DUMMY],
        ["pass-invisible", "callback", DUMMY],
    ]
    ex(page.locator("#pass iframe")).to_be_visible()
    ex(page.locator("#block iframe")).to_be_visible()
    ex(page.frame_locator("#block iframe").locator("#label")).to_have_text("Verification failed")
    ex(page.locator("#pass-invisible iframe")).to_be_hidden()
    ex(page.locator("#block-invisible iframe")).to_be_hidden()
    # the interactive key shows itself though interaction-only, and waits for a click
    ex(page.locator("#interactive iframe")).to_be_visible()
    ex(page.locator("#interactive input")).to_have_value("")
    page.frame_locator("#interactive iframe").locator("#box").click()
    ex(page.locator("#interactive input")).to_have_value(DUMMY)
    assert page.evaluate("() => events.slice(5)") == [
        ["interactive", "after-interactive", None],
        ["interactive", "callback", DUMMY],
    ]
    ex(page.locator("#interactive iframe")).to_be_hidden(timeout=5_000)  # interaction only
    page.wait_for_timeout(300)
    assert not [u for u in rec.requests if u.endswith("/1/solve")]  # no work for test keys
    verdict = siteverify(live_server, PASS_SECRET, DUMMY)
    assert verdict["success"] is True and verdict["hostname"] == "example.com"
    assert siteverify(live_server, PASS_SECRET, DUMMY)["success"] is True  # never spent


def test_unknown_sitekey_and_foreign_host_get_their_codes(
    page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    """The frame passes on the server's reason; the adapter turns it into Turnstile's code
    (110100: the sitekey; 110200: the page's host), neither retried."""
    out = live_server.cli("site", "add", "--hostname", "elsewhere.example", "--json")
    assert out.returncode == 0, out.stderr
    foreign = json.loads(out.stdout)["sitekey"]
    unknown = "00000000-0000-4000-8000-000000000000"
    url = pages.add(
        "/ts-codes.html",
        widget_page(
            script(live_server, "?render=explicit&onload=go"),
            '<div id="unknown"></div><div id="foreign"></div>',
            RECORD
            + "<script>function go() {"
            + "".join(
                f"turnstile.render('#{who}', Object.assign(calls('{who}'),"
                f" {{sitekey: '{key}', 'retry-interval': 50}}));"
                for who, key in (("unknown", unknown), ("foreign", foreign))
            )
            + "}</script>",
        ),
    )
    page.goto(url)
    page.wait_for_function("() => events.length >= 2")
    page.wait_for_timeout(400)  # no retry follows
    assert sorted(page.evaluate("() => events")) == [
        ["foreign", "error", "110200"],
        ["unknown", "error", "110100"],
    ]

"""reCAPTCHA's page interface in a real browser (docs/recaptcha.md §1-5, §7): the v2 checkbox
rendered implicitly and explicitly, the invisible size run by grecaptcha.execute, v3's
execute(SITEKEY, {action}) and bound buttons, the action read back at
/recaptcha/api/siteverify, the form posting g-recaptcha-response, one verification per token,
the strict CSP, and the published v2 test sitekey."""

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

TEST_SITEKEY = "6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI"
TEST_SECRET = "6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe"
TEST_TOKEN = "passgate-recaptcha-test-token"
GERMAN = json.loads((assets.LOCALES / "de.json").read_text("utf-8"))
# Records callbacks into window.events as [who, callback, argument].
RECORD = """<script>
window.events = [];
function on(who, name) {
  return function (x) { events.push([who, name, x === undefined ? null : x]); };
}
window.onButton = on("button", "callback");
window.onChecked = on("checkbox", "callback");
</script>"""


def script(server: LiveServer, query: str = "", path: str = "/recaptcha/api.js") -> str:
    return f"{server.base_url}{path}{query}"


def siteverify(server: LiveServer, secret: str, response: str) -> dict[str, Any]:
    r = httpx.post(
        server.base_url + "/recaptcha/api/siteverify",
        data={"secret": secret, "response": response},
    )
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def test_v2_checkbox_implicit_under_the_strict_csp_posts_the_field(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    ex = expect()
    pages.add("/rc-posted.html", "<!doctype html><title>posted</title>")
    url = pages.add(
        "/rc-implicit.html",
        widget_page(
            script(live_server, f"?render={live_server.sitekey}", "/recaptcha/api2/api.js"),
            '<form method="get" action="/rc-posted.html">'
            f'<div class="g-recaptcha" data-sitekey="{live_server.sitekey}" data-theme="dark">'
            "</div><button>Send</button></form>",
        ),
        {"Content-Security-Policy": CSP.format(P=live_server.base_url)},
    )
    page.goto(url)
    field = page.locator("#g-recaptcha-response")
    ex(field).to_have_count(1)
    assert field.get_attribute("name") == "g-recaptcha-response"
    assert field.get_attribute("class") == "g-recaptcha-response"
    ex(field).to_be_hidden()
    assert page.evaluate("() => [typeof hcaptcha, typeof turnstile]") == ["undefined"] * 2
    assert page.evaluate("() => grecaptcha.getResponse()") == ""
    ex(page.locator(".grecaptcha-badge")).to_be_visible()  # v3's notice, styled by the CSSOM
    page.frame_locator("iframe").locator("#box").click()
    ex(field).to_have_value(TOKEN_RE, timeout=20_000)
    token = field.input_value()
    assert page.evaluate("() => grecaptcha.getResponse(0)") == token
    page.click("button")
    page.wait_for_url(re.compile(r"/rc-posted\.html\?"))
    assert parse_qs(urlsplit(page.url).query)["g-recaptcha-response"] == [token]

    first = siteverify(live_server, live_server.secret, token)
    assert first["success"] is True, first
    assert first["hostname"] == "localhost" and "action" not in first
    assert isinstance(first["score"], float) and 0.0 <= first["score"] <= 1.0
    again = siteverify(live_server, live_server.secret, token)
    assert again == {"success": False, "error-codes": ["timeout-or-duplicate"]}
    csp = [m for m in rec.console_errors if "Content Security Policy" in m or "CSP" in m]
    assert csp == [] and rec.page_errors == []


def test_v2_explicit_checkbox_and_invisible_execute(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    ex = expect()
    key = live_server.sitekey
    url = pages.add(
        "/rc-explicit.html",
        widget_page(
            script(live_server, "?render=explicit&onload=go&hl=de"),
            '<div class="g-recaptcha" data-sitekey="not-rendered"></div>'
            '<form><div id="box"></div><div id="inv"></div></form>',
            RECORD
            + "<script>function go() { window.ids = ["
            + f"grecaptcha.render('box', {{sitekey: '{key}', callback: 'onChecked'}}),"
            + f"grecaptcha.render(document.getElementById('inv'), {{sitekey: '{key}',"
            + " size: 'invisible', badge: 'bottomleft', callback: on('invisible', 'callback'),"
            + " 'expired-callback': on('invisible', 'expired'), type: 'image'})]; }</script>",
        ),
    )
    page.goto(url)
    page.wait_for_function("() => window.ids")
    assert page.evaluate("() => ids") == [0, 1]
    ex(page.locator("div[data-sitekey=not-rendered] iframe")).to_have_count(0)
    ex(page.locator("#box #g-recaptcha-response")).to_have_count(1)
    invisible = page.locator("#inv #g-recaptcha-response-1")
    ex(invisible).to_have_count(1)
    ex(page.locator("#inv iframe")).to_be_hidden()
    ex(page.frame_locator("#box iframe").locator("#label")).to_have_text(GERMAN["human"])
    page.evaluate("() => grecaptcha.execute(0)")  # a checkbox: nothing happens
    page.wait_for_timeout(300)
    assert not [u for u in rec.requests if u.endswith("/1/challenge")]

    page.evaluate("() => grecaptcha.execute(1)")
    ex(invisible).to_have_value(TOKEN_RE, timeout=20_000)
    token = invisible.input_value()
    assert page.evaluate("() => events") == [["invisible", "callback", token]]
    assert page.evaluate("() => [grecaptcha.getResponse(1), grecaptcha.getResponse()]") == [
        token,
        "",  # no id: the first widget, the checkbox, still unticked
    ]
    page.evaluate("() => grecaptcha.reset(1)")
    ex(invisible).to_have_value("")
    assert page.evaluate("() => grecaptcha.getResponse(1)") == ""
    assert siteverify(live_server, live_server.secret, token)["success"] is True
    assert rec.page_errors == []


def test_v3_execute_with_an_action_and_a_bound_button(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    ex = expect()
    key = live_server.sitekey
    url = pages.add(
        "/rc-v3.html",
        widget_page(
            script(live_server, f"?render={key}"),
            '<form id="f"><input name="q">'
            f'<button class="g-recaptcha" data-sitekey="{key}" data-callback="onButton" '
            'data-action="submit">Send</button></form>',
            RECORD
            + "<script>addEventListener('load', function () {"
            + " grecaptcha.ready(function () { window.ready = true; }); });</script>",
        ),
    )
    page.goto(url)
    page.wait_for_function("() => window.ready")
    ex(page.locator(".grecaptcha-badge")).to_have_count(1)  # Gravitee styles it unchecked
    tokens = page.evaluate(
        "k => Promise.all([grecaptcha.execute(k, {action: 'login/step_1'}),"
        " grecaptcha.execute(k, {action: 'signup'})])",
        key,
    )
    assert all(TOKEN_RE.match(t) for t in tokens) and tokens[0] != tokens[1]
    for token, action in zip(tokens, ("login/step_1", "signup"), strict=True):
        verdict = siteverify(live_server, live_server.secret, token)
        assert verdict["success"] is True and verdict["action"] == action, verdict
        assert isinstance(verdict["score"], float)
        assert siteverify(live_server, live_server.secret, token)["error-codes"] == [
            "timeout-or-duplicate"
        ]
    refused = page.evaluate(
        "k => grecaptcha.execute(k, {action: 'no-hyphens'}).then(() => 'resolved', () => 'no')",
        key,
    )
    assert refused == "no"

    # the bound button: a click, no visible widget, the token in the form and the callback
    page.click("button")
    field = page.locator("#f textarea[name=g-recaptcha-response]")
    ex(field).to_have_value(TOKEN_RE, timeout=20_000)
    token = field.input_value()
    assert page.evaluate("() => events") == [["button", "callback", token]]
    assert page.locator("iframe:visible").count() == 0
    verdict = siteverify(live_server, live_server.secret, token)
    assert verdict["success"] is True and verdict["action"] == "submit", verdict
    assert rec.page_errors == []


def test_the_published_test_sitekey_passes(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    ex = expect()
    url = pages.add(
        "/rc-testkey.html",
        widget_page(
            script(live_server),
            f'<div class="g-recaptcha" data-sitekey="{TEST_SITEKEY}" '
            'data-callback="onChecked"></div>',
            RECORD,
        ),
    )
    page.goto(url)
    page.frame_locator("iframe").locator("#box").click()
    ex(page.locator("#g-recaptcha-response")).to_have_value(TEST_TOKEN)
    assert page.evaluate("() => events") == [["checkbox", "callback", TEST_TOKEN]]
    v3 = page.evaluate(f"() => grecaptcha.execute('{TEST_SITEKEY}', {{action: 'x'}})")
    assert v3 == TEST_TOKEN
    assert not [u for u in rec.requests if u.endswith("/1/solve")]  # no work for the test key
    for _ in range(2):  # any number of times, on any host
        verdict = siteverify(live_server, TEST_SECRET, TEST_TOKEN)
        assert verdict["success"] is True and verdict["hostname"] == "testkey.google.com"


def test_the_hcaptcha_scripts_grecaptcha_alias_has_ready(
    page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    """authentik waits with grecaptcha.ready whichever script defined grecaptcha."""
    url = pages.add(
        "/rc-alias.html",
        widget_page(
            f"{live_server.base_url}/1/api.js",
            "",
            "<script>addEventListener('load', function () {"
            " grecaptcha.ready(function () { window.ready = typeof hcaptcha.render; }); });"
            "</script>",
        ),
    )
    page.goto(url)
    page.wait_for_function("() => window.ready")
    assert page.evaluate("() => window.ready") == "function"

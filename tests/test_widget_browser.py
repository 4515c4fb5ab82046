"""The widget in a real browser: the demo end to end, the hCaptcha-compatible API, a page
under the strict CSP, languages, the keyboard, and no request to any third origin."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import (
    CALLBACK_ATTRS,
    RECORD_CALLBACKS,
    PageServer,
    Recorder,
    chromium_session,
    origin,
    widget_page,
)
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEST_SITEKEY = "10000000-ffff-ffff-ffff-000000000001"
TEST_TOKEN = "10000000-aaaa-bbbb-cccc-000000000001"
TOKEN_RE = re.compile(r"^P1_[\w-]+\.[\w-]+$")


@pytest.fixture(scope="module")  # Playwright's sync API holds an event loop while open
def browser() -> Iterator[Any]:
    yield from chromium_session()


@pytest.fixture(scope="session")
def pages() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def page(browser: Any, rec: Recorder) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    rec.attach(context, page)
    yield page
    context.close()


def expect() -> Any:
    from playwright.sync_api import expect as _expect

    return _expect


def new_site(server: LiveServer, difficulty: int) -> dict[str, str]:
    out = server.cli(
        "site",
        "add",
        "--hostname",
        "localhost",
        "--hostname",
        "127.0.0.1",
        "--difficulty",
        str(difficulty),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    created: dict[str, str] = json.loads(out.stdout)
    return created


def siteverify(server: LiveServer, secret: str, response: str, **extra: str) -> dict[str, Any]:
    r = httpx.post(
        server.base_url + "/siteverify", data={"secret": secret, "response": response, **extra}
    )
    body: dict[str, Any] = r.json()
    return body


def api_url(server: LiveServer, query: str = "") -> str:
    return f"{server.base_url}/1/api.js{query}"


def checkbox(page: Any, nth: int = 0) -> Any:
    return page.frame_locator("iframe").nth(nth).locator("#box")


def test_demo_page_end_to_end(page: Any, live_server: LiveServer) -> None:
    ex = expect()
    page.goto(live_server.base_url + "/demo")
    field = page.locator("#demo-form textarea[name=h-captcha-response]")
    ex(field).to_have_value("")
    checkbox(page).click()
    ex(checkbox(page)).to_have_attribute("aria-checked", "true", timeout=20_000)
    ex(page.frame_locator("iframe").locator("#label")).to_have_text("Verified")
    ex(field).to_have_value(TOKEN_RE)
    ex(page.locator("#demo-form textarea[name=g-recaptcha-response]")).to_have_value(TOKEN_RE)
    page.click("#demo-submit")
    ex(page.locator("#demo-result")).to_have_attribute("data-outcome", "success")
    page.click("#demo-replay")
    ex(page.locator("#demo-result")).to_have_attribute("data-outcome", "already-seen-response")


def test_invisible_widget_runs_through_async_execute(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    ex = expect()
    url = pages.add(
        "/invisible.html",
        widget_page(
            api_url(live_server, "?render=explicit&onload=ready"),
            '<form><div id="slot"></div><button>Buy</button></form>',
            RECORD_CALLBACKS
            + "<script>function ready() { window.wid = hcaptcha.render('slot', {sitekey: '"
            + live_server.sitekey
            + "', size: 'invisible', callback: onPass, 'open-callback': 'onOpen'}); }</script>",
        ),
    )
    page.goto(url)
    page.wait_for_function("() => window.wid")
    frame = page.locator("#slot iframe")
    ex(frame).to_be_hidden()
    result = page.evaluate("() => hcaptcha.execute(window.wid, {async: true, rqdata: 'order-42'})")
    assert TOKEN_RE.match(result["response"])
    assert result["key"].startswith("E0_")
    assert page.evaluate("() => hcaptcha.getResponse()") == result["response"]
    assert page.evaluate("() => hcaptcha.getRespKey(window.wid)") == result["key"]
    events = page.evaluate("() => events")
    assert events == [["open", None], ["callback", result["response"]]]
    ex(frame).to_be_hidden(timeout=5_000)  # shown while working, hidden again when done
    verdict = siteverify(live_server, live_server.secret, result["response"], rqdata="order-42")
    assert verdict["success"] is True, verdict
    assert verdict["hostname"] == "localhost"
    assert verdict["rqdata_sha256"] == hashlib.sha256(b"order-42").hexdigest()
    assert "proof_of_work" in verdict["score_reason"]
    assert rec.page_errors == []


def test_button_bound_to_an_invisible_check(
    page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    ex = expect()
    url = pages.add(
        "/button.html",
        widget_page(
            api_url(live_server),
            '<form method="post" action="/elsewhere"><input name="q">'
            f'<button class="h-captcha" data-sitekey="{live_server.sitekey}" {CALLBACK_ATTRS}>'
            "Send</button></form>",
            RECORD_CALLBACKS,
        ),
    )
    page.goto(url)
    field = page.locator("form textarea[name=h-captcha-response]")
    ex(field).to_have_count(1)
    ex(page.locator("form iframe")).to_be_hidden()
    page.click("button")
    ex(field).to_have_value(TOKEN_RE, timeout=20_000)
    assert page.evaluate("() => events.map(e => e[0])") == ["open", "callback"]
    assert page.url == url  # the click ran the check instead of submitting


CSP = (
    "default-src 'none'; script-src {P} 'wasm-unsafe-eval'; worker-src {P}; "
    "connect-src {P}; style-src {P}; img-src {P} data:; frame-src {P}; form-action 'self'"
)


def test_strict_csp_page_completes_without_violation(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    ex = expect()
    url = pages.add(
        "/csp.html",
        widget_page(
            api_url(live_server),
            f'<form method="post"><div class="h-captcha" data-sitekey="{live_server.sitekey}" '
            'data-theme="dark"></div><button>Send</button></form>',
        ),
        {"Content-Security-Policy": CSP.format(P=live_server.base_url)},
    )
    page.goto(url)
    checkbox(page).click()
    ex(page.locator("textarea[name=h-captcha-response]")).to_have_value(TOKEN_RE, timeout=20_000)
    ex(checkbox(page)).to_have_attribute("aria-checked", "true")
    csp_errors = [m for m in rec.console_errors if "Content Security Policy" in m or "CSP" in m]
    assert csp_errors == []
    assert rec.page_errors == []
    # the policy was in force: an inline style attribute written now is refused and reported
    page.evaluate("() => document.body.setAttribute('style', 'color: red')")
    ex(page.locator("body")).not_to_have_css("color", "rgb(255, 0, 0)")


def test_test_sitekey_passes_at_once(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    ex = expect()
    url = pages.add(
        "/testkey.html",
        widget_page(
            api_url(live_server),
            f'<div class="h-captcha" data-sitekey="{TEST_SITEKEY}" {CALLBACK_ATTRS}></div>',
            RECORD_CALLBACKS,
        ),
    )
    page.goto(url)
    start = time.monotonic()
    checkbox(page).click()
    ex(page.locator("textarea[name=h-captcha-response]")).to_have_value(TEST_TOKEN)
    assert time.monotonic() - start < 3
    assert page.evaluate("() => events") == [["open", None], ["callback", TEST_TOKEN]]
    assert not [u for u in rec.requests if u.endswith("/1/solve")]  # no work was needed
    verdict = siteverify(live_server, "0x0000000000000000000000000000000000000000", TEST_TOKEN)
    assert verdict["success"] is True and verdict["hostname"] == "dummy-key-pass"


def test_api_fields_reset_expiry_and_grecaptcha(
    page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    ex = expect()
    url = pages.add(
        "/api.html",
        widget_page(
            api_url(live_server),
            f'<form><div id="w" class="h-captcha" data-sitekey="{live_server.sitekey}" '
            f"{CALLBACK_ATTRS}></div></form>",
            RECORD_CALLBACKS,
        ),
    )
    page.clock.install()
    page.goto(url)
    container = page.locator("#w")
    ex(container).to_have_attribute("data-hcaptcha-widget-id", re.compile(r"\w+"))
    wid = container.get_attribute("data-hcaptcha-widget-id")
    h_field = page.locator(f"#h-captcha-response-{wid}")
    g_field = page.locator(f"#g-recaptcha-response-{wid}")
    ex(h_field).to_have_attribute("name", "h-captcha-response")
    ex(g_field).to_have_attribute("name", "g-recaptcha-response")
    ex(h_field).to_be_hidden()
    assert page.evaluate("() => hcaptcha.getResponse()") == ""
    assert page.evaluate("() => grecaptcha.getResponse()") == ""

    checkbox(page).click()
    ex(h_field).to_have_value(TOKEN_RE, timeout=20_000)
    token = h_field.input_value()
    ex(g_field).to_have_value(token)
    assert page.evaluate(f"() => hcaptcha.getResponse('{wid}')") == token
    assert page.evaluate("() => grecaptcha.getResponse()") == token
    assert page.evaluate("() => hcaptcha.getRespKey()").startswith("E0_")

    # the token expires after expires_in (120 s): fields emptied, expired-callback fired
    page.clock.fast_forward("02:01")
    ex(h_field).to_have_value("")
    ex(g_field).to_have_value("")
    assert page.evaluate("() => hcaptcha.getResponse()") == ""
    ex(checkbox(page)).to_have_attribute("aria-checked", "false")
    assert page.evaluate("() => events.map(e => e[0])") == ["open", "callback", "expired"]

    # a new token, then reset through the grecaptcha alias
    checkbox(page).click()
    ex(h_field).to_have_value(TOKEN_RE, timeout=20_000)
    assert h_field.input_value() != token
    page.evaluate("() => grecaptcha.reset()")
    ex(h_field).to_have_value("")
    ex(g_field).to_have_value("")
    ex(checkbox(page)).to_have_attribute("aria-checked", "false")
    assert page.evaluate("() => hcaptcha.getRespKey()") == ""

    # remove takes the widget and its fields out of the page
    page.evaluate(f"() => hcaptcha.remove('{wid}')")
    ex(page.locator("#w iframe")).to_have_count(0)
    ex(h_field).to_have_count(0)
    ex(container).not_to_have_attribute("data-hcaptcha-widget-id", re.compile(".*"))
    failure = page.evaluate("() => hcaptcha.execute({async: true}).then(() => 'resolved', e => e)")
    assert failure == "missing-captcha"


def test_recaptchacompat_off(page: Any, live_server: LiveServer, pages: PageServer) -> None:
    ex = expect()
    url = pages.add(
        "/nocompat.html",
        widget_page(
            api_url(live_server, "?recaptchacompat=off&sentry=false&uj=1&custom=false"),
            f'<div class="h-captcha" data-sitekey="{live_server.sitekey}"></div>',
        ),
    )
    page.goto(url)
    ex(page.locator("textarea[name=h-captcha-response]")).to_have_count(1)
    ex(page.locator("textarea[name=g-recaptcha-response]")).to_have_count(0)
    assert page.evaluate("() => typeof grecaptcha") == "undefined"
    assert page.evaluate("() => typeof hcaptcha.render") == "function"


def test_errors_and_close_reach_the_callbacks(
    page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    ex = expect()
    slow = new_site(live_server, 1_000_000_000)  # would take hours: closed below
    unknown = "00000000-0000-4000-8000-000000000000"
    url = pages.add(
        "/errors.html",
        widget_page(
            api_url(live_server),
            f'<div id="slow" class="h-captcha" data-sitekey="{slow["sitekey"]}" {CALLBACK_ATTRS}>'
            f'</div><div id="bad" class="h-captcha" data-sitekey="{unknown}" {CALLBACK_ATTRS}>'
            "</div>",
            RECORD_CALLBACKS,
        ),
    )
    page.goto(url)
    ex(page.locator("#bad")).to_have_attribute("data-hcaptcha-widget-id", re.compile(r"\w+"))
    bad = page.locator("#bad").get_attribute("data-hcaptcha-widget-id")
    slow_id = page.locator("#slow").get_attribute("data-hcaptcha-widget-id")
    failure = page.evaluate(f"() => hcaptcha.execute('{bad}', {{async: true}}).catch(e => e)")
    assert failure == "internal-error"  # async execute rejects with the contract's codes only
    ex(page.frame_locator("#bad iframe").locator("#label")).to_have_text("Verification failed")
    page.evaluate(
        "id => { window.outcome = hcaptcha.execute(id, {async: true}).catch(e => e); }", slow_id
    )
    ex(page.frame_locator("#slow iframe").locator("#label")).to_have_text(re.compile("Verifying"))
    page.evaluate(f"() => hcaptcha.close('{slow_id}')")
    assert page.evaluate("() => window.outcome") == "challenge-closed"
    ex(page.frame_locator("#slow iframe").locator("#label")).to_have_text("I am human")
    assert page.evaluate("() => events") == [
        ["open", None],
        ["error", "invalid-data"],
        ["open", None],
        ["close", None],
    ]
    assert page.evaluate("() => hcaptcha.execute('nope', {async: true}).catch(e => e)") == (
        "invalid-captcha-id"
    )


@pytest.mark.parametrize(
    ("query", "config", "label", "lang"),
    [
        ("?hl=de", "", "Ich bin ein Mensch", "de"),
        ("?hl=de", "hl: 'zh-CN'", "我是人类", "zh-CN"),
        ("", "hl: 'zh'", "我是人类", "zh-CN"),
        ("?hl=xx", "", "I am human", "en"),
    ],
)
def test_language(
    page: Any,
    live_server: LiveServer,
    pages: PageServer,
    query: str,
    config: str,
    label: str,
    lang: str,
) -> None:
    ex = expect()
    url = pages.add(
        "/hl.html",
        widget_page(
            api_url(live_server, (query or "?") + "&render=explicit&onload=go"),
            '<div id="slot"></div>',
            "<script>function go() { hcaptcha.render('slot', {"
            f"sitekey: '{live_server.sitekey}', {config + ', ' if config else ''}"
            "apihost: 'x', tplinks: 'on', custom: false, sentry: true }); }</script>",
        ),
    )
    page.goto(url)
    frame = page.frame_locator("#slot iframe")
    ex(frame.locator("#label")).to_have_text(label)
    ex(frame.locator("html")).to_have_attribute("lang", lang)


def test_keyboard_focus_and_space_start_the_check(
    page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    ex = expect()
    url = pages.add(
        "/keys.html",
        widget_page(
            api_url(live_server),
            '<form><input id="name"><div class="h-captcha" '
            f'data-sitekey="{live_server.sitekey}"></div></form>',
        ),
    )
    page.goto(url)
    box = checkbox(page)
    ex(box).to_have_attribute("role", "checkbox")
    page.focus("#name")
    page.keyboard.press("Tab")
    ex(box).to_be_focused()
    page.keyboard.press("Space")
    ex(box).to_have_attribute("aria-checked", "true", timeout=20_000)
    ex(page.frame_locator("iframe").locator("#live")).to_have_text("Verified")
    ex(page.locator("textarea[name=h-captcha-response]")).to_have_value(TOKEN_RE)


def test_no_request_leaves_the_page_and_passgate_origins(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    ex = expect()
    url = pages.add(
        "/origins.html",
        widget_page(
            api_url(live_server),
            f'<div class="h-captcha" data-sitekey="{live_server.sitekey}"></div>',
        ),
    )
    page.goto(url)
    checkbox(page).click()
    ex(page.locator("textarea[name=h-captcha-response]")).to_have_value(TOKEN_RE, timeout=20_000)
    assert any(u.endswith("/1/solve") for u in rec.requests)
    assert rec.origins() <= {origin(url), live_server.base_url}


def test_screenshots_light_dark_done(
    page: Any, live_server: LiveServer, pages: PageServer, tmp_path: Path
) -> None:
    """Saves widget screenshots (PASSGATE_SCREENSHOTS=dir keeps them) and checks the themes
    really differ."""
    ex = expect()
    out = Path(os.environ.get("PASSGATE_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    url = pages.add(
        "/themes.html",
        widget_page(
            api_url(live_server),
            "".join(
                f'<p><div id="{t}-{s}" class="h-captcha" data-sitekey="{live_server.sitekey}" '
                f'data-theme="{t}" data-size="{s}"></div></p>'
                for s in ("normal", "compact")
                for t in ("light", "dark", "contrast")
            ),
        ),
    )
    page.goto(url)
    backgrounds = set()
    for theme in ("light", "dark", "contrast"):
        frame = page.frame_locator(f"#{theme}-normal iframe")
        ex(frame.locator("#label")).to_have_text("I am human")
        backgrounds.add(frame.locator("#pg").evaluate("e => getComputedStyle(e).backgroundColor"))
        page.locator(f"#{theme}-normal iframe").screenshot(path=str(out / f"{theme}.png"))
        page.locator(f"#{theme}-compact iframe").screenshot(path=str(out / f"{theme}-compact.png"))
    assert len(backgrounds) == 3
    for theme in ("light", "dark"):
        page.frame_locator(f"#{theme}-normal iframe").locator("#box").click()
        frame = page.frame_locator(f"#{theme}-normal iframe")
        ex(frame.locator("#box")).to_have_attribute("aria-checked", "true", timeout=20_000)
        page.wait_for_timeout(400)  # let the check mark's transition finish
        page.locator(f"#{theme}-normal iframe").screenshot(path=str(out / f"{theme}-done.png"))
    page.screenshot(path=str(out / "page.png"), full_page=True)


def test_hash_rate(page: Any, live_server: LiveServer, record_property: Any) -> None:
    """The worker's speed in this Chromium, one worker, reported as a test property."""
    page.goto(f"{live_server.base_url}/1/frame?sitekey={TEST_SITEKEY}&host=localhost&origin=null")
    rate = page.evaluate(
        """() => new Promise(resolve => {
          const w = new Worker("static/worker.js");
          let hashes = 0, t0 = 0;
          w.onmessage = e => {
            if (!t0) { t0 = performance.now(); return; }  // first report: warmed up
            hashes += e.data.hashes;
            const dt = performance.now() - t0;
            if (dt > 3000) { w.terminate(); resolve(hashes / dt * 1000); }
          };
          w.postMessage({salt: "0123456789abcdef0123456789abcdef", part: 0, threshold: 1});
        })"""
    )
    record_property("hashes_per_second", int(rate))
    print(f"\nworker hash rate: {rate / 1e6:.2f} MH/s")
    assert rate > 300_000


def test_a_challenge_that_expires_mid_solve_fires_chalexpired(
    page: Any, pages: PageServer, tmp_path: Any
) -> None:
    from tests.conftest import start_server

    server = start_server(tmp_path / "data", {"PASSGATE_CHALLENGE_LIFETIME": "2"})
    try:
        slow = new_site(server, 1_000_000_000)  # hours of work: the challenge expires first
        url = pages.add(
            "/chalexpired.html",
            widget_page(
                api_url(server),
                f'<div id="w" class="h-captcha" data-sitekey="{slow["sitekey"]}" '
                f"{CALLBACK_ATTRS}></div>",
                RECORD_CALLBACKS,
            ),
        )
        page.goto(url)
        expect()(page.locator("#w")).to_have_attribute(
            "data-hcaptcha-widget-id", re.compile(r"\w+")
        )
        outcome = page.evaluate(
            "() => Promise.race([hcaptcha.execute({async: true}).catch(e => e),"
            " new Promise(r => setTimeout(() => r('no answer in 15 s'), 15000))])"
        )
        assert outcome == "challenge-expired"
        assert ["chalexpired", None] in page.evaluate("() => events")
        assert page.evaluate("() => hcaptcha.getResponse()") == ""
    finally:
        server.process.terminate()
        server.process.wait(10)

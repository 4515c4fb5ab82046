"""The widget in a real browser: the demo end to end, the hCaptcha-compatible API, a page
under the strict CSP, languages, the keyboard, and no request to any third origin."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import (
    CALLBACK_ATTRS,
    RECORD_CALLBACKS,
    PageServer,
    Recorder,
    expect,
    origin,
    widget_page,
)
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEST_SITEKEY = "10000000-ffff-ffff-ffff-000000000001"
TEST_TOKEN = "10000000-aaaa-bbbb-cccc-000000000001"
TOKEN_RE = re.compile(r"^P1_[\w-]+\.[\w-]+$")


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
        ("?hl=de", "hl: 'zh-CN'", "我是人类", "zh-Hans"),
        ("", "hl: 'zh'", "我是人类", "zh-Hans"),
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


# A widget's lifecycle in single-page apps and on real devices: frameworks insert, re-render
# and tear down; tabs sleep and wake; scripts arrive in unexpected orders.


def explicit_page(server: LiveServer, body: str, script: str, query: str = "") -> str:
    """A page loading api.js with render=explicit and onload=go; `script` defines go()."""
    return widget_page(
        api_url(server, "?render=explicit&onload=go" + query),
        body,
        RECORD_CALLBACKS + "<script>" + script + "</script>",
    )


def widget_nodes(page: Any, selector: str) -> list[int]:
    """How many iframes, h-captcha-response and g-recaptcha-response fields `selector` holds."""
    counts: list[int] = page.evaluate(
        """s => ["iframe", "[name=h-captcha-response]", "[name=g-recaptcha-response]"]
          .map(q => document.querySelector(s).querySelectorAll(q).length)""",
        selector,
    )
    return counts


def test_spa_teardown_of_a_detached_widget(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    """What the vue, react and angular wrappers do on unmount: the container leaves the
    document first, then reset(id) and remove(id). Nothing throws, the dead widget counts as
    removed (its expiry timer is gone), and calls without an id reach the first live widget."""
    ex = expect()
    key = live_server.sitekey
    url = pages.add(
        "/teardown.html",
        explicit_page(
            live_server,
            '<div id="app"><div id="a"></div></div><div id="b"></div>',
            "function go() {"
            f" window.a = hcaptcha.render('a', {{sitekey: '{key}',"
            " 'expired-callback': rec('a-expired')});"
            f" window.b = hcaptcha.render('b', {{sitekey: '{key}',"
            " 'expired-callback': rec('b-expired')}); }",
        ),
    )
    page.clock.install()
    page.goto(url)
    page.wait_for_function("() => window.b")
    for slot in ("a", "b"):
        page.frame_locator(f"#{slot} iframe").locator("#box").click()
        field = page.locator(f"#{slot} textarea[name=h-captcha-response]")
        ex(field).to_have_value(TOKEN_RE, timeout=20_000)
    token_b = page.locator("#b textarea[name=h-captcha-response]").input_value()

    page.evaluate("() => document.getElementById('app').remove()")  # the framework's teardown
    thrown = page.evaluate(
        """() => {
          const calls = [
            () => hcaptcha.getResponse(a), () => hcaptcha.getRespKey(a),
            () => hcaptcha.setData(a, {rqdata: 'x'}), () => hcaptcha.close(a),
            () => hcaptcha.execute(a), () => grecaptcha.execute(a),
            () => grecaptcha.reset(a), () => grecaptcha.getResponse(a),
            () => hcaptcha.reset(a), () => hcaptcha.remove(a),  // the unmount hook
            () => hcaptcha.reset(a), () => hcaptcha.remove(a),  // and once more
          ];
          const thrown = [];
          calls.forEach(f => { try { f(); } catch (e) { thrown.push(f + ': ' + e); } });
          return thrown;
        }"""
    )
    assert thrown == []
    assert page.evaluate("() => hcaptcha.getResponse()") == token_b
    assert page.evaluate("() => grecaptcha.getResponse()") == token_b
    assert page.evaluate("() => hcaptcha.getResponse(a)") == ""
    assert page.evaluate("() => hcaptcha.getRespKey()").startswith("E0_")
    assert page.evaluate("() => hcaptcha.execute(a, {async: true}).catch(e => e)") == (
        "invalid-captcha-id"
    )
    page.clock.fast_forward("02:01")
    ex(page.locator("#b textarea[name=h-captcha-response]")).to_have_value("")
    assert page.evaluate("() => events") == [["b-expired", None]]  # none from the dead one
    assert rec.page_errors == []


def test_async_execute_always_returns_a_promise(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    """Rejections, never a synchronous throw: missing-captcha with no live widget left,
    invalid-captcha-id for an id never rendered or removed, challenge-closed for a challenge
    whose container was torn down while it ran."""
    slow = new_site(live_server, 1_000_000_000)  # hours of work: still running when torn down
    url = pages.add(
        "/promise.html",
        explicit_page(
            live_server,
            '<div id="w"></div><div id="s"></div>',
            "function go() {"
            f" window.w = hcaptcha.render('w', {{sitekey: '{live_server.sitekey}'}});"
            f" window.s = hcaptcha.render('s', {{sitekey: '{slow['sitekey']}'}}); }}",
        ),
    )
    page.goto(url)
    page.wait_for_function("() => window.s")
    outcome = page.evaluate(
        """async () => {
          const call = f => {
            let p;
            try { p = f(); } catch (e) { return Promise.resolve('threw ' + e); }
            if (!(p instanceof Promise)) return Promise.resolve('returned ' + p);
            return p.then(() => 'resolved', e => e);
          };
          const out = {};
          out.never = await call(() => hcaptcha.execute('never', {async: true}));
          const running = call(() => hcaptcha.execute(s, {async: true}));
          await new Promise(r => setTimeout(r, 300));
          document.getElementById('s').remove();
          document.getElementById('w').remove();
          hcaptcha.reset();  // any call notices the teardown
          out.running = await running;
          out.noId = await call(() => hcaptcha.execute({async: true}));
          out.undefinedId = await call(() => hcaptcha.execute(undefined, {async: true}));
          out.detached = await call(() => hcaptcha.execute(w, {async: true}));
          out.grecaptcha = await call(() => grecaptcha.execute({async: true}));
          const again = document.createElement('div');
          document.body.append(again);
          const id = hcaptcha.render(again, {sitekey: 'x'});
          hcaptcha.remove(id);
          out.removed = await call(() => hcaptcha.execute(id, {async: true}));
          out.removedNoId = await call(() => hcaptcha.execute({async: true}));
          return out;
        }"""
    )
    assert outcome == {
        "never": "invalid-captcha-id",
        "running": "challenge-closed",
        "noId": "missing-captcha",
        "undefinedId": "missing-captcha",
        "detached": "invalid-captcha-id",
        "grecaptcha": "missing-captcha",
        "removed": "invalid-captcha-id",
        "removedNoId": "missing-captcha",
    }
    assert rec.page_errors == []


def test_rendering_a_container_again_leaves_one_widget(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    """An app rendering a container the script rendered at load, React's StrictMode (render,
    remove, render) and a copied container (a restored page snapshot) each leave exactly one
    frame and one pair of fields, and the last render's config is the one in force."""
    ex = expect()
    key = live_server.sitekey
    url = pages.add(
        "/again.html",
        widget_page(
            api_url(live_server, "?onload=go"),
            f'<form id="f"><div id="w" class="h-captcha" data-sitekey="{key}"></div></form>',
            RECORD_CALLBACKS + "<script>function go() {"
            " window.first = document.getElementById('w').dataset.hcaptchaWidgetId;"
            " window.second = hcaptcha.render('w', {callback: onPass}); }</script>",
        ),
    )
    page.goto(url)
    page.wait_for_function("() => window.second")
    assert page.evaluate("() => first && first !== second")
    assert widget_nodes(page, "#w") == [1, 1, 1]
    assert page.evaluate("() => hcaptcha.execute(first, {async: true}).catch(e => e)") == (
        "invalid-captcha-id"
    )

    page.evaluate(
        """() => {  // StrictMode: mount, unmount, mount
          const id = hcaptcha.render('w', {callback: onPass});
          hcaptcha.reset(id);
          hcaptcha.remove(id);
          window.third = hcaptcha.render('w', {callback: onPass});
        }"""
    )
    assert widget_nodes(page, "#w") == [1, 1, 1]
    checkbox(page).click()
    field = page.locator("#w textarea[name=h-captcha-response]")
    ex(field).to_have_value(TOKEN_RE, timeout=20_000)
    token = field.input_value()
    assert page.evaluate("() => events") == [["callback", token]]
    assert page.evaluate("() => hcaptcha.getResponse(third)") == token

    page.evaluate(
        """() => {  // a copy of the rendered container, rendered in turn
          const copy = document.getElementById('w').cloneNode(true);
          copy.id = 'copy';
          document.getElementById('f').append(copy);
          window.fourth = hcaptcha.render(copy);
        }"""
    )
    assert widget_nodes(page, "#copy") == [1, 1, 1]
    assert widget_nodes(page, "#w") == [1, 1, 1]
    ids = page.evaluate("() => [...document.querySelectorAll('textarea')].map(t => t.id)")
    assert len(ids) == len(set(ids)) == 4
    assert page.evaluate("() => hcaptcha.getResponse(third)") == token
    assert page.evaluate("() => hcaptcha.getResponse(fourth)") == ""

    page.evaluate(
        """() => {  // a framework re-render that empties the container, then renders it
          const w = document.getElementById('w');
          w.replaceChildren();
          window.fifth = hcaptcha.render(w, {callback: onPass});
        }"""
    )
    assert widget_nodes(page, "#w") == [1, 1, 1]
    assert page.evaluate("() => fifth !== third && hcaptcha.getResponse(third) === ''")
    assert rec.page_errors == []


def test_a_removed_button_widget_lets_its_button_submit(
    page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    """remove() on a widget bound to a button takes its click handler too."""
    ex = expect()
    pages.add("/sent.html", "<!doctype html><p>sent</p>")
    url = pages.add(
        "/unbind.html",
        widget_page(
            api_url(live_server),
            '<form action="/sent.html"><input name="q" value="x">'
            f'<button id="send" class="h-captcha" data-sitekey="{live_server.sitekey}">'
            "Send</button></form>",
        ),
    )
    page.goto(url)
    ex(page.locator("#send")).to_have_attribute("data-hcaptcha-widget-id", re.compile(r"\w+"))
    page.evaluate("() => hcaptcha.remove()")
    ex(page.locator("form iframe")).to_have_count(0)
    ex(page.locator("form textarea")).to_have_count(0)
    page.click("#send")
    page.wait_for_url("**/sent.html?q=x", timeout=5_000)


def test_a_button_rendered_before_it_had_a_parent_works_once_attached(
    page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    """A framework may render into a button it has not yet inserted: once the button is in
    the page, an async execute settles with a token."""
    ex = expect()
    url = pages.add("/orphan.html", widget_page(api_url(live_server), '<form id="f"></form>'))
    page.goto(url)
    page.wait_for_function("() => window.hcaptcha && hcaptcha.render")
    wid = page.evaluate(
        f"""() => {{
          const b = document.createElement("button");
          b.id = "late";
          window.lateId = hcaptcha.render(b, {{sitekey: "{live_server.sitekey}"}});
          document.getElementById("f").appendChild(b);
          return window.lateId;
        }}"""
    )
    token = page.evaluate(
        f"""() => Promise.race([
          hcaptcha.execute('{wid}', {{async: true}}).then(r => r.response),
          new Promise(r => setTimeout(() => r("never settled"), 15000)),
        ])"""
    )
    assert TOKEN_RE.match(token)
    ex(page.locator("#f iframe")).to_have_count(1)


def test_a_moved_container_keeps_working(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    """Moving a container reloads its iframe: the frame shows the token the page still holds,
    and what the page asks while the frame loads again waits for it instead of being lost."""
    ex = expect()
    url = pages.add(
        "/move.html",
        widget_page(
            api_url(live_server),
            f'<form><div id="left"><div id="w" class="h-captcha" data-sitekey="'
            f'{live_server.sitekey}" {CALLBACK_ATTRS}></div></div><div id="right"></div></form>',
            RECORD_CALLBACKS,
        ),
    )
    page.goto(url)
    field = page.locator("textarea[name=h-captcha-response]")
    checkbox(page).click()
    ex(field).to_have_value(TOKEN_RE, timeout=20_000)
    token = field.input_value()

    page.evaluate("() => document.getElementById('right').append(document.getElementById('w'))")
    box = page.frame_locator("#right iframe").locator("#box")
    ex(box).to_have_attribute("aria-checked", "true")
    ex(page.frame_locator("#right iframe").locator("#label")).to_have_text("Verified")
    ex(field).to_have_value(token)
    assert page.evaluate("() => hcaptcha.getResponse()") == token
    page.evaluate("() => hcaptcha.reset()")
    ex(box).to_have_attribute("aria-checked", "false")
    ex(field).to_have_value("")

    result = page.evaluate(
        """() => {
          document.getElementById('left').append(document.getElementById('w'));
          return Promise.race([hcaptcha.execute({async: true}),
            new Promise(r => setTimeout(() => r('no answer in 15 s'), 15000))]);
        }"""
    )
    assert TOKEN_RE.match(result["response"]), result
    ex(field).to_have_value(result["response"])
    ex(page.frame_locator("#left iframe").locator("#box")).to_have_attribute("aria-checked", "true")
    assert page.evaluate("() => events.map(e => e[0])") == ["open", "callback", "open", "callback"]
    assert widget_nodes(page, "form") == [1, 1, 1]
    assert rec.page_errors == []


def test_a_token_that_expired_while_the_tab_slept_leaves_the_form(
    page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    """Timers sleep with the tab (and the device): the wall clock passes the token's lifetime
    and no timer fires. On waking (visibilitychange), before the form is sent, and when the
    page reads the response, the expired token is cleared and expired-callback fires."""
    ex = expect()
    url = pages.add(
        "/sleep.html",
        widget_page(
            api_url(live_server),
            f'<form id="f"><div class="h-captcha" data-sitekey="{live_server.sitekey}" '
            f"{CALLBACK_ATTRS}></div></form>",
            RECORD_CALLBACKS + "<script>addEventListener('DOMContentLoaded', () => {"
            " const f = document.getElementById('f');"
            " f.addEventListener('submit', e => { e.preventDefault();"
            " window.posted = new FormData(f).get('h-captcha-response'); }); });</script>",
        ),
    )
    now = datetime.datetime.now(datetime.UTC)
    page.clock.install(time=now)
    page.goto(url)
    field = page.locator("textarea[name=h-captcha-response]")
    checks = 0

    def earn() -> None:
        checkbox(page).click()
        ex(field).to_have_value(TOKEN_RE, timeout=20_000)
        ex(checkbox(page)).to_have_attribute("aria-checked", "true")

    def sleep() -> None:
        nonlocal checks
        checks += 1
        page.clock.set_system_time(now + datetime.timedelta(minutes=3 * checks))
        assert field.input_value() != ""  # no timer fired: the token is still in the form

    earn()
    sleep()
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    ex(field).to_have_value("")
    ex(checkbox(page)).to_have_attribute("aria-checked", "false")
    assert page.evaluate("() => events.filter(e => e[0] === 'expired').length") == 1

    earn()
    sleep()
    page.evaluate("() => document.getElementById('f').requestSubmit()")
    assert page.evaluate("() => window.posted") == ""
    ex(field).to_have_value("")

    earn()
    sleep()
    assert page.evaluate("() => hcaptcha.getResponse()") == ""
    ex(field).to_have_value("")
    assert page.evaluate("() => events.filter(e => e[0] === 'expired').length") == 3


def test_script_inserted_late_waits_for_its_onload_function(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    """A wrapper inserting api.js after the page loaded, with an onload callback that a later
    script defines: the containers render and the callback is called, once."""
    ex = expect()
    url = pages.add(
        "/late.html",
        "<!doctype html><html><head><title>late</title></head><body>"
        f'<div id="w" class="h-captcha" data-sitekey="{live_server.sitekey}"></div>'
        "<script>window.called = 0;"
        "addEventListener('load', () => setTimeout(() => {"
        " const s = document.createElement('script');"
        f" s.src = '{api_url(live_server, '?onload=later')}'; s.async = true;"
        " s.onload = () => setTimeout(() => { window.later = () => called++; }, 500);"
        " document.head.append(s); }, 100));</script></body></html>",
    )
    page.goto(url)
    page.wait_for_function("() => window.called === 1", timeout=10_000)
    ex(page.frame_locator("#w iframe").locator("#label")).to_have_text("I am human")
    assert widget_nodes(page, "#w") == [1, 1, 1]
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.called") == 1
    assert rec.page_errors == []


def test_api_js_loaded_twice_keeps_one_set_of_globals_and_widgets(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    """The page's tag and a wrapper's copy: one hcaptcha, one widget per container, and each
    copy's onload called."""
    ex = expect()
    key = live_server.sitekey
    url = pages.add(
        "/twice.html",
        "<!doctype html><html><head><title>twice</title>"
        "<script>window.calls = []; function one() { calls.push('one'); }"
        " function two() { calls.push('two'); } function three() { calls.push('three'); }"
        "</script>"
        f'<script src="{api_url(live_server, "?onload=one")}"></script>'
        "<script>window.h1 = window.hcaptcha; window.g1 = window.grecaptcha;</script>"
        f'<script src="{api_url(live_server, "?onload=two")}"></script>'
        f'</head><body><div id="w" class="h-captcha" data-sitekey="{key}"></div></body></html>',
    )
    page.goto(url)
    page.wait_for_function("() => calls.length === 2")
    page.evaluate(
        "src => { const s = document.createElement('script'); s.src = src;"
        " document.head.append(s); }",
        api_url(live_server, "?onload=three&render=explicit"),
    )
    page.wait_for_function("() => calls.length === 3")
    assert sorted(page.evaluate("() => calls")) == ["one", "three", "two"]
    assert page.evaluate("() => h1 === hcaptcha && g1 === grecaptcha")
    ex(page.frame_locator("#w iframe").locator("#label")).to_have_text("I am human")
    assert widget_nodes(page, "#w") == [1, 1, 1]
    checkbox(page).click()
    ex(page.locator("textarea[name=h-captcha-response]")).to_have_value(TOKEN_RE, timeout=20_000)
    assert rec.page_errors == []


def test_render_and_execute_before_the_frame_is_ready(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    """A page calling render and execute from an inline script, while the document is still
    being parsed and before the frame has loaded: the render-at-load pass leaves the rendered
    container alone, and the execute waits for the frame."""
    key = live_server.sitekey
    url = pages.add(
        "/early.html",
        "<!doctype html><html><head><title>early</title>"
        f'<script src="{api_url(live_server)}"></script></head><body>'
        f'<div id="w" class="h-captcha" data-sitekey="{key}"></div>'
        "<script>window.wid = hcaptcha.render('w');"
        " window.early = hcaptcha.execute(wid, {async: true});</script></body></html>",
    )
    page.goto(url)
    result = page.evaluate("() => early")
    assert TOKEN_RE.match(result["response"])
    assert page.evaluate("() => hcaptcha.getResponse()") == result["response"]
    assert widget_nodes(page, "body") == [1, 1, 1]
    assert rec.page_errors == []


def test_stale_frames_are_not_heard(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    """A copy of a widget's frame (a cloned container) still posts messages with the widget's
    id, and goes on posting after the widget is removed: neither reaches the page's fields,
    callbacks or responses."""
    ex = expect()
    key = live_server.sitekey
    url = pages.add(
        "/stale.html",
        widget_page(
            api_url(live_server),
            f'<div id="w" class="h-captcha" data-sitekey="{key}" {CALLBACK_ATTRS}></div>'
            f'<div id="copies"></div><div id="b" class="h-captcha" data-sitekey="{key}" '
            f"{CALLBACK_ATTRS}></div>",
            RECORD_CALLBACKS,
        ),
    )
    page.goto(url)
    ex(page.locator("#b")).to_have_attribute("data-hcaptcha-widget-id", re.compile(r"\w+"))
    page.evaluate(
        """() => {
          const copies = document.getElementById('copies'), w = document.getElementById('w');
          for (const id of ['c1', 'c2']) {
            const c = w.cloneNode(true);
            c.id = id;
            c.className = '';
            copies.append(c);
          }
        }"""
    )
    copy_box = page.frame_locator("#c1 iframe").locator("#box")
    copy_box.click()  # the copy earns a token and posts it with w's widget id
    ex(copy_box).to_have_attribute("aria-checked", "true", timeout=20_000)
    page.wait_for_timeout(300)
    assert page.evaluate("() => hcaptcha.getResponse()") == ""
    ex(page.locator("#w textarea[name=h-captcha-response]")).to_have_value("")

    page.evaluate("() => hcaptcha.remove(document.getElementById('w').dataset.hcaptchaWidgetId)")
    copy_box = page.frame_locator("#c2 iframe").locator("#box")
    copy_box.click()
    ex(copy_box).to_have_attribute("aria-checked", "true", timeout=20_000)
    page.wait_for_timeout(300)
    assert page.evaluate("() => hcaptcha.getResponse()") == ""  # b, the first live one
    ex(page.locator("#b textarea[name=h-captcha-response]")).to_have_value("")
    assert page.evaluate("() => events") == []
    assert rec.page_errors == []


def test_a_running_challenge_and_its_rqdata_survive_a_move(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    """The frame a moved container reloads resumes the challenge that was running (without a
    second open-callback) and keeps the rqdata the page set for the next token."""
    ex = expect()
    slow = new_site(live_server, 1_000_000_000)  # hours of work: still running when moved
    url = pages.add(
        "/move-running.html",
        explicit_page(
            live_server,
            '<div id="left"><div id="s"></div><div id="w"></div></div><div id="right"></div>',
            "function go() {"
            f" window.s = hcaptcha.render('s', {{sitekey: '{slow['sitekey']}',"
            " 'open-callback': rec('s-open')});"
            f" window.w = hcaptcha.render('w', {{sitekey: '{live_server.sitekey}'}}); }}",
        ),
    )
    page.goto(url)
    page.wait_for_function("() => window.w")
    label = page.frame_locator("#s iframe").locator("#label")
    ex(label).to_have_text("I am human")
    page.evaluate("() => { window.outcome = hcaptcha.execute(s, {async: true}).catch(e => e); }")
    ex(label).to_have_text(re.compile("Verifying"))
    page.evaluate("() => document.getElementById('right').append(document.getElementById('s'))")
    ex(label).to_have_text(re.compile("Verifying"))  # the reloaded frame took the work up
    page.wait_for_timeout(300)
    assert page.evaluate("() => events") == [["s-open", None]]
    page.evaluate("() => hcaptcha.close(s)")
    assert page.evaluate("() => outcome") == "challenge-closed"
    ex(label).to_have_text("I am human")

    page.evaluate("() => hcaptcha.setData(w, {rqdata: 'order-7'})")
    ex(page.frame_locator("#w iframe").locator("#label")).to_have_text("I am human")
    result = page.evaluate(
        """() => {
          document.getElementById('right').append(document.getElementById('w'));
          return hcaptcha.execute(w, {async: true});
        }"""
    )
    verdict = siteverify(live_server, live_server.secret, result["response"], rqdata="order-7")
    assert verdict["success"] is True, verdict
    assert rec.page_errors == []


def test_widgets_rendered_before_their_containers_are_attached(
    page: Any, live_server: LiveServer, pages: PageServer, rec: Recorder
) -> None:
    """A container built off the document (a fragment a framework inserts afterwards) is not
    taken for one torn down: its widget waits for it and works once it is attached."""
    ex = expect()
    key = live_server.sitekey
    url = pages.add(
        "/offdom.html",
        explicit_page(
            live_server,
            '<form id="f"></form>',
            "function go() {"
            " const a = document.createElement('div'), b = document.createElement('div');"
            f" window.a = hcaptcha.render(a, {{sitekey: '{key}'}});"
            f" window.b = hcaptcha.render(b, {{sitekey: '{key}'}});"
            " window.before = [hcaptcha.getResponse(a), hcaptcha.getResponse()];"
            " a.id = 'a'; b.id = 'b'; document.getElementById('f').append(a, b); }",
        ),
    )
    page.goto(url)
    page.wait_for_function("() => window.b")
    assert page.evaluate("() => before") == ["", ""]
    for slot in ("a", "b"):
        assert widget_nodes(page, f"#{slot}") == [1, 1, 1]
        page.frame_locator(f"#{slot} iframe").locator("#box").click()
        field = page.locator(f"#{slot} textarea[name=h-captcha-response]")
        ex(field).to_have_value(TOKEN_RE, timeout=20_000)
        assert page.evaluate(f"() => hcaptcha.getResponse({slot})") == field.input_value()
    assert rec.page_errors == []

"""The Argon2id widget in a real browser: a token under the strict CSP, the algorithm's code
loaded only where it is used, browsers without WebAssembly or workers, the SHA-256
fallback, a stale frame reloading once, and the solver's speed in this Chromium."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser import (
    ARGS,
    CALLBACK_ATTRS,
    CHROMIUM,
    RECORD_CALLBACKS,
    PageServer,
    Recorder,
    expect,
    widget_page,
)
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN_RE = re.compile(r"^P1_[\w-]+\.[\w-]+$")
HASHED = re.compile(r"/1/static/[\w-]+\.[0-9a-f]{12}\.(?:js|mjs|css|wasm)$")
ARGON2_FILES = ("/argon2.", "/worker-argon2.")
UNSUPPORTED = "Your browser cannot run this check."
# The contract's reference strict CSP for the embedding page (as in test_widget_browser).
CSP = (
    "default-src 'none'; script-src {P} 'wasm-unsafe-eval'; worker-src {P}; "
    "connect-src {P}; style-src {P}; img-src {P} data:; frame-src {P}; form-action 'self'"
)


class Challenges:
    """The /1/challenge requests a context made (their JSON bodies) and their answers."""

    def __init__(self, context: Any) -> None:
        self.asked: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        context.on("request", self._request)
        context.on("requestfinished", self._finished)

    def _request(self, r: Any) -> None:
        if r.url.endswith("/1/challenge") and r.method == "POST":
            self.asked.append(json.loads(r.post_data))

    def _finished(self, r: Any) -> None:
        if r.url.endswith("/1/challenge") and r.method == "POST":
            try:
                self.answers.append(r.response().json())
            except Exception:  # the frame navigated away before it was read
                self.answers.append({})


def open_page(browser: Any, rec: Recorder, init: str = "") -> tuple[Any, Any, Challenges]:
    context = browser.new_context()
    if init:
        context.add_init_script(init)
    page = context.new_page()
    rec.attach(context, page)
    return context, page, Challenges(context)


@pytest.fixture
def page(browser: Any, rec: Recorder) -> Iterator[tuple[Any, Challenges]]:
    context, page, challenges = open_page(browser, rec)
    yield page, challenges
    context.close()


def add_site(server: LiveServer, *options: str) -> dict[str, str]:
    out = server.cli(
        "site",
        "add",
        "--hostname",
        "localhost",
        "--no-adaptive",
        *options,
        "--json",
    )
    assert out.returncode == 0, out.stderr
    created: dict[str, str] = json.loads(out.stdout)
    return created


@pytest.fixture(scope="module")
def argon2_site(live_server: LiveServer) -> dict[str, str]:
    return add_site(live_server, "--algorithm", "argon2id", "--difficulty", "300")


@pytest.fixture(scope="module")
def fallback_site(live_server: LiveServer) -> dict[str, str]:
    return add_site(
        live_server, "--algorithm", "argon2id", "--difficulty", "300", "--fallback", "sha256"
    )


def siteverify(server: LiveServer, secret: str, response: str) -> dict[str, Any]:
    r = httpx.post(server.base_url + "/siteverify", data={"secret": secret, "response": response})
    body: dict[str, Any] = r.json()
    return body


def widget(
    server: LiveServer, pages: PageServer, path: str, sitekey: str, strict: bool = False
) -> str:
    """A page holding one widget: under the strict CSP (which leaves out the inline script
    that records the callbacks into `events`), or with the callbacks recorded."""
    attrs, head, headers = CALLBACK_ATTRS, RECORD_CALLBACKS, {}
    if strict:
        attrs, head = "", ""
        headers = {"Content-Security-Policy": CSP.format(P=server.base_url)}
    return pages.add(
        path,
        widget_page(
            f"{server.base_url}/1/api.js",
            f'<form><div class="h-captcha" data-sitekey="{sitekey}" {attrs}></div></form>',
            head,
        ),
        headers,
    )


def solve_in(page: Any) -> str:
    """Check the box; the token the page's field receives."""
    ex = expect()
    page.frame_locator("iframe").locator("#box").click()
    field = page.locator("textarea[name=h-captcha-response]")
    ex(field).to_have_value(TOKEN_RE, timeout=30_000)
    token: str = field.input_value()
    return token


def csp_errors(rec: Recorder) -> list[str]:
    return [m for m in rec.console_errors if "Content Security Policy" in m or "CSP" in m]


def test_argon2_site_under_the_strict_csp_gives_a_token_that_verifies_once(
    page: tuple[Any, Challenges],
    rec: Recorder,
    live_server: LiveServer,
    pages: PageServer,
    argon2_site: dict[str, str],
) -> None:
    tab, challenges = page
    tab.goto(widget(live_server, pages, "/argon2.html", argon2_site["sitekey"], strict=True))
    token = solve_in(tab)
    assert challenges.asked == [{"sitekey": argon2_site["sitekey"], "host": "localhost", "v": 2}]
    assert challenges.answers[0]["algorithm"] == "argon2id"
    assert challenges.answers[0]["params"] == {"m": 1024, "t": 1, "p": 1}
    first = siteverify(live_server, argon2_site["secret"], token)
    assert first["success"] is True, first
    again = siteverify(live_server, argon2_site["secret"], token)
    assert again["success"] is False
    assert again["error-codes"] == ["already-seen-response"]
    static = [u for u in rec.requests if "/1/static/" in u]
    for name in ("/worker-argon2.", "/argon2.", ".wasm"):
        assert any(name in u for u in static), static
    assert all(HASHED.search(u) for u in static), static  # the frame names hashed files
    assert csp_errors(rec) == [] and rec.page_errors == []


def test_a_sha256_site_does_not_load_the_argon2_code(
    page: tuple[Any, Challenges], rec: Recorder, live_server: LiveServer, pages: PageServer
) -> None:
    tab, challenges = page
    tab.goto(widget(live_server, pages, "/sha256.html", live_server.sitekey, strict=True))
    token = solve_in(tab)
    assert siteverify(live_server, live_server.secret, token)["success"] is True
    assert challenges.answers[0]["algorithm"] == "sha256"
    static = [u for u in rec.requests if "/1/static/" in u]
    assert any("/worker." in u for u in static), static
    assert not [u for u in static if any(n in u for n in ARGON2_FILES)], static
    assert csp_errors(rec) == [] and rec.page_errors == []


@pytest.fixture(scope="module")
def nowasm_browser(browser: Any) -> Iterator[Any]:
    """A second Chromium without WebAssembly in any context (pages and workers): V8 without
    its compilers, as under the JavaScriptJitBlockedForSites / DefaultJavaScriptJitSetting
    policies or Edge's enhanced security mode."""
    other = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*ARGS, "--js-flags=--jitless"]
    )
    yield other
    other.close()


def test_without_webassembly_the_site_without_fallback_says_so(
    nowasm_browser: Any,
    rec: Recorder,
    live_server: LiveServer,
    pages: PageServer,
    argon2_site: dict[str, str],
) -> None:
    ex = expect()
    context, tab, challenges = open_page(nowasm_browser, rec)
    tab.goto(widget(live_server, pages, "/nowasm.html", argon2_site["sitekey"]))
    frame = tab.frame_locator("iframe")
    assert frame.locator("html").evaluate("() => typeof WebAssembly") == "undefined"
    frame.locator("#box").click()
    ex(frame.locator("#note")).to_have_text(UNSUPPORTED, timeout=20_000)
    ex(frame.locator("#label")).to_have_text("Verification failed")
    assert tab.evaluate("() => events") == [["open", None], ["error", "challenge-error"]]
    assert [a.get("fallback") for a in challenges.asked] == [True]
    assert tab.locator("textarea[name=h-captcha-response]").input_value() == ""
    context.close()


def test_without_webassembly_the_fallback_site_gives_a_sha256_token(
    browser: Any,
    rec: Recorder,
    live_server: LiveServer,
    pages: PageServer,
    fallback_site: dict[str, str],
) -> None:
    """The frame without WebAssembly asks for the fallback up front. (Here its documents lack
    it and V8 keeps its compiler: jitless, the interpreter takes ~20 s for the fallback's
    10^6 SHA-256 attempts on a small machine.)"""
    context, tab, challenges = open_page(browser, rec, "delete globalThis.WebAssembly;")
    tab.goto(widget(live_server, pages, "/fallback.html", fallback_site["sitekey"]))
    token = solve_in(tab)
    assert tab.evaluate("() => events.map(e => e[0])") == ["open", "callback"]
    assert challenges.asked == [
        {"sitekey": fallback_site["sitekey"], "host": "localhost", "v": 2, "fallback": True}
    ]
    assert challenges.answers[0]["algorithm"] == "sha256"
    assert siteverify(live_server, fallback_site["secret"], token)["success"] is True
    assert not [u for u in rec.requests if any(n in u for n in ARGON2_FILES)]
    context.close()


def strip_wasm_unsafe_eval(route: Any) -> None:
    answer = route.fetch()
    headers = dict(answer.headers)
    if "content-security-policy" in headers:
        csp = headers["content-security-policy"]
        headers["content-security-policy"] = csp.replace(" 'wasm-unsafe-eval'", "")
    route.fulfill(response=answer, headers=headers)


def test_a_frame_policy_refusing_webassembly_takes_the_fallback(
    page: tuple[Any, Challenges],
    rec: Recorder,
    live_server: LiveServer,
    pages: PageServer,
    fallback_site: dict[str, str],
) -> None:
    """The frame's and the workers' own policy governs WebAssembly, not the page's: without
    'wasm-unsafe-eval' there the Argon2id worker cannot compile its module, says so, and the
    frame asks for the site's fallback instead (the page's strict CSP allows WebAssembly)."""
    tab, challenges = page
    tab.route(re.compile(r"/1/(frame|static/worker)"), strip_wasm_unsafe_eval)
    tab.goto(widget(live_server, pages, "/refused.html", fallback_site["sitekey"], strict=True))
    token = solve_in(tab)
    assert [a.get("fallback") for a in challenges.asked] == [None, True]
    assert [a["algorithm"] for a in challenges.answers] == ["argon2id", "sha256"]
    assert any("/argon2." in u and u.endswith(".wasm") for u in rec.requests)
    assert siteverify(live_server, fallback_site["secret"], token)["success"] is True


def test_without_workers_the_widget_says_so(
    browser: Any,
    rec: Recorder,
    live_server: LiveServer,
    pages: PageServer,
    fallback_site: dict[str, str],
) -> None:
    ex = expect()
    context, tab, challenges = open_page(browser, rec, "delete window.Worker;")
    tab.goto(widget(live_server, pages, "/noworker.html", fallback_site["sitekey"]))
    frame = tab.frame_locator("iframe")
    frame.locator("#box").click()
    ex(frame.locator("#note")).to_have_text(UNSUPPORTED, timeout=20_000)
    assert tab.evaluate("() => events") == [["open", None], ["error", "challenge-error"]]
    assert challenges.asked == []  # nothing to solve it with: no challenge is spent
    context.close()


def frame_loads(rec: Recorder) -> list[str]:
    return [u for u in rec.requests if "/1/frame?" in u]


def test_a_stale_widget_meeting_the_new_algorithm_reloads_once_and_earns_a_token(
    page: tuple[Any, Challenges],
    rec: Recorder,
    live_server: LiveServer,
    pages: PageServer,
    argon2_site: dict[str, str],
) -> None:
    """The first challenge request is sent as a widget from before protocol 2 sends it
    (without `v`): the server answers `reload`, the frame loads again, and the page's run
    resumes in the new frame: one open, one token, no error."""
    tab, challenges = page
    ex = expect()

    answers = []

    def as_old_widget(route: Any) -> None:
        body = json.loads(route.request.post_data)
        body.pop("v")
        answer = route.fetch(post_data=json.dumps(body))
        answers.append((answer.status, answer.json()))
        route.fulfill(response=answer)

    tab.route("**/1/challenge", as_old_widget, times=1)
    tab.goto(widget(live_server, pages, "/stale.html", argon2_site["sitekey"]))
    token = solve_in(tab)
    assert tab.evaluate("() => events.map(e => e[0])") == ["open", "callback"]
    assert answers == [(400, {**answers[0][1], "error": "challenge-error", "reload": True})]
    assert challenges.answers[1]["algorithm"] == "argon2id"
    assert ["reloaded=1" in u for u in frame_loads(rec)] == [False, True], rec.requests
    frame = tab.frame_locator("iframe")
    ex(frame.locator("#label")).to_have_text("Verified")
    # up to date again: a later upgrade may reload it once more
    assert "reloaded" not in frame.locator("html").evaluate("() => location.search")
    assert siteverify(live_server, argon2_site["secret"], token)["success"] is True
    assert rec.page_errors == []


def test_a_frame_that_stays_out_of_date_fails_instead_of_looping(
    page: tuple[Any, Challenges],
    rec: Recorder,
    live_server: LiveServer,
    pages: PageServer,
    argon2_site: dict[str, str],
) -> None:
    tab, challenges = page
    ex = expect()
    stale = {"error": "challenge-error", "message": "out of date", "reload": True}
    tab.route(
        "**/1/challenge",
        lambda route: route.fulfill(status=400, json=stale),
    )
    tab.goto(widget(live_server, pages, "/looping.html", argon2_site["sitekey"]))
    frame = tab.frame_locator("iframe")
    frame.locator("#box").click()
    ex(frame.locator("#label")).to_have_text("Verification failed", timeout=20_000)
    assert tab.evaluate("() => events") == [["open", None], ["error", "challenge-error"]]
    assert len(frame_loads(rec)) == 2
    assert len(challenges.asked) == 2


def test_argon2_attempt_rate(
    page: tuple[Any, Challenges], live_server: LiveServer, record_property: Any
) -> None:
    """The Argon2id worker's speed in this Chromium, one worker, as a test property."""
    tab, _ = page
    tab.goto(f"{live_server.base_url}/1/frame?sitekey=x&host=localhost&origin=null")
    rate = tab.evaluate(
        """() => new Promise(resolve => {
          const w = new Worker("static/worker-argon2.js", {type: "module"});
          let hashes = 0, t0 = 0;
          w.onmessage = e => {
            if (!t0) { t0 = performance.now(); return; }  // first report: warmed up
            hashes += e.data.hashes;
            const dt = performance.now() - t0;
            if (dt > 2000) { w.terminate(); resolve(hashes / dt * 1000); }
          };
          w.postMessage({salt: "0123456789abcdef0123456789abcdef", part: 0, threshold: 1,
                         m: 1024, t: 1, p: 1});
        })"""
    )
    record_property("argon2id_attempts_per_second", int(rate))
    print(f"\nArgon2id worker: {rate:.0f} attempts/s")
    assert rate > 100

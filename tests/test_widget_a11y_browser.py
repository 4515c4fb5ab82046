"""The widget frame against WCAG 2.2 AA and against slow or hostile browsers: axe-core in
every theme, size, direction and state; the keyboard, focus and target size; what the live
region announces; reduced motion and forced colors; progress that keeps moving, a box that
stays responsive and a background tab that keeps solving; blocked workers and a browser
without WebAssembly that get a clear message and error-callback instead of a spinner."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import (
    CALLBACK_ATTRS,
    RECORD_CALLBACKS,
    PageServer,
    Recorder,
    expect,
    unavailable,
    widget_page,
)
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
LOCALES = Path(__file__).parents[1] / "src" / "passgate" / "widget" / "locales"
TOKEN_RE = re.compile(r"^P1_[\w-]+\.[\w-]+$")
THEMES = ("light", "dark", "contrast")
SIZES = ("normal", "compact")
UNKNOWN_SITEKEY = "00000000-0000-4000-8000-000000000000"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def strings(lang: str) -> dict[str, str]:
    """The widget's strings in `lang` (English where that locale is missing)."""
    path = LOCALES / f"{lang}.json"
    if not path.exists():
        path = LOCALES / "en.json"
    loaded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    yield context
    context.close()


@pytest.fixture
def page(context: Any, rec: Recorder) -> Any:
    page = context.new_page()
    rec.attach(context, page)
    return page


def add_site(server: LiveServer, *options: str) -> dict[str, str]:
    out = server.cli("site", "add", "--hostname", "localhost", "--no-adaptive", *options, "--json")
    assert out.returncode == 0, out.stderr
    created: dict[str, str] = json.loads(out.stdout)
    return created


@pytest.fixture(scope="module")
def slow_site(live_server: LiveServer) -> dict[str, str]:
    """Seconds of work in this Chromium: progress can be watched."""
    return add_site(live_server, "--difficulty", "40000000")


@pytest.fixture(scope="module")
def endless_site(live_server: LiveServer) -> dict[str, str]:
    """Hours of work: a widget that stays in its working state."""
    return add_site(live_server, "--difficulty", "1000000000")


def one_widget(
    server: LiveServer,
    pages: PageServer,
    path: str,
    sitekey: str,
    attrs: str = "",
    query: str = "",
    before: str = "",
    after: str = "",
) -> str:
    return pages.add(
        path,
        widget_page(
            f"{server.base_url}/1/api.js{query}",
            f'<form>{before}<div id="w" class="h-captcha" data-sitekey="{sitekey}" '
            f"{CALLBACK_ATTRS} {attrs}></div>{after}</form>",
            RECORD_CALLBACKS,
        ),
    )


def frame_of(page: Any, selector: str = "#w iframe", lang: str = "en") -> Any:
    """The widget frame in `selector`, ready and speaking `lang`."""
    frame = page.locator(selector).element_handle().content_frame()
    frame.wait_for_function(
        "lang => document.documentElement.lang === lang && document.getElementById('label')"
        " && document.getElementById('label').textContent !== ''",
        arg=lang,
    )
    return frame


def with_axe(context: Any) -> None:
    """axe-core in every document of `context` (an init script: the frame's CSP allows it)."""
    if not AXE.exists():
        unavailable(f"{AXE} is missing: run `make` (npm ci in tests/axe)")
    context.add_init_script(path=str(AXE))


def axe_violations(frame: Any) -> list[dict[str, Any]]:
    result: dict[str, Any] = frame.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "nodes": [(n["target"], n.get("failureSummary", "")[:200]) for n in v["nodes"]][:3],
        }
        for v in result["violations"]
    ]


# 1. axe-core: every theme x size x direction x state ------------------------------------


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_axe_finds_no_wcag_violation_in_any_theme_size_or_state(
    context: Any,
    page: Any,
    live_server: LiveServer,
    pages: PageServer,
    endless_site: dict[str, str],
    lang: str,
) -> None:
    """Three themes, two sizes, four states (idle, working, done, error), one page per
    language: `ar` is right to left. The working widgets run one at a time."""
    ex = expect()
    with_axe(context)
    keys = {
        "idle": live_server.sitekey,
        "done": live_server.sitekey,
        "error": UNKNOWN_SITEKEY,
        "working": endless_site["sitekey"],
    }
    slots = [(t, s, st) for st in keys for t in THEMES for s in SIZES]
    body = "".join(
        f'<div id="{t}-{s}-{st}" class="h-captcha" data-sitekey="{keys[st]}" '
        f'data-theme="{t}" data-size="{s}"></div>'
        for t, s, st in slots
    )
    url = pages.add(
        f"/axe-{lang}.html",
        widget_page(f"{live_server.base_url}/1/api.js?hl={lang}", body),
    )
    page.goto(url)
    frames = {slot: frame_of(page, f"#{'-'.join(slot)} iframe", lang) for slot in slots}
    if lang == "ar":
        assert {f.evaluate("() => document.dir") for f in frames.values()} == {"rtl"}
    for (_t, _s, st), frame in frames.items():
        if st in ("done", "error"):
            frame.locator("#box").click()
    found = {}
    for slot, frame in frames.items():
        st = slot[2]
        if st != "idle":
            if st == "working":
                frame.locator("#box").click()
            ex(frame.locator("html")).to_have_class(re.compile("is-" + st), timeout=20_000)
        if violations := axe_violations(frame):
            found["-".join(slot)] = violations
        if st == "working":
            page.evaluate(
                "id => hcaptcha.reset(id)",
                page.locator(f"#{'-'.join(slot)}").get_attribute("data-hcaptcha-widget-id"),
            )
    assert found == {}


# 2. Keyboard, focus and target size ------------------------------------------------------


def luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


FOCUS = """() => {
  const box = document.getElementById('box'), pg = document.getElementById('pg');
  const s = getComputedStyle(box), r = box.getBoundingClientRect();
  const out = parseFloat(s.outlineOffset) + parseFloat(s.outlineWidth);
  const ring = {left: r.left - out, top: r.top - out, right: r.right + out,
                bottom: r.bottom + out};
  const p = pg.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return {
    focused: document.activeElement === box && document.hasFocus(),
    visible: box.matches(':focus-visible'),
    style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor,
    background: getComputedStyle(pg).backgroundColor,
    inside: ring.left >= p.left && ring.top >= p.top && ring.right <= p.right &&
            ring.bottom <= p.bottom && p.left >= 0 && p.top >= 0 &&
            p.right <= innerWidth && p.bottom <= innerHeight,
    onTop: hit === box || box.contains(hit),
    size: [r.width, r.height],
  };
}"""


def test_keyboard_reaches_operates_and_leaves_every_theme_and_size(
    page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    """Tab reaches each box from the page with a visible ring of 3:1 or more, fully in view
    (2.4.7, 2.4.11, 1.4.11); the box is 24 x 24 px at least (2.5.8); Space and Enter check
    it; Tab then leaves the last frame for the page's next element (2.1.2)."""
    ex = expect()
    slots = [(t, s) for s in SIZES for t in THEMES]
    url = pages.add(
        "/keys.html",
        widget_page(
            f"{live_server.base_url}/1/api.js",
            '<form><input id="before" aria-label="name">'
            + "".join(
                f'<div id="{t}-{s}" class="h-captcha" data-sitekey="{live_server.sitekey}" '
                f'data-theme="{t}" data-size="{s}"></div>'
                for t, s in slots
            )
            + '<button id="after">Send</button></form>',
        ),
    )
    page.goto(url)
    frames = [frame_of(page, f"#{t}-{s} iframe") for t, s in slots]
    page.focus("#before")
    for (t, s), frame in zip(slots, frames, strict=True):
        page.keyboard.press("Tab")
        ex(frame.locator("#box")).to_be_focused()
        f = frame.evaluate(FOCUS)
        assert f["focused"] and f["visible"], (t, s, f)
        assert f["style"] == "solid" and f["width"] >= 2, (t, s, f)
        assert contrast(f["color"], f["background"]) >= 3, (t, s, f)
        assert f["inside"] and f["onTop"], (t, s, f)
        assert min(f["size"]) >= 24, (t, s, f)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "after"  # no trap
    page.keyboard.press("Shift+Tab")
    ex(frames[-1].locator("#box")).to_be_focused()
    page.keyboard.press("Enter")
    ex(frames[-1].locator("#box")).to_have_attribute("aria-checked", "true", timeout=20_000)
    frames[0].locator("#box").focus()
    page.keyboard.press("Space")
    ex(frames[0].locator("#box")).to_have_attribute("aria-checked", "true", timeout=20_000)
    tokens = page.locator("textarea[name=h-captcha-response]")
    ex(tokens.first).to_have_value(TOKEN_RE)
    ex(tokens.last).to_have_value(TOKEN_RE)


# 3. What the live region says -------------------------------------------------------------

# Every text the frame's live region is given, in order (a MutationObserver in each frame).
LISTEN = """document.addEventListener('DOMContentLoaded', () => {
  const live = document.getElementById('live');
  if (!live) return;
  window.said = [];
  new MutationObserver(() => { if (live.textContent) said.push(live.textContent); })
    .observe(live, {childList: true, characterData: true, subtree: true});
});"""


@pytest.mark.parametrize("lang", ["de", "ar"])
def test_the_live_region_announces_a_few_steps_in_the_widgets_language(
    context: Any,
    page: Any,
    live_server: LiveServer,
    pages: PageServer,
    lang: str,
) -> None:
    """A solve of a second or so: progress at quarters at most (T.progress), then T.done."""
    ex = expect()
    t = strings(lang)
    site = add_site(live_server, "--difficulty", "3000000")
    context.add_init_script(LISTEN)
    page.goto(
        one_widget(live_server, pages, f"/live-{lang}.html", site["sitekey"], f'data-hl="{lang}"')
    )
    frame = frame_of(page, lang=lang)
    frame.locator("#box").click()
    ex(frame.locator("#box")).to_have_attribute("aria-checked", "true", timeout=30_000)
    said: list[str] = frame.evaluate("() => said")
    assert 2 <= len(said) <= 6, said
    assert said[-1] == t["done"]
    pattern = re.compile(re.escape(t["progress"]).replace(re.escape("{p}"), r"(\d+)"))
    steps = [pattern.fullmatch(s) for s in said[:-1]]
    assert all(steps), said
    percents = [int(m.group(1)) for m in steps if m]
    assert percents == sorted(set(percents)), said
    assert len({p // 25 for p in percents}) == len(percents), said  # one per quarter


# 4. Reduced motion and forced colors -------------------------------------------------------


def test_reduced_motion_stops_the_animations(
    browser: Any, live_server: LiveServer, pages: PageServer, endless_site: dict[str, str]
) -> None:
    ex = expect()
    context = browser.new_context(reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(one_widget(live_server, pages, "/still.html", endless_site["sitekey"]))
        frame = frame_of(page)
        frame.locator("#box").click()
        ex(frame.locator("html")).to_have_class(re.compile("is-working"))
        motion = frame.evaluate(
            """() => ['.box', '.mark', '.bar', '#fill'].map(q => {
              const s = getComputedStyle(document.querySelector(q));
              return [q, s.animationName, s.animationDuration, s.transitionDuration];
            })"""
        )
        for q, name, duration, transition in motion:
            assert name == "none" or duration == "0s", (q, name, duration)
            assert set(transition.split(", ")) == {"0s"}, (q, transition)
        page.evaluate("() => hcaptcha.reset()")
    finally:
        context.close()


def test_forced_colors_keep_the_box_ring_and_check_mark_visible(
    browser: Any, live_server: LiveServer, pages: PageServer
) -> None:
    ex = expect()
    context = browser.new_context(forced_colors="active")
    try:
        page = context.new_page()
        page.goto(
            one_widget(
                live_server, pages, "/forced.html", live_server.sitekey, before="<input id=a>"
            )
        )
        frame = frame_of(page)
        assert frame.evaluate("() => matchMedia('(forced-colors: active)').matches")
        look = """() => {
          const box = getComputedStyle(document.getElementById('box'));
          const mark = getComputedStyle(document.querySelector('.mark'), '::after');
          const pg = getComputedStyle(document.getElementById('pg'));
          return {border: box.borderTopWidth, borderColor: box.borderTopColor,
                  box: box.backgroundColor, bg: pg.backgroundColor,
                  outline: [box.outlineStyle, box.outlineWidth, box.outlineColor],
                  mark: [mark.content, mark.borderRightWidth, mark.borderRightColor]};
        }"""
        page.focus("#a")
        page.keyboard.press("Tab")
        ex(frame.locator("#box")).to_be_focused()
        idle = frame.evaluate(look)
        assert float(idle["border"][:-2]) >= 1, idle
        assert contrast(idle["borderColor"], idle["bg"]) >= 3, idle  # the box
        style, width, color = idle["outline"]
        assert style == "solid" and float(width[:-2]) >= 2, idle
        assert contrast(color, idle["bg"]) >= 3, idle  # the focus ring
        page.keyboard.press("Space")
        ex(frame.locator("#box")).to_have_attribute("aria-checked", "true", timeout=20_000)
        page.wait_for_timeout(300)  # the box's colour transition
        done = frame.evaluate(look)
        content, width, color = done["mark"]
        assert content != "none" and float(width[:-2]) >= 2, done  # the check mark
        assert contrast(color, done["bg"]) >= 3 and contrast(color, done["box"]) >= 3, done
        assert contrast(done["borderColor"], done["bg"]) >= 3, done
    finally:
        context.close()


# 5. Slow devices: progress keeps moving, the box responds, a background tab keeps going ----

# Samples, every 100 ms, what the frame shows of its progress: [ms, label, bar width].
SAMPLE = """() => {
  window.samples = [];
  const t0 = performance.now();
  const box = document.getElementById('box');
  const name = () => box.getAttribute('aria-labelledby').split(' ')
    .map(id => document.getElementById(id).textContent).join(' ');
  const take = () => samples.push([performance.now() - t0,
    document.getElementById('label').textContent,
    getComputedStyle(document.getElementById('fill')).width,
    document.documentElement.className, name()]);
  take();
  window.sampler = setInterval(take, 100);
}"""


def test_progress_moves_every_half_second_and_the_box_responds(
    page: Any, live_server: LiveServer, pages: PageServer, slow_site: dict[str, str]
) -> None:
    """The label or the bar changes at least every 500 ms; the box's accessible name (its
    aria-labelledby text) stays the state, never the percentage, so that a screen reader
    does not read out every change (the live region announces quarters)."""
    page.goto(one_widget(live_server, pages, "/progress.html", slow_site["sitekey"]))
    frame = frame_of(page)
    page.evaluate("() => document.title")  # the page's script world, made before timing
    frame.evaluate(SAMPLE)
    frame.locator("#box").click()
    expect()(frame.locator("#label")).to_have_text(re.compile(r"[1-9]"))  # the workers run
    latencies = []
    for _ in range(8):
        page.wait_for_timeout(400)
        started = time.monotonic()
        page.evaluate("() => document.title")
        frame.evaluate("() => document.getElementById('label').textContent")
        latencies.append(time.monotonic() - started)
    samples = frame.evaluate("() => { clearInterval(sampler); return samples; }")
    page.evaluate("() => hcaptcha.reset()")
    working = [s for s in samples if "is-working" in s[3]]
    assert working and working[-1][0] - working[0][0] >= 2500, samples  # seconds of work
    changes = [working[0][0]] + [
        b[0] for a, b in zip(working, working[1:], strict=False) if (a[1], a[2]) != (b[1], b[2])
    ]
    gaps = [b - a for a, b in zip(changes, changes[1:] + [working[-1][0]], strict=True)]
    print(f"\nlongest gap {max(gaps):.0f} ms, {len(changes)} changes, evaluate {latencies}")
    assert max(gaps) <= 500, samples
    assert max(latencies) < 0.2, latencies
    names = [s[4] for s in working]
    assert len({*names}) <= 2 and not any(re.search(r"\d", n) for n in names), names
    assert names[0] == strings("en")["human"], names


# What a background tab does to the frame, which headless Chromium never does itself (every
# page it runs stays visible, bring_to_front or not): hidden, no animation frames, and
# timers that fire at the next whole second at the earliest.
BACKGROUND = """if (location.pathname.endsWith('/1/frame')) {
  Object.defineProperty(document, 'visibilityState', {get: () => 'hidden'});
  Object.defineProperty(document, 'hidden', {get: () => true});
  window.requestAnimationFrame = () => 0;
  const late = f => ms => Math.max(ms || 0, 1000 - performance.now() % 1000);
  const [timeout, interval] = [setTimeout, setInterval];
  window.setTimeout = (f, ms, ...a) => timeout(f, late(f)(ms), ...a);
  window.setInterval = (f, ms, ...a) => interval(f, late(f)(ms), ...a);
  document.addEventListener('DOMContentLoaded',
    () => document.dispatchEvent(new Event('visibilitychange')));
}"""


def test_a_background_tab_keeps_solving(
    context: Any, page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    """The check is started, another page comes to the front, and the token still arrives:
    the solve runs on the workers' messages, not on timers or animation frames."""
    site = add_site(live_server, "--difficulty", "8000000")
    context.add_init_script(BACKGROUND)
    page.goto(one_widget(live_server, pages, "/background.html", site["sitekey"]))
    frame = frame_of(page)
    assert frame.evaluate("() => document.visibilityState") == "hidden"
    frame.locator("#box").click()
    other = context.new_page()
    other.goto(pages.add("/front.html", "<!doctype html><title>front</title><p>front</p>"))
    other.bring_to_front()
    started = time.monotonic()
    page.wait_for_function(
        "() => (document.querySelector('textarea[name=h-captcha-response]') || {}).value",
        timeout=30_000,
    )
    print(f"\nbackground solve: {time.monotonic() - started:.1f} s")
    assert TOKEN_RE.match(page.locator("textarea[name=h-captcha-response]").input_value())
    assert page.evaluate("() => events.map(e => e[0])") == ["open", "callback"]


# 6. Browsers that block workers or lack WebAssembly --------------------------------------

THROWING_WORKER = (
    "window.Worker = function () { throw new DOMException('blocked', 'SecurityError'); };"
)
SILENT_WORKER = "window.Worker = function () { return {postMessage() {}, terminate() {}}; };"


@pytest.mark.parametrize("how", ["throws", "silent", "refused"])
def test_blocked_workers_get_a_message_and_error_callback_within_10_s(
    context: Any, page: Any, live_server: LiveServer, pages: PageServer, how: str
) -> None:
    """A constructor that throws, a worker that never answers (the frame's watchdog), a
    worker script the browser refuses to load: T.blocked in the widget's language (German
    here), error-callback with challenge-error, in 10 s."""
    ex = expect()
    t = strings("de")
    if how == "throws":
        context.add_init_script(THROWING_WORKER)
    elif how == "silent":
        context.add_init_script(SILENT_WORKER)
    else:
        context.route(
            re.compile(r"/1/static/worker\."), lambda route: route.abort("blockedbyclient")
        )
    page.goto(
        one_widget(live_server, pages, f"/blocked-{how}.html", live_server.sitekey, 'data-hl="de"')
    )
    frame = frame_of(page, lang="de")
    started = time.monotonic()
    frame.locator("#box").click()
    page.wait_for_function("() => events.some(e => e[0] === 'error')", timeout=10_000)
    assert time.monotonic() - started < 10
    assert page.evaluate("() => events") == [["open", None], ["error", "challenge-error"]]
    ex(frame.locator("#note")).to_have_text(t["blocked"])
    ex(frame.locator("#label")).to_have_text(t["failed"])
    ex(frame.locator("html")).not_to_have_class(re.compile("is-working"))


def test_without_webassembly_argon2_says_so_and_sha256_still_solves(
    context: Any, page: Any, live_server: LiveServer, pages: PageServer
) -> None:
    """The argon2id site without a fallback fails at once with T.unsupported and
    error-callback; the SHA-256 site on the same page solves in plain JavaScript."""
    ex = expect()
    argon2 = add_site(
        live_server, "--algorithm", "argon2id", "--difficulty", "300", "--fallback", "none"
    )
    context.add_init_script("delete globalThis.WebAssembly;")
    page.goto(
        one_widget(
            live_server,
            pages,
            "/nowasm.html",
            argon2["sitekey"],
            after=f'<div id="sha" class="h-captcha" data-sitekey="{live_server.sitekey}"></div>',
        )
    )
    frame = frame_of(page)
    assert frame.evaluate("() => typeof WebAssembly") == "undefined"
    started = time.monotonic()
    frame.locator("#box").click()
    page.wait_for_function("() => events.some(e => e[0] === 'error')", timeout=10_000)
    assert time.monotonic() - started < 10
    assert page.evaluate("() => events") == [["open", None], ["error", "challenge-error"]]
    ex(frame.locator("#note")).to_have_text(strings("en")["unsupported"])
    sha = frame_of(page, "#sha iframe")
    sha.locator("#box").click()
    ex(page.locator("#sha textarea[name=h-captcha-response]")).to_have_value(
        TOKEN_RE, timeout=20_000
    )


# 7. Text spacing (1.4.12) ------------------------------------------------------------------

# The criterion's spacing, forced on every element, as a user style sheet or bookmarklet does.
SPACING = (
    "* { line-height: 1.5 !important; letter-spacing: 0.12em !important;"
    " word-spacing: 0.16em !important; }"
)
NOTES = ("retry", "expired", "rate-limited", "network-error", "unsupported", "blocked")

# What of the label and the note is lost: outside the iframe's viewport or the box, over the
# brand or the checkbox, or overflowing.
LOST = """() => {
  const $ = (id) => document.getElementById(id), rect = (el) => el.getBoundingClientRect();
  const pg = $('pg'), brand = pg.querySelector('.brand'), check = $('box');
  const E = 0.5;
  const inside = (a, b) => a.left >= b.left - E && a.top >= b.top - E &&
    a.right <= b.right + E && a.bottom <= b.bottom + E;
  const apart = (a, b) => a.right <= b.left + E || b.right <= a.left + E ||
    a.bottom <= b.top + E || b.bottom <= a.top + E;
  const view = {left: 0, top: 0, right: innerWidth, bottom: innerHeight};
  const out = [];
  if (!inside(rect(pg), view)) out.push(`the box leaves the iframe (${innerHeight} px tall)`);
  if (!inside(rect(brand), view)) out.push('the brand leaves the iframe');
  for (const el of [$('label'), $('note'), $('tag')]) {
    const say = (why) => out.push(`${el.id} ${why} (${JSON.stringify(el.textContent)})`);
    if (el.scrollWidth > el.clientWidth + 1) say('overflows sideways');
    if (!inside(rect(el), view)) say('leaves the iframe');
    if (!inside(rect(el), rect(pg))) say('leaves the box');
    if (el.id === 'tag') continue;
    const range = document.createRange();
    range.selectNodeContents(el);
    const lines = [...range.getClientRects()];
    if (lines.some((l) => !apart(l, rect(brand)))) say('overlaps the brand');
    if (lines.some((l) => !apart(l, rect(check)))) say('overlaps the checkbox');
  }
  return out;
}"""


def test_text_spacing_loses_no_content(
    browser: Any, live_server: LiveServer, pages: PageServer
) -> None:
    """WCAG 1.4.12: with the criterion's line height, letter and word spacing forced into
    the frame, the error state's label and longest note, in English and in the longest
    languages (Tamil, Malayalam), in both sizes, stay whole, in view, and clear of the brand
    and the checkbox: the frame grows its box and asks the page, through the real api.js,
    to grow the iframe. At default spacing the iframe keeps its standard size."""
    context = browser.new_context(bypass_csp=True)  # the style added into the frame
    try:
        page = context.new_page()
        slots = [(lang, size) for lang in ("en", "ta", "ml") for size in SIZES]
        body = "".join(
            f'<div id="{lang}-{size}" class="h-captcha" data-sitekey="{live_server.sitekey}" '
            f'data-theme="contrast" data-size="{size}" data-hl="{lang}"></div>'
            for lang, size in slots
        )
        page.goto(pages.add("/spacing.html", widget_page(f"{live_server.base_url}/1/api.js", body)))
        problems = []
        for lang, size in slots:
            iframe = page.locator(f"#{lang}-{size} iframe")
            frame = frame_of(page, f"#{lang}-{size} iframe", lang)
            standard = iframe.evaluate("f => f.getBoundingClientRect().height")
            t = strings(lang)
            note = max((t[k] for k in NOTES), key=len)
            frame.add_style_tag(content=SPACING)
            frame.evaluate(
                """([label, note]) => {
                  document.documentElement.classList.add('is-error');
                  document.getElementById('label').textContent = label;
                  document.getElementById('note').textContent = note;
                }""",
                [t["failed"], note],
            )
            frame.evaluate("() => document.fonts.ready.then(() => null)")
            # The iframe grows to the box's height (the frame's message, then the page's).
            frame.wait_for_function(
                "() => innerHeight >= Math.ceil(document.getElementById('pg')"
                ".getBoundingClientRect().height)"
            )
            grown = iframe.evaluate("f => f.getBoundingClientRect().height")
            assert grown >= standard, (lang, size, grown, standard)
            for line in frame.evaluate(LOST):
                problems.append(f"{lang} {size}: {line}")
            print(f"\n{lang} {size}: {standard:.0f} -> {grown:.0f} px")
        assert not problems, "\n".join(problems)
        # Without the override the standard sizes stay (a fresh page: nothing was added).
        page.goto(pages.add("/plain.html", widget_page(f"{live_server.base_url}/1/api.js", body)))
        for lang, size in slots:
            frame_of(page, f"#{lang}-{size} iframe", lang)
            page.wait_for_timeout(100)
            height = page.locator(f"#{lang}-{size} iframe").evaluate(
                "f => f.getBoundingClientRect().height"
            )
            assert height == {"normal": 78, "compact": 144}[size], (lang, size, height)
    finally:
        context.close()

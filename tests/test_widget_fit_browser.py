"""Every language fits the box (issue 15): in real Chromium, with Debian's Noto fonts, each
locale's frame in both sizes, at the iframe size the page-side engine gives it, shows each of
its texts whole: no scrolling overflow, no ellipsis, a font of 12 px at least, and the label
and the note inside the box and the viewport, their lines clear of the checkbox and the
brand.

The frame is loaded directly (`/1/frame?hl=CODE&size=...`), so that it picks its language
and direction itself; the states are then put on screen by setting the root's state class
and the label's and note's text to the locale's strings, without solving anything: the
check is about the strings fitting the layout, not about how the frame reaches a state.
The themes differ in layout only by the contrast theme's border, 2 px where the others have
1 px: the contrast theme, the tightest, stands for all three."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from passgate.widget import assets
from tests.browser import chromium_session, unavailable
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOCALES = {p.stem: json.loads(p.read_text("utf-8")) for p in sorted(assets.LOCALES.glob("*.json"))}
# The notes of the error state (frame.js: T.blocked, T.unsupported, T[code] or T.retry).
NOTES = ("retry", "expired", "rate-limited", "network-error", "unsupported", "blocked")
THEME = "contrast"


def frame_sizes() -> dict[str, tuple[int, int]]:
    """The iframe's width and height in each size, as the page-side engine sets them."""
    js = (assets.PAGE / "engine.js").read_text()
    m = re.search(r"SIZES\s*=\s*\{([^}]*)\}", js)
    assert m, "engine.js has no SIZES"
    found = re.findall(r"(\w+):\s*\[(\d+),\s*(\d+)\]", m[1])
    return {name: (int(w), int(h)) for name, w, h in found}


SIZES = frame_sizes()


def states(s: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(name, state class, label, note) of every text state the frame shows."""
    return [
        ("idle", "", s["human"], ""),
        ("idle, expired", "", s["human"], s["expired"]),  # a token that expired
        ("working 100 %", "is-working", s["working"].replace("{p}", "100"), ""),
        ("done", "is-done", s["done"], ""),
        *[(f"failed, {k}", "is-error", s["failed"], s[k]) for k in NOTES],
    ]


# Puts each state on screen and returns what does not fit, as readable lines.
MEASURE = """([states, width, height]) => {
  const root = document.documentElement, $ = (id) => document.getElementById(id);
  const label = $("label"), note = $("note"), pg = $("pg");
  const brand = pg.querySelector(".brand"), check = $("box");
  const rect = (el) => el.getBoundingClientRect();
  const E = 0.5;  // sub-pixel rounding
  const inside = (a, b) => a.left >= b.left - E && a.top >= b.top - E &&
    a.right <= b.right + E && a.bottom <= b.bottom + E;
  const apart = (a, b) => a.right <= b.left + E || b.right <= a.left + E ||
    a.bottom <= b.top + E || b.bottom <= a.top + E;
  const view = { left: 0, top: 0, right: width, bottom: height };
  const out = [];
  for (const [name, cls, text, detail] of states) {
    root.classList.remove("is-working", "is-done", "is-error");
    if (cls) root.classList.add(cls);
    label.textContent = text;
    note.textContent = detail;
    const outer = rect(pg), cs = getComputedStyle(pg), px = (k) => parseFloat(cs[k]);
    if (!inside(outer, view)) out.push(`${name}: the frame is larger than the iframe`);
    // Inside the box: within its border and padding, never touching its edge.
    const frame = {
      left: outer.left + px("borderLeftWidth") + px("paddingLeft"),
      top: outer.top + px("borderTopWidth") + px("paddingTop"),
      right: outer.right - px("borderRightWidth") - px("paddingRight"),
      bottom: outer.bottom - px("borderBottomWidth") - px("paddingBottom"),
    };
    if (!inside(rect(brand), frame)) out.push(`${name}: the brand leaves the box`);
    const tag = $("tag");
    if (tag.scrollWidth > tag.clientWidth || !inside(rect(tag), frame))
      out.push(`${name}: the tagline leaves its place (${JSON.stringify(tag.textContent)})`);
    for (const [what, el] of [["label", label], ["note", note]]) {
      if (!el.textContent) continue;
      const cs = getComputedStyle(el), r = rect(el);
      const say = (why) => out.push(`${name}: ${what} ${why} (${JSON.stringify(el.textContent)})`);
      if (el.scrollWidth > el.clientWidth)
        say(`overflows sideways ${el.scrollWidth} > ${el.clientWidth}`);
      if (el.scrollHeight > el.clientHeight)
        say(`overflows down ${el.scrollHeight} > ${el.clientHeight}`);
      if (parseFloat(cs.fontSize) < 12) say(`has a ${cs.fontSize} font`);
      if (cs.textOverflow === "ellipsis") say("is cut with an ellipsis");
      if (!inside(r, frame)) say("leaves the box");
      if (!inside(r, view)) say("leaves the iframe");
      // Its lines, not its box: in the compact size the note flows under the checkbox.
      const range = document.createRange();
      range.selectNodeContents(el);
      const lines = [...range.getClientRects()];
      if (lines.some((l) => !apart(l, rect(brand)))) say("overlaps the brand");
      if (lines.some((l) => !apart(l, rect(check)))) say("overlaps the checkbox");
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Without Noto (make system installs it), CJK, Indic, Ethiopic and Thai text renders as
    # empty boxes of some width, and the measures mean nothing.
    fonts = ""
    if shutil.which("fc-list"):
        fonts = subprocess.run(["fc-list"], capture_output=True, text=True).stdout
    missing = [
        f for f in ("Noto Sans CJK", "Noto Sans Ethiopic", "Noto Sans Thai") if f not in fonts
    ]
    if missing:
        unavailable(f"fonts missing: {missing} (Debian's fonts-noto-core, fonts-noto-cjk)")
    yield from chromium_session()


@pytest.mark.parametrize("size", ["normal", "compact"])
def test_every_language_fits_the_box(browser: Any, live_server: LiveServer, size: str) -> None:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    problems: list[str] = []
    try:
        for code, strings in LOCALES.items():
            page.goto(
                f"{live_server.base_url}/1/frame?sitekey={live_server.sitekey}"
                f"&hl={code}&size={size}&theme={THEME}"
            )
            # Its language in place (the frame fetches it), and the fonts it needs loaded.
            page.wait_for_function("c => document.documentElement.lang === c", arg=code)
            assert page.locator("#label").text_content() == strings["human"], code
            page.evaluate("() => document.fonts.ready.then(() => null)")
            for line in page.evaluate(MEASURE, [states(strings), width, height]):
                problems.append(f"{code} {size}: {line}")
    finally:
        context.close()
    assert not errors
    assert not problems, "\n".join(problems)

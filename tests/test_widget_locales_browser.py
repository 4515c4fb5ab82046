"""The widget's language in real Chromium: hl first, then the page's <html lang>, then the
browser's languages, aliases and regional variants, English without a fetch, and the box
mirrored for right-to-left languages in every theme and size."""

from __future__ import annotations

import json
from typing import Any

import pytest

from passgate.widget import assets
from tests.browser import PageServer, Recorder, expect
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

THEMES = ("light", "dark", "contrast")
SIZES = ("normal", "compact")


def human(code: str) -> str:
    text: str = json.loads((assets.LOCALES / f"{code}.json").read_text("utf-8"))["human"]
    return text


def site_page(server: LiveServer, body: str, lang: str | None = "en", query: str = "") -> str:
    html_lang = "" if lang is None else f' lang="{lang}"'
    return (
        f'<!doctype html><html{html_lang}><head><meta charset="utf-8"><title>site</title>'
        f'<script src="{server.base_url}/1/api.js{query}" async defer></script></head>'
        f"<body>{body}</body></html>"
    )


def slot(server: LiveServer, name: str, **data: str) -> str:
    attrs = "".join(f' data-{k}="{v}"' for k, v in data.items())
    return f'<div id="{name}" class="h-captcha" data-sitekey="{server.sitekey}"{attrs}></div>'


def open_page(browser: Any, url: str, locale: str = "en-US") -> tuple[Any, Any, Recorder]:
    context = browser.new_context(locale=locale)
    page = context.new_page()
    rec = Recorder()
    rec.attach(context, page)
    page.goto(url)
    return context, page, rec


def expect_language(page: Any, name: str, code: str) -> None:
    ex = expect()
    frame = page.frame_locator(f"#{name} iframe")
    ex(frame.locator("html")).to_have_attribute("lang", code)
    ex(frame.locator("#label")).to_have_text(human(code))


# hl as the wrappers send it: aliases, regions, case and `_`, base-language fallback.
HL = {
    "de": "de",
    "de-AT": "de",
    "DE_ch": "de",
    "iw": "he",
    "no": "nb",
    "nb-NO": "nb",
    "nn": "nb",
    "nn-NO": "nb",
    "tl": "fil",
    "zh": "zh-Hans",
    "zh-CN": "zh-Hans",
    "zh-SG": "zh-Hans",
    "zh-TW": "zh-Hant",
    "zh_HK": "zh-Hant",
    "zh-Hant-MO": "zh-Hant",
    "pt": "pt",
    "pt-BR": "pt",
    "pt-PT": "pt-PT",
    "pt-AO": "pt-PT",
    "es": "es",
    "es-ES": "es",
    "es-MX": "es-419",
    "es-419": "es-419",
    "fr-CA": "fr-CA",
    "fr-BE": "fr",
    "en-GB": "en-GB",
    "fil": "fil",
    "sr-Cyrl-RS": "sr",
}


def test_hl_aliases_regions_and_base_languages(
    browser: Any, live_server: LiveServer, pages: PageServer
) -> None:
    cases = list(HL.items())
    body = "".join(slot(live_server, f"w{i}", hl=hl) for i, (hl, _) in enumerate(cases))
    url = pages.add("/hl-all.html", site_page(live_server, body, lang="ja"))
    context, page, rec = open_page(browser, url, locale="ko-KR")
    try:
        for i, (_, code) in enumerate(cases):
            expect_language(page, f"w{i}", code)
        assert not rec.page_errors and not [e for e in rec.console_errors if "CSP" in e]
        fetched = {u.rsplit("/", 1)[1].split(".")[0] for u in rec.requests if "/locales/" in u}
        assert fetched == set(HL.values())  # one file a language, none other
    finally:
        context.close()


@pytest.mark.parametrize(
    ("query", "hl", "html_lang", "locale", "code"),
    [
        ("?hl=fr", "", "ja", "ko-KR", "fr"),  # the script's hl beats the page's language
        ("?hl=fr", "de", "ja", "ko-KR", "de"),  # the widget's beats the script's
        ("", "", "ja", "ko-KR", "ja"),  # the page's <html lang>
        ("", "xx", "ja-JP", "ko-KR", "ja"),  # an hl it does not speak: the next choice
        ("", "", None, "ko-KR", "ko"),  # the browser's language
        ("", "", "", "pt-BR", "pt"),
        ("", "", "qq", "he-IL", "he"),
        ("", "xx", None, "en-US", "en"),  # nothing else: English
        ("?hl=xx", "", "yy", "gsw-CH", "en"),
    ],
)
def test_hl_then_html_lang_then_the_browser(
    browser: Any,
    live_server: LiveServer,
    pages: PageServer,
    query: str,
    hl: str,
    html_lang: str | None,
    locale: str,
    code: str,
) -> None:
    data = {"hl": hl} if hl else {}
    url = pages.add(
        "/choice.html", site_page(live_server, slot(live_server, "w", **data), html_lang, query)
    )
    context, page, rec = open_page(browser, url, locale=locale)
    try:
        expect_language(page, "w", code)
        locales = [u for u in rec.requests if "/locales/" in u]
        if code == "en":  # built in: nothing to fetch
            page.wait_for_timeout(300)
            assert not [u for u in rec.requests if "/locales/" in u]
        else:
            assert len(locales) == 1 and f"/locales/{code}." in locales[0]
        assert not rec.page_errors and not [e for e in rec.console_errors if "CSP" in e]
    finally:
        context.close()


def test_the_browser_languages_in_order(browser: Any, live_server: LiveServer) -> None:
    """navigator.languages, the first the widget speaks: a context gives just one, so the
    frame is opened with them replaced."""
    context = browser.new_context()
    context.add_init_script(
        "Object.defineProperty(navigator, 'languages', {get: () => ['xx-YY', 'gsw', 'nl-BE', "
        "'de']});"
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.base_url}/1/frame?sitekey={live_server.sitekey}&origin=null")
        expect()(page.locator("html")).to_have_attribute("lang", "nl")
        expect()(page.locator("#label")).to_have_text(human("nl"))
    finally:
        context.close()


def test_english_shows_at_once_and_stays_when_the_locale_cannot_load(
    browser: Any, live_server: LiveServer
) -> None:
    context = browser.new_context()
    context.route("**/1/static/locales/**", lambda route: route.abort())
    page = context.new_page()
    try:
        page.goto(f"{live_server.base_url}/1/frame?sitekey={live_server.sitekey}&hl=de")
        page.wait_for_timeout(300)
        assert page.locator("#label").text_content() == human("en")
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("html").get_attribute("dir") is None
    finally:
        context.close()


def box(locator: Any) -> dict[str, float]:
    b: dict[str, float] = locator.bounding_box()
    b["right"] = b["x"] + b["width"]
    return b


def test_right_to_left_languages_mirror_the_box(
    browser: Any, live_server: LiveServer, pages: PageServer
) -> None:
    """ar, he, fa and ur in every theme and size: the checkbox at the right, as far from the
    edge as English's from the left, the label to its left, the brand at the far left
    (normal) or its logo at the right of its words (compact), progress growing from the
    right."""
    rtl = ("ar", "he", "fa", "ur")
    body = "".join(
        slot(live_server, f"{code}-{t}-{s}", theme=t, size=s, hl=code)
        for code in ("en", *rtl)
        for t in THEMES
        for s in SIZES
    )
    url = pages.add("/rtl.html", site_page(live_server, body))
    context, page, rec = open_page(browser, url)
    try:
        for code in rtl:
            for t in THEMES:
                for s in SIZES:
                    name = f"{code}-{t}-{s}"
                    expect_language(page, name, code)
                    frame = page.frame_locator(f"#{name} iframe")
                    assert frame.locator("html").get_attribute("dir") == "rtl"
                    whole = box(page.locator(f"#{name} iframe"))
                    check, label = box(frame.locator("#box")), box(frame.locator("#label"))
                    logo, words = box(frame.locator(".logo")), box(frame.locator(".words"))
                    en = page.frame_locator(f"#en-{t}-{s} iframe")
                    assert en.locator("html").get_attribute("dir") is None
                    en_whole, en_check = (
                        box(page.locator(f"#en-{t}-{s} iframe")),
                        box(en.locator("#box")),
                    )
                    inset = en_check["x"] - en_whole["x"]
                    assert inset < 24 and abs(whole["right"] - check["right"] - inset) < 1, name
                    assert label["right"] <= check["x"] + 1, name
                    if s == "normal":
                        assert words["right"] <= label["x"] + 1, name
                        assert logo["x"] - whole["x"] < 80, name
                    else:
                        assert logo["x"] >= words["right"] - 1, name
                    left, right, width = frame.locator("#fill").evaluate(
                        "e => { e.parentNode.style.opacity = 1; e.style.width = '30%';"
                        " const r = e.getBoundingClientRect();"
                        " return [r.left, r.right, innerWidth]; }"
                    )
                    assert right >= width - 3 and left > width / 2, name
        assert not rec.page_errors and not [e for e in rec.console_errors if "CSP" in e]
    finally:
        context.close()


def test_the_frame_is_named_in_its_language(
    browser: Any, live_server: LiveServer, pages: PageServer
) -> None:
    """The iframe's accessible name (its title): English's until the frame knows its
    language, then "passgate: " and that language's `title`, sent by the frame."""
    title = json.loads((assets.LOCALES / "de.json").read_text("utf-8"))["title"]
    english = json.loads((assets.LOCALES / "en.json").read_text("utf-8"))["title"]
    body = slot(live_server, "de", hl="de") + slot(live_server, "en")
    url = pages.add("/title.html", site_page(live_server, body))
    context, page, rec = open_page(browser, url)
    try:
        expect_language(page, "de", "de")
        expect()(page.locator("#de iframe")).to_have_attribute("title", f"passgate: {title}")
        assert page.locator("#de iframe").get_attribute("lang") == "de"
        assert page.locator("#en iframe").get_attribute("title") == f"passgate: {english}"
        assert not rec.page_errors
    finally:
        context.close()

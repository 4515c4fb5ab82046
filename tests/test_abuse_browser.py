"""The score a real browser earns: stock headless Chromium driven by Playwright reports
`navigator.webdriver` (0.5 <= score < 0.7), the same browser with the automation flag off
scores nothing, and a page carrying ChromeDriver's marker is named for it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import ARGS, CHROMIUM, PageServer, unavailable, widget_page
from tests.conftest import LiveServer, start_server
from tests.test_widget_browser import new_site

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN_RE = re.compile(r"^P1_[\w-]+\.[\w-]+$")


@pytest.fixture(scope="module")
def browsers() -> Iterator[tuple[Any, Any]]:
    """Stock headless Chromium as Playwright starts it, and the same with the automation
    flag off (`navigator.webdriver` false), as a person's browser is."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is missing")
    with sync_playwright() as p:
        stock = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        person = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[*ARGS, "--disable-blink-features=AutomationControlled"],
            ignore_default_args=["--enable-automation"],
        )
        yield stock, person
        stock.close()
        person.close()


@pytest.fixture(scope="module")
def browser(browsers: tuple[Any, Any]) -> Any:
    return browsers[0]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own behind a trusted loopback proxy: each test's browser plays its
    own quiet network (X-Forwarded-For), whatever else the test session solved."""
    server = start_server(
        tmp_path_factory.mktemp("abuse-browser") / "data",
        {"PASSGATE_TRUSTED_PROXIES": "127.0.0.1"},
    )
    yield server
    server.process.terminate()
    server.process.wait(10)


NETWORKS = iter(f"198.51.{n}.7" for n in range(1, 250))


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


def _earn(browser: Any, url: str) -> str:
    from playwright.sync_api import expect

    context = browser.new_context(extra_http_headers={"X-Forwarded-For": next(NETWORKS)})
    try:
        page = context.new_page()
        page.goto(url)
        page.frame_locator("iframe").locator("#box").click()
        field = page.locator("textarea[name=h-captcha-response]")
        expect(field).to_have_value(TOKEN_RE, timeout=20_000)
        return str(field.input_value())
    finally:
        context.close()


def _score(server: LiveServer, secret: str, tok: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.post(
        server.base_url + "/siteverify", data={"secret": secret, "response": tok}
    ).json()
    assert body["success"] is True, body
    return body


def _page(server: LiveServer, pages: PageServer, name: str, sitekey: str, head: str = "") -> str:
    return pages.add(
        f"/{name}.html",
        widget_page(
            server.base_url + "/1/api.js",
            f'<form><div class="h-captcha" data-sitekey="{sitekey}"></div></form>',
            head,
        ),
    )


def test_playwrights_webdriver_flag_scores_between_half_and_point_seven(
    browser: Any, live_server: LiveServer, pages: PageServer
) -> None:
    site = new_site(live_server, 2000)
    body = _score(
        live_server,
        site["secret"],
        _earn(browser, _page(live_server, pages, "wd", site["sitekey"])),
    )
    assert 0.5 <= body["score"] < 0.7, body
    assert body["score_reason"] == ["proof_of_work", "automation_webdriver"]


def test_a_chromedriver_marker_on_the_page_is_named(
    browser: Any, live_server: LiveServer, pages: PageServer
) -> None:
    site = new_site(live_server, 2000)
    head = "<script>document.$cdc_asdjflasutopfhvcZLmcfl_ = {};</script>"
    url = _page(live_server, pages, "cdc", site["sitekey"], head)
    body = _score(live_server, site["secret"], _earn(browser, url))
    assert body["score"] < 0.7
    assert body["score_reason"] == ["proof_of_work", "automation_webdriver", "automation_marker"]


def test_without_automation_flags_a_person_scores_nothing(
    browsers: tuple[Any, Any], live_server: LiveServer, pages: PageServer
) -> None:
    site = new_site(live_server, 2000)
    url = _page(live_server, pages, "person", site["sitekey"])
    body = _score(live_server, site["secret"], _earn(browsers[1], url))
    assert body["score"] == 0.0 and body["score_reason"] == ["proof_of_work"], body

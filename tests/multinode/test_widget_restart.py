"""The widget in a real browser across a Redis flush: a challenge issued before the flush and
solved after it is refused once with `renew`, and the widget silently fetches a fresh one,
so the visitor sees a token, not an error."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.browser import (
    CALLBACK_ATTRS,
    RECORD_CALLBACKS,
    PageServer,
    Recorder,
    chromium_session,
    widget_page,
)

from .conftest import Cluster

pytestmark = [pytest.mark.multinode, pytest.mark.browser, pytest.mark.slow]

TOKEN_RE = re.compile(r"^P1_[\w-]+\.[\w-]+$")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium_session()


def test_widget_renews_a_challenge_issued_before_a_flush(browser: Any, cluster: Cluster) -> None:
    from playwright.sync_api import expect

    site = json.loads(
        cluster.cli("site", "add", "--hostname", "localhost", "--difficulty", "50", "--json")
    )
    pages = PageServer()
    context = browser.new_context()
    page = context.new_page()
    rec = Recorder()
    rec.attach(context, page)
    asked: list[dict[str, Any]] = []
    solves: list[int] = []
    page.on(
        "request",
        lambda r: (
            asked.append(json.loads(r.post_data or "{}"))
            if r.url.endswith("/1/challenge")
            else None
        ),
    )
    flusher = redis.Redis.from_url(cluster.stores.redis.url)

    def flush_before_the_first_solve(route: Any) -> None:
        if not solves:
            flusher.flushall()  # the challenge in this request now predates Redis's epoch
        solves.append(1)
        route.continue_()

    try:
        page.route(re.compile(r".*/1/solve$"), flush_before_the_first_solve)
        url = pages.add(
            "/restart.html",
            widget_page(
                cluster.urls[0] + "/1/api.js",
                f'<form><div id="w" class="h-captcha" data-sitekey="{site["sitekey"]}" '
                f"{CALLBACK_ATTRS}></div></form>",
                RECORD_CALLBACKS,
            ),
        )
        page.goto(url)
        page.frame_locator("iframe").locator("#box").click()
        field = page.locator("textarea[name=h-captcha-response]")
        expect(field).to_have_value(TOKEN_RE, timeout=20_000)
        events = page.evaluate("() => events")
        assert [e for e in events if e[0] == "error"] == []
        assert len(solves) == 2 and len(asked) == 2, (solves, asked)
        assert "renew" not in asked[0] and asked[1].get("renew") is True
        for base, answer in ((cluster.urls[1], True), (cluster.urls[2], False)):
            body = httpx.post(
                base + "/siteverify",
                data={"secret": site["secret"], "response": field.input_value()},
            ).json()
            assert body["success"] is answer, body
        assert rec.page_errors == []
    finally:
        flusher.close()
        context.close()
        pages.close()

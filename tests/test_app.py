"""The HTTP shell: script headers, error pages, health, and an access log without secrets."""

import logging

import pytest

from tests.conftest import SiteCreds, earn_token

pytestmark = pytest.mark.anyio


async def test_api_js_is_cacheable_and_cors_open(client) -> None:
    for path in ("/1/api.js", "/1/secure-api.js"):
        r = await client.get(path, headers={"accept-encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "*"
        assert "max-age=" in r.headers["cache-control"]
        assert r.headers["etag"]
        assert "javascript" in r.headers["content-type"]
        again = await client.get(path, headers={"if-none-match": r.headers["etag"]})
        assert again.status_code == 304


async def test_frame_has_its_own_csp(client) -> None:
    r = await client.get("/1/frame?sitekey=x")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]


async def test_unknown_paths_answer_json(client) -> None:
    r = await client.get("/nope")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await client.get("/1/static/../../etc/passwd")
    assert r.status_code == 404


async def test_health(client) -> None:
    assert (await client.get("/healthz")).json() == {"ok": True}
    assert (await client.get("/readyz")).json() == {"ok": True}


async def test_access_log_leaves_out_secrets(client, site: SiteCreds, caplog) -> None:
    earned = await earn_token(client, site.sitekey)
    with caplog.at_level(logging.INFO, logger="passgate.access"):
        await client.post(
            "/siteverify", params={"secret": site.secret, "response": earned["token"]}
        )
    text = caplog.text
    assert "POST /siteverify 200" in text
    assert site.secret not in text and earned["token"] not in text


async def test_a_failing_hot_endpoint_answers_json_500(client, monkeypatch) -> None:
    from passgate import hotpaths

    async def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setitem(hotpaths.HOT_POSTS, "/1/challenge", broken)
    r = await client.post("/1/challenge", json={})
    assert r.status_code == 500
    assert r.json()["error"] == "internal-error"
    assert "boom" not in r.text


async def test_a_client_that_leaves_mid_body_is_not_an_error(service, caplog) -> None:
    """No ERROR line and no traceback when the client hangs up before its body ends."""
    from passgate.app import create_app

    app = create_app(service, demo_site=None)
    sent: list[dict] = []
    messages = [
        {"type": "http.request", "body": b'{"sitekey"', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/1/challenge", "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"80")],
        "client": ("203.0.113.7", 5555), "server": ("passgate.test", 80), "scheme": "http",
        "root_path": "", "http_version": "1.1", "raw_path": b"/1/challenge",
    }  # fmt: skip
    with caplog.at_level("INFO", logger="passgate"):
        await app(scope, receive, send)
    assert sent == []  # nobody to answer
    assert not [r for r in caplog.records if r.levelname == "ERROR"]

"""`POST /api/wanda/hcaptcha/universal`: every field, every refusal, the body shape, and the
tokens it mints verifying once at siteverify."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from passgate import testkeys, token
from passgate.tokenapi.apikeys import ApiKeyRegistry
from passgate.tokenapi.records import RecordLog
from tests.conftest import SiteCreds
from tests.tokenapi_helpers import REFERER, add_key, grant, minted_count, universal

pytestmark = pytest.mark.anyio


def assert_shape(body: dict[str, Any]) -> None:
    assert set(body) == {"status", "msg", "id", "data", "cost"}
    assert body["status"] in (0, 1)
    assert isinstance(body["msg"], str) and body["msg"]
    assert isinstance(body["id"], str) and len(body["id"]) == 32
    assert body["cost"].endswith("ms") and float(body["cost"][:-2]) >= 0


async def test_mints_a_token_that_verifies_once(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    r = await universal(client, key.token, {"sitekey": site.sitekey, "referer": REFERER})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_shape(body)
    assert body["status"] == 1 and body["msg"] == "Success."
    assert set(body["data"]) == {"generated_pass_UUID"}
    tok = body["data"]["generated_pass_UUID"]
    assert tok.startswith("P1_")
    first = (await client.post("/siteverify", data={"secret": site.secret, "response": tok})).json()
    assert first["success"] is True
    assert first["hostname"] == "shop.example"
    assert first["score"] == 0.0 and first["score_reason"] == ["automation", "key_ci"]
    again = (await client.post("/siteverify", data={"secret": site.secret, "response": tok})).json()
    assert again == {"success": False, "error-codes": ["already-seen-response"]}


async def test_every_field(client, service, site: SiteCreds) -> None:
    key = add_key(service, "e2e.suite-1")
    grant(service, key, site.sitekey)
    service.sites.update(site.sitekey, bind_ip=True, token_lifetime=300)
    service.forget_sites()
    body = {
        "sitekey": site.sitekey,
        "referer": "https://www.shop.example/checkout?x=1",
        "rqdata": "opaque-rq",
        "domain": "api.hcaptcha.com",
        "proxy": "http://user:pw@198.51.100.9:3128",
        "region": "eu",
        "invisible": True,
        "need_ekey": True,
        # extra keys existing clients send are ignored
        "internal": False, "is_auth": True, "timeout": 30, "mode": "x", "user_agent": "UA",
        "cookies": {"a": "b"}, "unheard_of": [1, 2],
    }  # fmt: skip
    r = await universal(client, key.token, body, developer_id="dev-42")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    tok = token.decode(data["generated_pass_UUID"], service.ring)
    assert tok.hostname == "www.shop.example"
    assert tok.rqdata_sha256 == token.rqdata_digest("opaque-rq")
    assert tok.bound_ip == "198.51.100.9"
    assert tok.mode == "invisible"
    assert tok.source == "key:e2e.suite-1"
    assert tok.lifetime == 300
    assert data["ekey"] == token.response_key(tok, service.ring)
    rec = RecordLog(service.engine).get(r.json()["id"])
    assert rec is not None
    assert (rec.developer_id, rec.domain, rec.region, rec.proxy_ip) == (
        "dev-42", "api.hcaptcha.com", "eu", "198.51.100.9"
    )  # fmt: skip
    assert rec.token_id == tok.jti and rec.outcome == "ok"
    assert rec.referer_host == "www.shop.example"
    # the proxy's credentials are never kept
    assert "pw" not in repr(rec)
    verdict = await client.post(
        "/siteverify",
        data={"secret": site.secret, "response": data["generated_pass_UUID"],
              "remoteip": "198.51.100.9", "rqdata": "opaque-rq"},
    )  # fmt: skip
    v = verdict.json()
    assert v["success"] is True, v
    assert v["score_reason"] == ["automation", "key_e2e_suite_1"]
    assert v["rqdata_sha256"] == token.rqdata_digest("opaque-rq")


async def test_bind_ip_without_proxy_binds_the_caller(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    service.sites.update(site.sitekey, bind_ip=True)
    service.forget_sites()
    r = await universal(client, key.token, {"sitekey": site.sitekey, "referer": REFERER})
    tok = token.decode(r.json()["data"]["generated_pass_UUID"], service.ring)
    assert tok.bound_ip == "203.0.113.7"


async def test_no_binding_when_the_site_does_not_bind(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    body = {"sitekey": site.sitekey, "referer": REFERER, "proxy": "198.51.100.9:8080"}
    r = await universal(client, key.token, body)
    tok = token.decode(r.json()["data"]["generated_pass_UUID"], service.ring)
    assert tok.bound_ip is None and tok.mode == ""


@pytest.mark.parametrize(
    "proxy,ip",
    [
        ("198.51.100.9:8080", "198.51.100.9"),
        ("u:p@198.51.100.9:8080", "198.51.100.9"),
        ("socks5://198.51.100.9:1080", "198.51.100.9"),
        ("http://u:p@[2001:db8::1]:3128", "2001:db8::1"),
    ],
)
async def test_proxy_forms(client, service, site: SiteCreds, proxy: str, ip: str) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    r = await universal(
        client, key.token, {"sitekey": site.sitekey, "referer": REFERER, "proxy": proxy}
    )
    assert r.status_code == 200, r.text
    assert RecordLog(service.engine).get(r.json()["id"]).proxy_ip == ip  # type: ignore[union-attr]


BAD_BODIES = [
    ("not json", b"{nope"),
    ("not an object", b"[1, 2]"),
    ("no sitekey", {"referer": REFERER}),
    ("no referer", {"sitekey": "SITE"}),
    ("sitekey not a string", {"sitekey": 5, "referer": REFERER}),
    ("referer not a string", {"sitekey": "SITE", "referer": ["x"]}),
    ("referer not a URL", {"sitekey": "SITE", "referer": "ftp://shop.example/"}),
    ("rqdata not a string", {"sitekey": "SITE", "referer": REFERER, "rqdata": 1}),
    ("rqdata too long", {"sitekey": "SITE", "referer": REFERER, "rqdata": "x" * 5000}),
    ("domain not a string", {"sitekey": "SITE", "referer": REFERER, "domain": 1}),
    ("region not a string", {"sitekey": "SITE", "referer": REFERER, "region": {}}),
    ("proxy without port", {"sitekey": "SITE", "referer": REFERER, "proxy": "198.51.100.9"}),
    ("proxy port too big", {"sitekey": "SITE", "referer": REFERER, "proxy": "1.2.3.4:70000"}),
    ("proxy host name", {"sitekey": "SITE", "referer": REFERER, "proxy": "proxy.example:80"}),
    ("proxy scheme", {"sitekey": "SITE", "referer": REFERER, "proxy": "ftp://1.2.3.4:21"}),
    ("invisible not a bool", {"sitekey": "SITE", "referer": REFERER, "invisible": "yes"}),
    ("need_ekey not a bool", {"sitekey": "SITE", "referer": REFERER, "need_ekey": 2}),
    ("too large", b'{"sitekey": "' + b"x" * 20_000 + b'"}'),
]


@pytest.mark.parametrize("name,body", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
async def test_bad_input_is_400_with_the_shape(
    client, service, site: SiteCreds, name: str, body: Any
) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    if isinstance(body, dict) and body.get("sitekey") == "SITE":
        body = {**body, "sitekey": site.sitekey}
    r = await universal(client, key.token, body)
    assert r.status_code == 400, r.text
    b = r.json()
    assert_shape(b)
    assert b["status"] == 0 and b["data"] is None and b["msg"].startswith("Bad input")
    assert minted_count(service) == 0


async def test_developer_id_too_long_is_400(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    body = {"sitekey": site.sitekey, "referer": REFERER}
    r = await universal(client, key.token, body, developer_id="d" * 300)
    assert r.status_code == 400 and r.json()["status"] == 0


async def test_refusals(client, service, site: SiteCreds) -> None:
    """The contract's refusal table: each with its status, and nothing minted."""
    other, _ = service.sites.add(["elsewhere.example"], name="other")
    granted = add_key(service, "granted")
    grant(service, granted, site.sitekey)
    ungranted = add_key(service, "ungranted")
    revoked = add_key(service, "revoked")
    grant(service, revoked, site.sitekey)
    ApiKeyRegistry(service.engine).revoke("revoked")
    expired = add_key(service, "expired")
    grant(service, expired, site.sitekey, expires_at=time.time() - 1)
    ok = {"sitekey": site.sitekey, "referer": REFERER}
    nowhere = "4c9a8d3e-0000-4000-8000-000000000000"
    cases = [
        ("no key", None, ok, 401),
        ("empty key", "", ok, 401),
        ("unknown key", "pgk_" + "x" * 43, ok, 401),
        ("revoked key", revoked.token, ok, 401),
        ("no grant", ungranted.token, ok, 403),
        ("grant for another site", granted.token, {**ok, "sitekey": other.sitekey}, 403),
        ("expired grant", expired.token, ok, 403),
        ("referer not allowed", granted.token, {**ok, "referer": "https://evil.example/"}, 403),
        ("lookalike referer", granted.token, {**ok, "referer": "https://shop.example.evil/"}, 403),
        ("unknown sitekey", granted.token, {**ok, "sitekey": nowhere}, 403),
        ("not a sitekey", granted.token, {**ok, "sitekey": "abc"}, 403),
    ]  # fmt: skip
    for name, tok, body, status in cases:
        r = await universal(client, tok, body)
        assert r.status_code == status, (name, r.text)
        b = r.json()
        assert_shape(b)
        assert b["status"] == 0 and b["data"] is None, name
    assert minted_count(service) == 0
    codes = [r.outcome for r in RecordLog(service.engine).list(limit=100)]
    assert len(codes) == len(cases)  # every call leaves a record
    assert set(codes) == {
        "missing_key", "unknown_key", "revoked_key", "no_grant", "grant_expired",
        "referer_not_allowed", "unknown_sitekey",
    }  # fmt: skip


async def test_unknown_sitekey_is_refused_without_network(
    client, service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line: no code path reaches out to anyone else's CAPTCHA."""
    key = add_key(service)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the token API attempted a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    for sitekey in ("4c9a8d3e-0000-4000-8000-000000000000", "a5f74b19-9e45-40e0-b45d-47ff91b7a6c2"):
        body = {"sitekey": sitekey, "referer": "https://accounts.hcaptcha.com/demo"}
        r = await universal(client, key.token, body)
        assert r.status_code == 403
        assert r.json()["data"] is None
    assert minted_count(service) == 0


async def test_published_test_keys_need_no_grant(client, service) -> None:
    key = add_key(service)
    for test in testkeys.TEST_KEYS:
        body = {"sitekey": test.sitekey, "referer": "https://anything.example/", "need_ekey": True}
        r = await universal(client, key.token, body)
        assert r.status_code == 200, r.text
        assert r.json()["data"] == {"generated_pass_UUID": test.token, "ekey": "E0_" + test.token}
        v = await client.post(
            "/siteverify", data={"secret": testkeys.TEST_SECRET, "response": test.token}
        )
        assert v.json()["success"] is True
    r = await universal(client, None, {"sitekey": testkeys.TEST_KEYS[0].sitekey, "referer": "x"})
    assert r.status_code == 401  # but a valid key is still needed


async def test_msg_is_localized(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    body = {"sitekey": site.sitekey, "referer": REFERER}
    for lang, expect_zh in [
        ("zh-CN,zh;q=0.9,en;q=0.8", True),
        ("zh", True),
        ("en-US,en;q=0.9,zh;q=0.5", False),
        ("fr-FR,zh-CN;q=0.7,en;q=0.5", True),
        ("de", False),
        ("", False),
    ]:
        r = await universal(client, key.token, body, accept_language=lang)
        msg = r.json()["msg"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in msg) == expect_zh, (lang, msg)
        assert r.headers["content-type"].startswith("application/json")


async def test_rate_limit_429_with_retry_after(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey, rate=1, burst=2)
    body = {"sitekey": site.sitekey, "referer": REFERER}
    assert (await universal(client, key.token, body)).status_code == 200
    assert (await universal(client, key.token, body)).status_code == 200
    r = await universal(client, key.token, body)
    assert r.status_code == 429
    assert_shape(r.json())
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert minted_count(service) == 2


async def test_500_concurrent_calls(client, service, site: SiteCreds) -> None:
    """All tokens distinct, and exactly the burst passes (the rate refills 1 per minute)."""
    key = add_key(service)
    grant(service, key, site.sitekey, rate=1, burst=200)
    body = {"sitekey": site.sitekey, "referer": REFERER}
    started = time.perf_counter()
    answers = await asyncio.gather(*(universal(client, key.token, body) for _ in range(500)))
    elapsed = time.perf_counter() - started
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == 200 and statuses.count(429) == 300, elapsed
    tokens = [a.json()["data"]["generated_pass_UUID"] for a in answers if a.status_code == 200]
    jtis = {token.decode(t, service.ring).jti for t in tokens}
    assert len(jtis) == 200
    assert len({a.json()["id"] for a in answers}) == 500
    assert minted_count(service) == 200


async def test_store_unavailable_is_503(client, service, site: SiteCreds, monkeypatch) -> None:
    from passgate.store import StoreUnavailable
    from passgate.tokenapi import ratelimit

    key = add_key(service)
    grant(service, key, site.sitekey)

    async def down(*a: object, **k: object) -> None:
        raise StoreUnavailable("down")

    monkeypatch.setattr(ratelimit.SqliteRateLimiter, "take", down)
    r = await universal(client, key.token, {"sitekey": site.sitekey, "referer": REFERER})
    assert r.status_code == 503
    assert_shape(r.json())
    assert r.json()["data"] is None


async def test_records_visible_only_to_their_key(client, service, site: SiteCreds) -> None:
    mine, theirs = add_key(service, "mine"), add_key(service, "theirs")
    grant(service, mine, site.sitekey)
    r = await universal(client, mine.token, {"sitekey": site.sitekey, "referer": REFERER},
                        developer_id="dev-1")  # fmt: skip
    rid = r.json()["id"]
    got = await client.get(f"/api/records/{rid}", headers={"User-Token": mine.token})
    assert got.status_code == 200
    rec = got.json()["data"]
    assert rec["id"] == rid and rec["key"] == "mine" and rec["outcome"] == "ok"
    assert rec["sitekey"] == site.sitekey and rec["referer_host"] == "shop.example"
    assert rec["developer_id"] == "dev-1" and rec["cost"].endswith("ms")
    assert "generated_pass_UUID" not in got.text and "P1_" not in got.text
    other = await client.get(f"/api/records/{rid}", headers={"User-Token": theirs.token})
    assert other.status_code == 404 and other.json()["data"] is None
    nobody = await client.get(f"/api/records/{rid}")
    assert nobody.status_code == 401
    missing = await client.get("/api/records/nope", headers={"User-Token": mine.token})
    assert missing.status_code == 404


async def test_wrong_method_is_not_a_500(client) -> None:
    r = await client.get("/api/wanda/hcaptcha/universal")
    assert r.status_code == 405

"""POST /siteverify: every error code, the body encodings, single use under concurrency."""

import asyncio
import json
import time

import httpx
import pytest

from passgate import token
from passgate.service import Service
from passgate.siteverify import hcaptcha
from tests.conftest import SiteCreds, earn_token

pytestmark = pytest.mark.anyio

TEST_SECRET = "0x0000000000000000000000000000000000000000"


async def verify(client: httpx.AsyncClient, **form: str) -> dict:
    r = await client.post("/siteverify", data=form)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


async def test_success_has_the_contract_fields(client, site: SiteCreds) -> None:
    earned = await earn_token(client, site.sitekey)
    body = await verify(client, secret=site.secret, response=earned["token"])
    assert body["success"] is True
    assert body["hostname"] == "shop.example"
    assert body["credit"] is False
    assert body["score"] == 0.0 and body["score_reason"] == ["proof_of_work"]
    assert body["sitekey"] == site.sitekey
    ts = body["challenge_ts"]
    assert len(ts) == 24 and ts.endswith("Z") and ts[19] == "."
    assert "rqdata_sha256" not in body


async def test_empty_post_lists_both_missing_inputs(client) -> None:
    assert await verify(client) == {
        "success": False,
        "error-codes": ["missing-input-response", "missing-input-secret"],
    }


@pytest.mark.parametrize("secret", ["nope", "0x" + "1" * 40])
async def test_bad_or_unknown_secret(client, site: SiteCreds, secret: str) -> None:
    earned = await earn_token(client, site.sitekey)
    body = await verify(client, secret=secret, response=earned["token"])
    assert body["error-codes"] == ["invalid-input-secret"]
    # the token was not burnt by the failed attempt
    assert (await verify(client, secret=site.secret, response=earned["token"]))["success"]


@pytest.mark.parametrize("response", ["garbage", "P1_abc.def", "P1_" + "A" * 60 + ".xx"])
async def test_malformed_response(client, site: SiteCreds, response: str) -> None:
    body = await verify(client, secret=site.secret, response=response)
    assert body["error-codes"] == ["invalid-input-response"]


async def test_forged_token_is_invalid(client, service: Service, site: SiteCreds) -> None:
    from passgate.signing import KeyRing

    forged = token.encode(
        token.mint(site.sitekey, "shop.example", time.time(), 120),
        KeyRing({service.ring.current: b"x" * 32}, service.ring.current),
    )
    body = await verify(client, secret=site.secret, response=forged)
    assert body["error-codes"] == ["invalid-input-response"]


async def test_expired_token(client, service: Service, site: SiteCreds) -> None:
    old = token.encode(
        token.mint(site.sitekey, "shop.example", time.time() - 121, 120), service.ring
    )
    body = await verify(client, secret=site.secret, response=old)
    assert body["error-codes"] == ["expired-input-response"]


async def test_per_site_lifetime_is_honoured(client, service: Service, site: SiteCreds) -> None:
    service.sites.update(site.sitekey, token_lifetime=10)
    service.forget_sites()
    earned = await earn_token(client, site.sitekey)
    assert earned["expires_in"] == 10
    params = {"secret": site.secret, "response": earned["token"]}
    late = await hcaptcha.verify_params(service, params, now=time.time() + 11)
    assert late["error-codes"] == ["expired-input-response"]


async def test_replay_is_already_seen(client, site: SiteCreds) -> None:
    earned = await earn_token(client, site.sitekey)
    assert (await verify(client, secret=site.secret, response=earned["token"]))["success"]
    again = await verify(client, secret=site.secret, response=earned["token"])
    assert again["error-codes"] == ["already-seen-response"]


async def test_token_of_another_site_is_a_mismatch(
    client, service: Service, site: SiteCreds
) -> None:
    other, other_secret = service.sites.add(["other.example"], difficulty=1000)
    earned = await earn_token(client, other.sitekey, host="other.example")
    body = await verify(client, secret=site.secret, response=earned["token"])
    assert body["error-codes"] == ["sitekey-secret-mismatch"]
    assert (await verify(client, secret=other_secret, response=earned["token"]))["success"]


async def test_sitekey_parameter(client, service: Service, site: SiteCreds) -> None:
    earned = await earn_token(client, site.sitekey)
    body = await verify(client, secret=site.secret, response=earned["token"], sitekey="not-a-key")
    assert body["error-codes"] == ["invalid-sitekey"]
    other, _ = service.sites.add(["other.example"])
    body = await verify(client, secret=site.secret, response=earned["token"], sitekey=other.sitekey)
    assert body["error-codes"] == ["sitekey-secret-mismatch"]
    ok = await verify(client, secret=site.secret, response=earned["token"], sitekey=site.sitekey)
    assert ok["success"]


async def test_remoteip_rules(client, service: Service, site: SiteCreds) -> None:
    earned = await earn_token(client, site.sitekey)
    body = await verify(client, secret=site.secret, response=earned["token"], remoteip="999.1.1.1")
    assert body["error-codes"] == ["invalid-remoteip"]
    service.sites.update(site.sitekey, require_remoteip=True, bind_ip=True)
    service.forget_sites()
    body = await verify(client, secret=site.secret, response=earned["token"])
    assert body["error-codes"] == ["missing-remoteip"]
    # the client fixture solves from 203.0.113.7
    body = await verify(
        client, secret=site.secret, response=earned["token"], remoteip="198.51.100.9"
    )
    assert body["error-codes"] == ["invalid-remoteip"]
    body = await verify(
        client, secret=site.secret, response=earned["token"], remoteip="203.0.113.7"
    )
    assert body["success"]


async def test_rqdata_binding(client, site: SiteCreds) -> None:
    earned = await earn_token(client, site.sitekey, rqdata="transfer:42")
    body = await verify(client, secret=site.secret, response=earned["token"], rqdata="transfer:43")
    assert body["error-codes"] == ["rqdata-mismatch"]
    body = await verify(client, secret=site.secret, response=earned["token"], rqdata="transfer:42")
    assert body["success"]
    assert body["rqdata_sha256"] == token.rqdata_digest("transfer:42")


async def test_several_errors_at_once(client, site: SiteCreds) -> None:
    body = await verify(client, secret="bad", response="bad", remoteip="nope", sitekey="nope")
    assert set(body["error-codes"]) == {
        "invalid-input-secret",
        "invalid-input-response",
        "invalid-remoteip",
        "invalid-sitekey",
    }


async def test_all_three_encodings_and_query_string(client, site: SiteCreds) -> None:
    tokens = [(await earn_token(client, site.sitekey))["token"] for _ in range(4)]
    form = await client.post("/siteverify", data={"secret": site.secret, "response": tokens[0]})
    multipart = await client.post(
        "/siteverify", files={"secret": (None, site.secret), "response": (None, tokens[1])}
    )
    as_json = await client.post("/siteverify", json={"secret": site.secret, "response": tokens[2]})
    query = await client.post("/siteverify", params={"secret": site.secret, "response": tokens[3]})
    for r in (form, multipart, as_json, query):
        assert r.status_code == 200 and r.json()["success"] is True, r.text


@pytest.mark.parametrize(
    "kwargs",
    [
        {
            "content": b"x" * 20_000,
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
        {"content": b"<xml/>", "headers": {"content-type": "application/xml"}},
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"content": b"[1, 2]", "headers": {"content-type": "application/json"}},
        {
            "content": json.dumps({"secret": 5, "response": []}).encode(),
            "headers": {"content-type": "application/json"},
        },
        {"content": b"\xff\xfe", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        {
            "content": b"--x\r\nbroken",
            "headers": {"content-type": "multipart/form-data; boundary=x"},
        },
    ],
)
async def test_unreadable_bodies_are_bad_request(client, kwargs: dict) -> None:
    r = await client.post("/siteverify", **kwargs)
    assert r.status_code == 200
    assert r.json() == {"success": False, "error-codes": ["bad-request"]}


async def test_concurrent_verifications_give_exactly_one_success(client, site: SiteCreds) -> None:
    for _ in range(5):
        earned = await earn_token(client, site.sitekey)
        form = {"secret": site.secret, "response": earned["token"]}
        results = await asyncio.gather(*(client.post("/siteverify", data=form) for _ in range(40)))
        bodies = [r.json() for r in results]
        assert sum(b["success"] for b in bodies) == 1
        assert all(
            b["error-codes"] == ["already-seen-response"] for b in bodies if not b["success"]
        )


async def test_store_failure_fails_closed(client, service: Service, site: SiteCreds) -> None:
    earned = await earn_token(client, site.sitekey)
    await service.spends.close()  # the spend store is gone
    body = await verify(client, secret=site.secret, response=earned["token"])
    assert body == {"success": False, "error-codes": ["internal-error"]}


@pytest.mark.parametrize(
    ("sitekey", "tok", "extra"),
    [
        ("10000000-ffff-ffff-ffff-000000000001", "10000000-aaaa-bbbb-cccc-000000000001", {}),
        (
            "20000000-ffff-ffff-ffff-000000000002",
            "20000000-aaaa-bbbb-cccc-000000000002",
            {"score": 0, "score_reason": ["safe"]},
        ),
        (
            "30000000-ffff-ffff-ffff-000000000003",
            "30000000-aaaa-bbbb-cccc-000000000003",
            {"score": 1, "score_reason": ["bot"]},
        ),
    ],
)
async def test_published_test_keys(
    client, site: SiteCreds, sitekey: str, tok: str, extra: dict
) -> None:
    r = await client.post("/1/challenge", json={"sitekey": sitekey, "host": "anything.example"})
    assert r.json()["token"] == tok
    for _ in range(3):  # test tokens verify any number of times
        body = await verify(client, secret=TEST_SECRET, response=tok)
        assert body["success"] is True and body["hostname"] == "dummy-key-pass"
        assert body["credit"] is False
        for k, v in extra.items():
            assert body[k] == v
    real = await verify(client, secret=site.secret, response=tok)
    assert real == {
        "success": False,
        "error-codes": ["not-using-dummy-secret"],
        "hostname": "dummy-key-pass",
    }


async def test_test_sitekey_with_real_secret(client, site: SiteCreds) -> None:
    body = await verify(
        client,
        secret=site.secret,
        response="10000000-aaaa-bbbb-cccc-000000000001",
        sitekey="10000000-ffff-ffff-ffff-000000000001",
    )
    assert body["error-codes"] == ["not-using-dummy-secret"]
    earned = await earn_token(client, site.sitekey)
    body = await verify(
        client,
        secret=site.secret,
        response=earned["token"],
        sitekey="20000000-ffff-ffff-ffff-000000000002",
    )
    assert body["error-codes"] == ["not-using-dummy-passcode"]


async def test_removed_site_stops_verifying(client, service: Service, site: SiteCreds) -> None:
    earned = await earn_token(client, site.sitekey)
    service.sites.remove(site.sitekey)
    service.forget_sites()
    body = await verify(client, secret=site.secret, response=earned["token"])
    assert body["error-codes"] == ["invalid-input-secret"]


async def test_get_is_a_bad_request_not_an_error_page(client) -> None:
    r = await client.get("/siteverify")
    assert r.status_code == 200 and r.json()["error-codes"] == ["bad-request"]

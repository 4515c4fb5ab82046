"""Turnstile's and reCAPTCHA's siteverify over the one core: every error code, their test
keys, action/cData round trips, idempotency retries, single use across the three
endpoints; and /checksiteconfig."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from passgate.service import Service
from passgate.siteverify import recaptcha, turnstile
from tests.conftest import SiteCreds, earn_token

pytestmark = pytest.mark.anyio

TS, RC, HC = "/turnstile/v0/siteverify", "/recaptcha/api/siteverify", "/siteverify"


async def post(client: httpx.AsyncClient, path: str, **form: str) -> dict:
    r = await client.post(path, data=form)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    return r.json()  # type: ignore[no-any-return]


async def token_for(client: httpx.AsyncClient, site: SiteCreds, **bind: str) -> str:
    return str((await earn_token(client, site.sitekey, **bind))["token"])


# -- Turnstile -----------------------------------------------------------------------------


async def test_turnstile_success_then_timeout_or_duplicate(client, site: SiteCreds) -> None:
    tok = await token_for(client, site, interface="turnstile", action="login", cdata="s-1")
    body = await post(client, TS, secret=site.secret, response=tok)
    assert body["success"] is True and body["error-codes"] == []
    assert body["hostname"] == "shop.example" and body["metadata"] == {"interactive": False}
    assert (body["action"], body["cdata"]) == ("login", "s-1")
    assert body["score_reason"] == ["proof_of_work"] or body["score_reason"]
    ts = body["challenge_ts"]
    assert len(ts) == 24 and ts.endswith("Z")
    again = await post(client, TS, secret=site.secret, response=tok)
    assert again == {"success": False, "error-codes": ["timeout-or-duplicate"]}


@pytest.mark.parametrize(
    ("form", "codes"),
    [
        ({}, ["missing-input-response", "missing-input-secret"]),
        ({"secret": "SECRET"}, ["missing-input-response"]),
        ({"response": "x"}, ["invalid-input-response", "missing-input-secret"]),
        ({"secret": "0xnope", "response": "TOKEN"}, ["invalid-input-secret"]),
        ({"secret": "SECRET", "response": "P1_forged.sig"}, ["invalid-input-response"]),
        ({"secret": "SECRET", "response": "TOKEN", "idempotency_key": "nope"}, ["bad-request"]),
        ({"secret": "SECRET", "response": turnstile.DUMMY_TOKEN}, ["invalid-input-response"]),
    ],
)
async def test_turnstile_error_codes(client, site: SiteCreds, form, codes) -> None:
    tok = await token_for(client, site)
    filled = {k: v.replace("SECRET", site.secret).replace("TOKEN", tok) for k, v in form.items()}
    body = await post(client, TS, **filled)
    assert body["success"] is False
    assert sorted(body["error-codes"]) == sorted(codes)


async def test_turnstile_expired_is_timeout_or_duplicate(
    client, service: Service, site: SiteCreds
) -> None:
    tok = await token_for(client, site)
    params = {"secret": site.secret, "response": tok}
    late = await turnstile.answer(service, params, time.time() + 10_000)
    assert late["error-codes"] == ["timeout-or-duplicate"]


async def test_turnstile_bad_bodies_are_bad_request(client) -> None:
    r = await client.post(TS, content=b"\xff", headers={"content-type": "text/plain"})
    assert r.json() == {"success": False, "error-codes": ["bad-request"]}
    r = await client.post(TS, content=b"{", headers={"content-type": "application/json"})
    assert r.json()["error-codes"] == ["bad-request"]


async def test_turnstile_json_body(client, site: SiteCreds) -> None:
    tok = await token_for(client, site)
    r = await client.post(TS, json={"secret": site.secret, "response": tok})
    assert r.json()["success"] is True


async def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(
    client, site: SiteCreds
) -> None:
    tok = await token_for(client, site)
    key = str(uuid.uuid4())
    first = await post(client, TS, secret=site.secret, response=tok, idempotency_key=key)
    retry = await post(client, TS, secret=site.secret, response=tok, idempotency_key=key)
    assert first["success"] is True and retry == first
    other = await post(client, TS, secret=site.secret, response=tok,
                       idempotency_key=str(uuid.uuid4()))  # fmt: skip
    assert other["error-codes"] == ["timeout-or-duplicate"]
    plain = await post(client, RC, secret=site.secret, response=tok)
    assert plain["error-codes"] == ["timeout-or-duplicate"]


async def test_concurrent_first_requests_with_one_key_answer_alike(
    client, site: SiteCreds
) -> None:
    tok = await token_for(client, site)
    key = str(uuid.uuid4())
    answers = await asyncio.gather(
        *(post(client, TS, secret=site.secret, response=tok, idempotency_key=key)
          for _ in range(8))
    )  # fmt: skip
    assert all(a == answers[0] for a in answers) and answers[0]["success"] is True


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("1x0000000000000000000000000000000AA", None),
        ("2x0000000000000000000000000000000AA", ["invalid-input-response"]),
        ("3x0000000000000000000000000000000AA", ["timeout-or-duplicate"]),
    ],
)
async def test_turnstile_test_secrets(client, secret, expected) -> None:
    testing = {"result_with_testing_key": True}
    for _ in range(2):  # answered the same way every time
        body = await post(client, TS, secret=secret, response=turnstile.DUMMY_TOKEN)
        if expected is None:
            assert body["success"] is True and body["hostname"] == "example.com"
            assert body["metadata"] == testing
        else:
            assert body == {"success": False, "error-codes": expected, "metadata": testing}
    other = await post(client, TS, secret=secret, response="not-the-dummy")
    if expected is None:  # documented: test secrets take only the dummy token
        assert other == {"success": False, "error-codes": ["invalid-input-secret"]}


@pytest.mark.parametrize(
    ("sitekey", "passes"),
    [(k, v[0]) for k, v in turnstile.TEST_SITEKEYS.items()],
)
async def test_turnstile_test_sitekeys_hand_out_the_dummy_token(client, sitekey, passes) -> None:
    r = await client.post("/1/challenge", json={"sitekey": sitekey, "host": "any.example"})
    if passes:
        assert r.status_code == 200 and r.json()["token"] == turnstile.DUMMY_TOKEN
    else:
        assert r.status_code == 400 and r.json()["error"] == "challenge-error"


# -- reCAPTCHA -----------------------------------------------------------------------------


async def test_recaptcha_success_has_score_and_action(client, site: SiteCreds) -> None:
    tok = await token_for(client, site, interface="recaptcha", action="signup/submit")
    body = await post(client, RC, secret=site.secret, response=tok, remoteip="203.0.113.7")
    assert body["success"] is True
    assert body["score"] == 1.0 and body["action"] == "signup/submit"
    assert body["hostname"] == "shop.example" and body["challenge_ts"].endswith("Z")
    again = await post(client, RC, secret=site.secret, response=tok)
    assert again == {"success": False, "error-codes": ["timeout-or-duplicate"]}


@pytest.mark.parametrize(
    ("form", "codes"),
    [
        ({}, ["missing-input-response", "missing-input-secret"]),
        ({"secret": "SECRET"}, ["missing-input-response"]),
        ({"secret": "0xnope", "response": "TOKEN"}, ["invalid-input-secret"]),
        ({"secret": "SECRET", "response": "garbage"}, ["invalid-input-response"]),
    ],
)  # fmt: skip
async def test_recaptcha_error_codes(client, site: SiteCreds, form, codes) -> None:
    tok = await token_for(client, site)
    filled = {k: v.replace("SECRET", site.secret).replace("TOKEN", tok) for k, v in form.items()}
    body = await post(client, RC, **filled)
    assert body["success"] is False and sorted(body["error-codes"]) == sorted(codes)


@pytest.mark.parametrize("path", [TS, RC])
async def test_a_remoteip_that_is_not_an_address_is_ignored(client, site: SiteCreds, path) -> None:
    tok = await token_for(client, site)
    body = await post(client, path, secret=site.secret, response=tok, remoteip="None")
    assert body["success"] is True


async def test_recaptcha_verifies_with_get_too(client, site: SiteCreds) -> None:
    tok = await token_for(client, site)
    r = await client.get(RC, params={"secret": site.secret, "response": tok})
    assert r.json()["success"] is True and "action" not in r.json()
    r = await client.get(HC, params={"secret": site.secret, "response": tok})
    assert r.json()["error-codes"] == ["already-seen-response"]
    assert (await client.get(TS)).json() == {"success": False, "error-codes": ["bad-request"]}


async def test_recaptcha_bad_request(client) -> None:
    r = await client.post(RC, content=b"<x/>", headers={"content-type": "application/xml"})
    assert r.json() == {"success": False, "error-codes": ["bad-request"]}


async def test_recaptcha_score_is_the_complement_of_the_risk(client, site: SiteCreds) -> None:
    tok = await token_for(client, site, automation={"webdriver": True})
    hc = await post(client, HC, secret=site.secret, response=tok)
    assert hc["success"] is True and hc["score"] > 0
    tok2 = await token_for(client, site, automation={"webdriver": True})
    rc = await post(client, RC, secret=site.secret, response=tok2)
    assert rc["score"] == pytest.approx(1 - hc["score"], abs=0.011)


async def test_the_recaptcha_test_pair_always_passes(client) -> None:
    for response in ("anything", recaptcha.TEST_TOKEN):
        body = await post(client, RC, secret=recaptcha.TEST_SECRET, response=response)
        assert body["success"] is True and body["score"] == 1.0
        assert body["hostname"] == "testkey.google.com" and "action" not in body
    r = await client.post(
        "/1/challenge", json={"sitekey": recaptcha.TEST_SITEKEY, "host": "any.example"}
    )
    assert r.json()["token"] == recaptcha.TEST_TOKEN


# -- across the three ----------------------------------------------------------------------


@pytest.mark.parametrize("earned_by", ["hcaptcha", "turnstile", "recaptcha"])
@pytest.mark.parametrize("first", [HC, TS, RC])
async def test_any_token_verifies_once_across_the_three(
    client, site: SiteCreds, earned_by, first
) -> None:
    tok = await token_for(client, site, interface=earned_by)
    ok = await post(client, first, secret=site.secret, response=tok)
    assert ok["success"] is True
    replies = {p: await post(client, p, secret=site.secret, response=tok) for p in (HC, TS, RC)}
    assert replies[HC]["error-codes"] == ["already-seen-response"]
    assert replies[TS]["error-codes"] == ["timeout-or-duplicate"]
    assert replies[RC]["error-codes"] == ["timeout-or-duplicate"]


async def test_bindings_are_refused_when_the_interface_does_not_allow_them(
    client, site: SiteCreds
) -> None:
    ch = await client.post("/1/challenge", json={"sitekey": site.sitekey, "host": "shop.example"})
    for bad in (
        {"interface": "turnstile", "action": "x" * 33},
        {"interface": "turnstile", "action": "a b"},
        {"interface": "turnstile", "cdata": "c" * 256},
        {"interface": "recaptcha", "cdata": "x"},
        {"interface": "hcaptcha", "action": "login"},
        {"interface": "other"},
    ):
        r = await client.post("/1/solve", json={"challenge": ch.json()["challenge"], **bad})
        assert r.status_code == 400 and r.json()["error"] == "invalid-data", bad


# -- /checksiteconfig ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_checksiteconfig(client, site: SiteCreds, method) -> None:
    async def ask(**q: str) -> dict:
        r = await client.request(method, "/checksiteconfig", params={**q, "v": "x", "sc": "1"})
        assert r.status_code == 200
        return r.json()  # type: ignore[no-any-return]

    assert await ask(host="shop.example", sitekey=site.sitekey) == {"pass": True}
    assert await ask(host="www.shop.example", sitekey=site.sitekey) == {"pass": True}
    refused = await ask(host="evil.example", sitekey=site.sitekey)
    assert refused["pass"] is False and "host not allowed" in refused["error"]
    unknown = await ask(host="shop.example", sitekey=str(uuid.uuid4()))
    assert unknown == {"pass": False, "error": "unknown sitekey"}
    assert (await ask(host="shop.example"))["error"] == "missing sitekey"
    assert (await ask(sitekey=site.sitekey))["error"] == "missing host"
    test = await ask(host="anywhere.example", sitekey="10000000-ffff-ffff-ffff-000000000001")
    assert test == {"pass": True}


async def test_an_idempotent_retry_needs_the_sites_own_secret(
    client, service: Service, site: SiteCreds
) -> None:
    other, other_secret = service.sites.add(["other.example"], name="other", difficulty=1000)
    tok = await token_for(client, site, interface="turnstile", action="login", cdata="c")
    key = str(uuid.uuid4())
    first = await post(client, TS, secret=site.secret, response=tok, idempotency_key=key)
    assert first["success"] is True
    for secret in (other_secret, "0x" + "ab" * 20, ""):
        form = {"response": tok, "idempotency_key": key, **({"secret": secret} if secret else {})}
        retry = await post(client, TS, **form)
        assert retry["success"] is False, secret
        assert "action" not in retry and "cdata" not in retry
    again = await post(client, TS, secret=site.secret, response=tok, idempotency_key=key)
    assert again == first


@pytest.mark.parametrize("path", [TS, RC])
async def test_a_store_that_cannot_confirm_the_spend_is_internal_error(
    client, service: Service, site: SiteCreds, path, monkeypatch
) -> None:
    from passgate.store import StoreUnavailable

    tok = await token_for(client, site)

    async def down(*args: object, **kwargs: object) -> bool:
        raise StoreUnavailable("down")

    monkeypatch.setattr(service.spends, "spend", down)
    body = await post(client, path, secret=site.secret, response=tok)
    assert body == {"success": False, "error-codes": ["internal-error"]}
    monkeypatch.undo()
    assert (await post(client, path, secret=site.secret, response=tok))["success"] is True


async def test_an_idempotency_store_that_is_down_is_internal_error(
    client, site: SiteCreds, monkeypatch
) -> None:
    from passgate.store import StoreUnavailable
    from passgate.store.idempotency import IdempotencyStore

    def down(self: object, *args: object) -> None:
        raise StoreUnavailable("down")

    monkeypatch.setattr(IdempotencyStore, "get", down)
    tok = await token_for(client, site)
    form = {"secret": site.secret, "response": tok, "idempotency_key": str(uuid.uuid4())}
    assert (await post(client, TS, **form))["error-codes"] == ["internal-error"]
    monkeypatch.undo()
    assert (await post(client, TS, **form))["success"] is True  # nothing was spent


async def test_verified_tokens_are_counted_by_the_interface_that_earned_them(
    client, service: Service, site: SiteCreds
) -> None:
    from passgate import stats

    service.stats.drain()
    for earned_by, path in (("turnstile", RC), ("recaptcha", HC), ("turnstile", TS)):
        tok = await token_for(client, site, interface=earned_by)
        assert (await post(client, path, secret=site.secret, response=tok))["success"] is True
    rows = [stats.Row(k[0], stats.MINUTE, k[1], k[2], k[3], n)
            for k, n in service.stats.drain().items()]  # fmt: skip
    report = stats.summarize(rows, time.time(), 300, 0, time.time() + 60)
    assert report["total"]["verified"]["by_interface"] == {"recaptcha": 1, "turnstile": 2}
    by_endpoint = report["total"]["siteverify"]["by_interface"]
    assert {i: c["success"] for i, c in by_endpoint.items()} == {
        "hcaptcha": 1, "recaptcha": 1, "turnstile": 1,
    }

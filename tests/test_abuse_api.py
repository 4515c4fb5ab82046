"""Abuse resistance through the HTTP endpoints, in process: a source escalating, quiet
sources untouched, renewals, the allow-list, adaptation off, a store outage, the
untrusted-proxy warning, the score in siteverify, and the admin API's site settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from passgate import challenge, settings
from passgate.abuse.counters import MemoryCounters
from passgate.app import create_app
from passgate.service import Service, build
from passgate.store import StoreUnavailable

pytestmark = pytest.mark.anyio

BASE = 256
HOST = "shop.example"


@pytest.fixture
async def proxied(tmp_path) -> AsyncIterator[tuple[Service, httpx.AsyncClient]]:
    """A node behind a trusted loopback proxy: X-Forwarded-For plays the client."""
    config = settings.load(
        env={"PASSGATE_TRUSTED_PROXIES": "127.0.0.1"}, data_dir=str(tmp_path / "data")
    )
    service = build(config)
    transport = httpx.ASGITransport(app=create_app(service), client=("127.0.0.1", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://passgate.test") as c:
        yield service, c
    await service.close()


def new_site(service: Service, **abuse: Any) -> tuple[str, str]:
    site, secret = service.sites.add(
        [HOST], difficulty=BASE, **{"max_difficulty": 1000 * BASE, **abuse}
    )
    return site.sitekey, secret


async def fetch(client: httpx.AsyncClient, sitekey: str, ip: str, **extra: Any) -> dict:
    r = await client.post(
        "/1/challenge",
        json={"sitekey": sitekey, "host": HOST, **extra},
        headers={"X-Forwarded-For": ip},
    )
    assert r.status_code == 200, r.text
    body: dict = r.json()
    return body


def nonces(sitekey: str, data: dict) -> list[int]:
    ch = challenge.Challenge(
        sitekey, HOST, data["salt"], data["difficulty"], data["parts"], data["expires"]
    )
    return challenge.solve(ch)


async def solve(
    client: httpx.AsyncClient, sitekey: str, data: dict, ip: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        "/1/solve",
        json={"challenge": data["challenge"], "nonces": nonces(sitekey, data), **extra},
        headers={"X-Forwarded-For": ip},
    )


async def earn(client: httpx.AsyncClient, sitekey: str, ip: str, **extra: Any) -> tuple[int, str]:
    """(difficulty paid, token) for one solve from `ip`."""
    data = await fetch(client, sitekey, ip)
    r = await solve(client, sitekey, data, ip, **extra)
    assert r.status_code == 200, r.text
    return data["difficulty"], r.json()["token"]


async def verify(client: httpx.AsyncClient, secret: str, tok: str) -> dict:
    body: dict = (await client.post("/siteverify", data={"secret": secret, "response": tok})).json()
    return body


async def test_a_source_escalates_and_scores_while_quiet_ones_do_not(proxied) -> None:
    service, client = proxied
    sitekey, secret = new_site(service)
    paid, scores = [], []
    for i in range(30):
        price, tok = await earn(client, sitekey, f"203.0.113.{i % 200}")
        body = await verify(client, secret, tok)
        assert body["success"] is True
        paid.append(price)
        scores.append(body["score"])
        assert "proof_of_work" in body["score_reason"]
    assert paid[0] == BASE and paid[1] / paid[0] < 1.2
    assert paid[9] / paid[0] <= 2 and paid[-1] > 2 * paid[9]  # rising with the solves
    assert scores[0] == 0.0 and all(s >= 0.7 for s in scores[10:]), scores
    # a quiet prefix in another network pays the base and scores nothing
    price, tok = await earn(client, sitekey, "198.51.100.4")
    assert price == BASE
    assert (await verify(client, secret, tok))["score"] == 0.0
    # a sibling prefix shares the parent: a little dearer, not the attacked price
    sibling = (await fetch(client, sitekey, "203.0.114.9"))["difficulty"]
    assert BASE < sibling < paid[-1]


async def test_the_mapped_form_is_the_same_source(proxied) -> None:
    service, client = proxied
    sitekey, _ = new_site(service)
    for _ in range(12):
        await earn(client, sitekey, "203.0.113.7")
    assert (await fetch(client, sitekey, "::ffff:203.0.113.99"))["difficulty"] > 2 * BASE


async def test_a_solution_from_another_network_is_renewed(proxied) -> None:
    service, client = proxied
    sitekey, _ = new_site(service)
    data = await fetch(client, sitekey, "203.0.113.7")
    r = await solve(client, sitekey, data, "198.51.100.7")
    assert r.status_code == 400
    assert r.json()["error"] == "challenge-error" and r.json()["renew"] is True
    assert (await solve(client, sitekey, data, "203.0.113.8")).status_code == 400  # spent


async def test_challenges_fetched_in_bulk_are_renewed_once_underpriced(proxied) -> None:
    service, client = proxied
    sitekey, _ = new_site(service)
    batch = [await fetch(client, sitekey, "203.0.113.7") for _ in range(40)]
    assert {d["difficulty"] for d in batch} == {BASE}
    answers = [(await solve(client, sitekey, d, "203.0.113.7")).status_code for d in batch]
    assert answers[:10] == [200] * 10  # the price has not yet doubled
    assert answers.count(400) >= 25, answers  # then every cheap one is sent back


async def test_tampering_is_refused_not_renewed(proxied) -> None:
    service, client = proxied
    sitekey, _ = new_site(service)
    data = await fetch(client, sitekey, "203.0.113.7")
    signed, _, sig = data["challenge"].rpartition(".")
    fields = signed.split("|")
    for i in (3, 5, 8):  # difficulty, issue time, prefix
        forged = dict(data, challenge="|".join(fields[:i] + ["1"] + fields[i + 1 :]) + "." + sig)
        r = await solve(client, sitekey, forged, "203.0.113.7")
        assert r.status_code == 400 and "renew" not in r.json(), r.text
    ok = await solve(client, sitekey, data, "203.0.113.7")
    assert ok.status_code == 200
    replay = await solve(client, sitekey, data, "203.0.113.7")
    assert replay.status_code == 400 and replay.json()["error"] == "challenge-error"


async def test_allowlist_and_adaptation_off_pay_the_base(proxied) -> None:
    service, client = proxied
    listed, secret = new_site(service, allowlist=["203.0.113.0/24"])
    fixed, fixed_secret = new_site(service, adaptive=False)
    for _ in range(20):
        assert (await earn(client, listed, "203.0.113.7"))[0] == BASE
        assert (await earn(client, fixed, "198.51.100.7"))[0] == BASE
    _, tok = await earn(client, listed, "203.0.113.7", automation={"webdriver": True})
    body = await verify(client, secret, tok)
    assert body["score"] == 0.0 and body["score_reason"] == ["proof_of_work", "allowlisted"]
    _, tok = await earn(client, fixed, "198.51.100.7")
    assert (await verify(client, fixed_secret, tok))["score"] >= 0.7  # still scored


async def test_markers_score_and_bad_markers_are_refused(proxied) -> None:
    service, client = proxied
    sitekey, secret = new_site(service)
    _, tok = await earn(client, sitekey, "203.0.113.7", automation={"webdriver": True})
    body = await verify(client, secret, tok)
    assert 0.5 <= body["score"] < 0.7
    assert body["score_reason"] == ["proof_of_work", "automation_webdriver"]
    for bad in ({"webdriver": "yes"}, ["webdriver"], "webdriver"):
        data = await fetch(client, sitekey, "203.0.113.7")
        r = await solve(client, sitekey, data, "203.0.113.7", automation=bad)
        assert r.status_code == 400 and r.json()["error"] == "invalid-data"


class Broken(MemoryCounters):
    async def read(self, source, now):  # type: ignore[no-untyped-def]
        raise StoreUnavailable("down")

    async def charge(self, source, now):  # type: ignore[no-untyped-def]
        raise StoreUnavailable("down")


async def test_a_counter_outage_closes_the_gate_and_loses_no_spend(proxied) -> None:
    service, client = proxied
    sitekey, secret = new_site(service)
    _, before = await earn(client, sitekey, "203.0.113.7")
    service.counters = Broken()
    data = await fetch(client, sitekey, "198.51.100.7")
    assert data["difficulty"] == 1000 * BASE  # the site's cap
    small = await fetch(client, sitekey, "198.51.100.7")
    r = await solve(client, sitekey, small, "198.51.100.7")
    assert r.status_code == 503 and r.json()["error"] == "network-error"
    assert (await verify(client, secret, before))["success"] is True  # spends unaffected
    assert (await verify(client, secret, before))["error-codes"] == ["already-seen-response"]


async def test_untrusted_forwarded_for_warns_in_readyz(client) -> None:
    assert (await client.get("/readyz")).json() == {"ok": True}
    await client.post(
        "/1/challenge",
        json={"sitekey": "00000000-0000-0000-0000-000000000000", "host": HOST},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"ok": True, "warnings": ["untrusted_forwarded_for"]}


async def test_admin_api_lists_and_patches_site_settings(proxied) -> None:
    service, client = proxied
    from passgate.tokenapi.admin import new_admin_token

    auth = {"Authorization": "Bearer " + new_admin_token(service.engine)}
    sitekey, _ = new_site(service)
    listed = (await client.get("/api/admin/sites", headers=auth)).json()
    assert listed["ok"] is True
    (mine,) = [s for s in listed["sites"] if s["sitekey"] == sitekey]
    assert mine["adaptive"] is True and mine["max_difficulty"] == 1000 * BASE
    assert "secret_hash" not in mine
    patch = {"adaptive": False, "prefix_v4": 28, "allowlist": ["192.0.2.0/24"]}
    r = await client.patch(f"/api/admin/sites/{sitekey}", json=patch, headers=auth)
    assert r.status_code == 200, r.text
    site = r.json()["site"]
    assert site["adaptive"] is False and site["prefix_v4"] == 28
    assert site["allowlist"] == ["192.0.2.0/24"]
    for bad, status in (
        ({"prefix_v4": 12}, 400),
        ({"allowlist": ["office"]}, 400),
        ({"max_difficulty": 10}, 400),  # below the base
        ({"adaptive": "yes"}, 400),
        ({"color": "red"}, 400),
    ):
        r = await client.patch(f"/api/admin/sites/{sitekey}", json=bad, headers=auth)
        assert r.status_code == status, (bad, r.text)
        assert r.json()["ok"] is False and r.json()["error"] == "invalid_input"
        assert r.json()["message"]
    r = await client.patch("/api/admin/sites/nope", json={"adaptive": True}, headers=auth)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await client.get("/api/admin/sites")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"

"""POST /1/challenge and /1/solve: what the iframe calls, and every way to get them wrong."""

import pytest

from passgate import challenge
from passgate.service import Service
from tests.conftest import SiteCreds

pytestmark = pytest.mark.anyio


async def fetch(client, sitekey: str, host: str = "shop.example") -> dict:
    r = await client.post("/1/challenge", json={"sitekey": sitekey, "host": host})
    assert r.status_code == 200, r.text
    return r.json()


def solved(data: dict, sitekey: str, host: str = "shop.example") -> list[int]:
    ch = challenge.Challenge(
        sitekey, host, data["salt"], data["difficulty"], data["parts"], data["expires"]
    )
    return challenge.solve(ch)


async def test_challenge_carries_the_site_difficulty(
    client, service: Service, site: SiteCreds
) -> None:
    service.sites.update(site.sitekey, difficulty=3000)
    service.forget_sites()
    data = await fetch(client, site.sitekey)
    assert data["difficulty"] == 3000
    assert data["challenge"].startswith("C2.")


async def test_subdomains_of_allowed_hosts_pass(client, site: SiteCreds) -> None:
    await fetch(client, site.sitekey, host="www.shop.example")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"sitekey": "x"}, 400, "invalid-data"),
        ({"sitekey": "not-a-sitekey", "host": "shop.example"}, 400, "invalid-data"),
        (
            {"sitekey": "00000000-0000-4000-8000-000000000000", "host": "shop.example"},
            403,
            "invalid-data",
        ),
        ({"sitekey": "SITE", "host": "evil.example"}, 403, "invalid-data"),
        ({"sitekey": "SITE", "host": "http://x/y"}, 400, "invalid-data"),
    ],
)
async def test_challenge_refusals(
    client, site: SiteCreds, body: dict, status: int, code: str
) -> None:
    body = {k: (site.sitekey if v == "SITE" else v) for k, v in body.items()}
    r = await client.post("/1/challenge", json=body)
    assert r.status_code == status
    assert r.json()["error"] == code and r.json()["message"]
    assert r.headers["access-control-allow-origin"] == "*"


async def test_non_json_and_oversized_bodies(client) -> None:
    r = await client.post(
        "/1/challenge", content=b"nope", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid-data"
    r = await client.post("/1/challenge", content=b"{" + b" " * 20_000 + b"}")
    assert r.status_code == 413


async def test_wrong_solution_is_refused(client, site: SiteCreds) -> None:
    data = await fetch(client, site.sitekey)
    nonces = solved(data, site.sitekey)
    nonces[0] = next(
        n for n in range(10**6) if challenge.attempt(data["salt"], 0, n) >= data["threshold"]
    )
    r = await client.post("/1/solve", json={"challenge": data["challenge"], "nonces": nonces})
    assert r.status_code == 400 and r.json()["error"] == "challenge-error"


async def test_replayed_solution_is_refused(client, site: SiteCreds) -> None:
    data = await fetch(client, site.sitekey)
    body = {"challenge": data["challenge"], "nonces": solved(data, site.sitekey)}
    assert (await client.post("/1/solve", json=body)).status_code == 200
    again = await client.post("/1/solve", json=body)
    assert again.status_code == 400 and "already" in again.json()["message"]


async def test_tampered_challenge_is_refused(client, site: SiteCreds) -> None:
    data = await fetch(client, site.sitekey)
    text = data["challenge"]
    forged = text[:-3] + ("AAA" if text[-3:] != "AAA" else "BBB")
    r = await client.post(
        "/1/solve", json={"challenge": forged, "nonces": solved(data, site.sitekey)}
    )
    assert r.status_code == 400 and r.json()["error"] == "challenge-error"


@pytest.mark.parametrize(
    "extra", [{"rqdata": 5}, {"rqdata": "x" * 5000}, {"mode": "loud"}, {"nonces": "1,2"}]
)
async def test_bad_solve_fields(client, site: SiteCreds, extra: dict) -> None:
    data = await fetch(client, site.sitekey)
    body = {"challenge": data["challenge"], "nonces": solved(data, site.sitekey), **extra}
    r = await client.post("/1/solve", json=body)
    assert r.status_code == 400


async def test_preflight_answers_any_origin(client) -> None:
    r = await client.options(
        "/1/challenge",
        headers={"origin": "https://shop.example", "access-control-request-method": "POST"},
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"

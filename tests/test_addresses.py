"""passgate.addresses: one form per address, IPv4-mapped IPv6 folded to IPv4 wherever an
address enters (siteverify's remoteip, the solver's address, X-Forwarded-For hops, trusted
proxies, the token API's proxy)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from passgate import addresses, challenge, settings, token
from passgate.app import create_app
from passgate.service import Service, build
from passgate.settings import SettingsError
from tests.conftest import SLOW_DIFFICULTY, earn_token


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::ffff:7f00:1", "127.0.0.1"),
        ("::FFFF:203.0.113.7", "203.0.113.7"),
        ("0:0:0:0:0:ffff:cb00:7107", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:0db8:0:0::1", "2001:db8::1"),
        ("::1", "::1"),
        ("::127.0.0.1", "::7f00:1"),  # IPv4-compatible (deprecated) is not mapped
        ("64:ff9b::7f00:1", "64:ff9b::7f00:1"),  # NAT64 is another host: left alone
        ("999.1.1.1", None),
        ("shop.example", None),
        ("", None),
    ],
)
def test_canonical(text: str, expected: str | None) -> None:
    assert addresses.canonical(text) == expected


@given(st.integers(0, 2**32 - 1))
def test_every_mapped_address_is_its_ipv4_address(n: int) -> None:
    v4 = str(ipaddress.IPv4Address(n))
    mapped = ipaddress.IPv6Address((0xFFFF << 32) | n)
    for spelling in (str(mapped), "::ffff:" + v4, mapped.exploded):
        assert addresses.canonical(spelling) == v4
        assert addresses.same(spelling, v4)


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        ("127.0.0.1", ["127.0.0.1", "::ffff:127.0.0.1", "::ffff:7f00:1"], ["127.0.0.2", "::1"]),
        ("::ffff:127.0.0.1", ["127.0.0.1", "::ffff:127.0.0.1"], ["127.0.0.2"]),
        ("::ffff:10.0.0.0/104", ["10.9.8.7", "::ffff:10.1.1.1"], ["11.0.0.1"]),
        ("10.0.0.0/8", ["::ffff:10.200.0.1"], ["::a00:1"]),
        ("2001:db8::/32", ["2001:db8::5"], ["10.0.0.1", "2001:db9::1"]),
    ],
)
def test_networks_fold_mapped_entries(spec: str, inside: list[str], outside: list[str]) -> None:
    nets = addresses.networks(spec)
    for ip in inside:
        assert addresses.within(ip, nets), ip
    for ip in outside:
        assert not addresses.within(ip, nets), ip


def test_a_bad_trusted_proxy_entry_is_a_clear_settings_error(tmp_path) -> None:
    config = settings.load(
        env={"PASSGATE_TRUSTED_PROXIES": "127.0.0.1, nginx.local"}, data_dir=str(tmp_path)
    )
    with pytest.raises(SettingsError, match="trusted_proxies"):
        build(config)


# --- through the HTTP edge: a dual-stack proxy in front of passgate ---


@pytest.fixture
async def proxied(tmp_path) -> AsyncIterator[tuple[Service, httpx.AsyncClient]]:
    """A node that trusts 127.0.0.1, reached from a peer that arrives IPv4-mapped."""
    config = settings.load(
        env={"PASSGATE_TRUSTED_PROXIES": "127.0.0.1"}, data_dir=str(tmp_path / "data")
    )
    service = build(config)
    transport = httpx.ASGITransport(app=create_app(service), client=("::ffff:127.0.0.1", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://passgate.test") as c:
        yield service, c
    await service.close()


def _bound_site(service: Service) -> tuple[str, str]:
    site, secret = service.sites.add(["shop.example"], name="shop", difficulty=SLOW_DIFFICULTY)
    service.sites.update(site.sitekey, require_remoteip=True, bind_ip=True)
    return site.sitekey, secret


@pytest.mark.anyio
@pytest.mark.parametrize("remoteip", ["::ffff:127.0.0.1", "::ffff:7f00:1", "127.0.0.1"])
async def test_siteverify_remoteip_mapped_matches_ipv4_solver(tmp_path, remoteip: str) -> None:
    service = build(settings.load(env={}, data_dir=str(tmp_path / "data")))
    transport = httpx.ASGITransport(app=create_app(service), client=("127.0.0.1", 4000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            sitekey, secret = _bound_site(service)
            earned = await earn_token(client, sitekey)
            body = (
                await client.post(
                    "/siteverify",
                    data={"secret": secret, "response": earned["token"], "remoteip": remoteip},
                )
            ).json()
            assert body["success"] is True, body
    finally:
        await service.close()


@pytest.mark.anyio
async def test_forwarded_mapped_client_is_bound_as_ipv4(proxied) -> None:
    service, client = proxied
    sitekey, secret = _bound_site(service)
    xff = {"X-Forwarded-For": "::ffff:203.0.113.7"}
    r = await client.post(
        "/1/challenge", json={"sitekey": sitekey, "host": "shop.example"}, headers=xff
    )
    data = r.json()
    ch = challenge.Challenge(
        sitekey, "shop.example", data["salt"], data["difficulty"], data["parts"], data["expires"]
    )
    solved = await client.post(
        "/1/solve",
        json={"challenge": data["challenge"], "nonces": challenge.solve(ch)},
        headers=xff,
    )
    assert solved.status_code == 200, solved.text
    tok = token.decode(solved.json()["token"], service.ring)
    assert tok.bound_ip == "203.0.113.7"  # the mapped peer matched the IPv4 trusted entry
    wrong = await client.post(
        "/siteverify",
        data={"secret": secret, "response": solved.json()["token"], "remoteip": "203.0.113.8"},
    )
    assert wrong.json()["error-codes"] == ["invalid-remoteip"]
    body = (
        await client.post(
            "/siteverify",
            data={"secret": secret, "response": solved.json()["token"], "remoteip": "203.0.113.7"},
        )
    ).json()
    assert body["success"] is True, body


@pytest.mark.anyio
async def test_token_of_the_previous_release_bound_to_a_mapped_address_verifies(
    client, service: Service
) -> None:
    """Before the fold, /1/solve bound `::ffff:cb00:7107` verbatim: such tokens still verify
    against the IPv4 remoteip."""
    sitekey, secret = _bound_site(service)
    service.forget_sites()
    old = token.mint(sitekey, "shop.example", time.time(), 120, bound_ip="::ffff:cb00:7107")
    body = (
        await client.post(
            "/siteverify",
            data={
                "secret": secret,
                "response": token.encode(old, service.ring),
                "remoteip": "203.0.113.7",
            },
        )
    ).json()
    assert body["success"] is True, body

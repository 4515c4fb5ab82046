"""web.client_ip: X-Forwarded-For counts only when the peer is a trusted proxy."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from passgate.addresses import networks as parse_networks
from passgate.web import client_ip


def _request(peer: str, *xff: str) -> Request:
    headers = [(b"x-forwarded-for", v.encode()) for v in xff]
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


PROXIES = parse_networks("10.0.0.0/8, 192.0.2.1, 2001:db8::/32")


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        # no trusted proxies: the header is ignored, whoever sends it
        ("127.0.0.1", ["198.51.100.7"], "", "127.0.0.1"),
        ("203.0.113.5", ["198.51.100.7"], "", "203.0.113.5"),
        # an untrusted peer cannot speak for anyone else
        ("203.0.113.5", ["198.51.100.7"], "proxies", "203.0.113.5"),
        # a trusted proxy: the hop it appended
        ("192.0.2.1", ["198.51.100.7"], "proxies", "198.51.100.7"),
        # a client's own forged hops sit left of the one the proxy wrote
        ("192.0.2.1", ["6.6.6.6, 198.51.100.7"], "proxies", "198.51.100.7"),
        ("192.0.2.1", ["6.6.6.6", "198.51.100.7"], "proxies", "198.51.100.7"),
        # a chain of trusted proxies is walked from the right
        ("10.0.0.1", ["6.6.6.6, 198.51.100.7, 10.0.0.2"], "proxies", "198.51.100.7"),
        # every hop trusted: the leftmost (a client inside the trusted network)
        ("10.0.0.1", ["10.1.2.3, 10.0.0.2"], "proxies", "10.1.2.3"),
        # no header from a trusted proxy: the proxy itself
        ("192.0.2.1", [], "proxies", "192.0.2.1"),
        # garbage where an address belongs: the last address a trusted proxy vouched for
        ("192.0.2.1", ["not-an-ip"], "proxies", "192.0.2.1"),
        ("10.0.0.1", ["junk, 10.0.0.2"], "proxies", "10.0.0.2"),
        # ports some proxies append, and IPv6
        ("192.0.2.1", ["198.51.100.7:4321"], "proxies", "198.51.100.7"),
        ("192.0.2.1", ["[2001:db9::5]:443"], "proxies", "2001:db9::5"),
        ("2001:db8::1", ["2001:0db9:0:0::5"], "proxies", "2001:db9::5"),
    ],
)
def test_client_ip(peer: str, xff: list[str], trusted: str, expected: str) -> None:
    nets = PROXIES if trusted else []
    assert client_ip(_request(peer, *xff), nets) == expected

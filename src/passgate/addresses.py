"""Client addresses: the one place an IP address is parsed, so that every comparer sees one
form of it. Pure: no I/O.

An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, also written `::ffff:7f00:1`) is the IPv4
address it maps: dual-stack listeners (Node, Express, nginx with `ipv6only=off`) report
IPv4 visitors that way, and the contract (hcaptcha-compat §5) makes them one address.
"""

from __future__ import annotations

import functools
import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


@functools.lru_cache(maxsize=8192)
def parse(text: str) -> IPAddress | None:
    """The address in `text` (no port, no brackets), IPv4-mapped folded to IPv4; None when
    `text` is not an IP address. (Remembered: a request's address is parsed by the edge,
    the trusted-proxy check and the prefix alike, and the same clients come back.)"""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def canonical(text: str) -> str | None:
    """The address's one spelling (`::ffff:7f00:1` -> `127.0.0.1`, `0:0::1` -> `::1`), or
    None when `text` is not an IP address."""
    addr = parse(text)
    return None if addr is None else str(addr)


def same(a: str, b: str) -> bool:
    """True when both are addresses and name the same one."""
    pa, pb = parse(a), parse(b)
    return pa is not None and pa == pb


def network(text: str) -> IPNetwork:
    """A network from `a.b.c.d/n`, `x::/n` or a bare address; a network inside
    `::ffff:0:0/96` is folded to its IPv4 form. Raises ValueError."""
    net = ipaddress.ip_network(text.strip(), strict=False)
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net.subnet_of(_MAPPED):
        mapped = net.network_address.ipv4_mapped
        assert mapped is not None
        return ipaddress.IPv4Network((mapped, net.prefixlen - 96))
    return net


def networks(spec: str) -> list[IPNetwork]:
    """A comma-separated list of networks (`PASSGATE_TRUSTED_PROXIES`). Raises ValueError."""
    return [network(p) for p in spec.split(",") if p.strip()]


def within(text: str, nets: list[IPNetwork]) -> bool:
    """True when `text` is an address inside one of `nets`."""
    addr = parse(text)
    return addr is not None and any(addr in n for n in nets)

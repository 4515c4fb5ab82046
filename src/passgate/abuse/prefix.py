"""Client address -> network prefix and parent prefix, each named by a keyed hash. Pure.

Clients are grouped by prefix (IPv4 /24 and IPv6 /48 by default), and each prefix also
counts towards its parent (the /16 and the /32 by default: 8 and 16 bits shorter), so that
rotating through sibling prefixes does not make every solve a first. Counters are kept
under HMAC-SHA256(key, prefix) cut to 64 bits: the store never holds an address, and the
key, derived from the master key, is the same on every node.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from passgate import addresses

V4_BOUNDS = (16, 32)
V6_BOUNDS = (32, 64)
DEFAULT_V4, DEFAULT_V6 = 24, 48
PARENT_BITS = {4: 8, 6: 16}  # the parent is this many bits shorter
KEY_LABEL = b"passgate/abuse/prefix-key/v1"


class PrefixError(ValueError):
    """A prefix length or allow-list entry out of bounds; the message says which."""


def check_lengths(v4: int, v6: int) -> tuple[int, int]:
    """The prefix lengths, or PrefixError when out of bounds (IPv4 16-32, IPv6 32-64)."""
    if not V4_BOUNDS[0] <= v4 <= V4_BOUNDS[1]:
        raise PrefixError(f"the IPv4 prefix length must be between {V4_BOUNDS[0]} and 32")
    if not V6_BOUNDS[0] <= v6 <= V6_BOUNDS[1]:
        raise PrefixError(f"the IPv6 prefix length must be between {V6_BOUNDS[0]} and 64")
    return v4, v6


def check_allowlist(entries: list[str]) -> tuple[str, ...]:
    """Allow-list entries as canonical CIDRs (`198.51.100.0/24`); PrefixError for anything
    that is not a CIDR or address."""
    out = []
    for raw in entries:
        text = raw.strip()
        if not text:
            continue
        try:
            out.append(str(addresses.network(text)))
        except ValueError:
            raise PrefixError(f"allow-list entries must be CIDRs: {raw!r}") from None
    return tuple(dict.fromkeys(out))


def derive_key(master: bytes) -> bytes:
    """The prefix-hash key, derived from the master key: the same on every node."""
    return hmac.new(master, KEY_LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class Source:
    """Where a request comes from, as the counters see it: the keyed hashes (16 hex chars)
    of its prefix and of its parent."""

    prefix: str
    parent: str


def networks(ip: str, v4: int = DEFAULT_V4, v6: int = DEFAULT_V6) -> tuple[str, str] | None:
    """The prefix and parent of an address as CIDR text, or None for a non-address."""
    addr = addresses.parse(ip)
    if addr is None:
        return None
    bits = v4 if addr.version == 4 else v6
    parent_bits = bits - PARENT_BITS[addr.version]
    net = ipaddress.ip_network((addr, bits), strict=False)
    parent = ipaddress.ip_network((addr, parent_bits), strict=False)
    return str(net), str(parent)


def source(key: bytes, ip: str, v4: int = DEFAULT_V4, v6: int = DEFAULT_V6) -> Source:
    """The keyed source of a client address. A peer that is not an address (a Unix socket,
    a test transport) is one source of its own. (On the hot path of /1/challenge: the
    prefixes are integer masks, and a parent's digest is remembered.)"""
    addr = addresses.parse(ip)
    if addr is None:
        return Source(_digest(key, f"other:{ip}"), _digest(key, "parent:other"))
    width = 32 if addr.version == 4 else 128
    bits = v4 if addr.version == 4 else v6
    parent_bits = bits - PARENT_BITS[addr.version]
    value = int(addr)
    mine = f"{addr.version}/{bits}/{value >> (width - bits):x}"
    parent = f"{addr.version}/{parent_bits}/{value >> (width - parent_bits):x}"
    return Source(_digest(key, mine), _parent_digest(key, parent))


def _digest(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:16]


@functools.lru_cache(maxsize=4096)
def _parent_digest(key: bytes, text: str) -> str:
    """Parents are few and shared by many prefixes: their digests are remembered."""
    return _digest(key, "parent:" + text)


def allowed(ip: str, allowlist: tuple[str, ...]) -> bool:
    """True when the address falls in an allow-listed network."""
    if not allowlist:
        return False
    return addresses.within(ip, [addresses.network(n) for n in allowlist])

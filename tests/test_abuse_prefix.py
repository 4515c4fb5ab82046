"""abuse.prefix: clients grouped by network prefix and parent, named by a keyed hash."""

from __future__ import annotations

import pytest

from passgate.abuse import prefix

KEY = prefix.derive_key(b"m" * 32)


@pytest.mark.parametrize(
    ("ip", "v4", "v6", "expected"),
    [
        ("203.0.113.7", 24, 48, ("203.0.113.0/24", "203.0.0.0/16")),
        ("::ffff:203.0.113.7", 24, 48, ("203.0.113.0/24", "203.0.0.0/16")),
        ("203.0.113.7", 32, 48, ("203.0.113.7/32", "203.0.113.0/24")),
        ("203.0.113.7", 16, 48, ("203.0.0.0/16", "203.0.0.0/8")),
        ("2001:db8:1234:5678::1", 24, 48, ("2001:db8:1234::/48", "2001:db8::/32")),
        ("2001:db8:1234:5678::1", 24, 64, ("2001:db8:1234:5678::/64", "2001:db8:1234::/48")),
        ("shop.example", 24, 48, None),
    ],
)
def test_networks(ip: str, v4: int, v6: int, expected: tuple[str, str] | None) -> None:
    assert prefix.networks(ip, v4, v6) == expected


def test_one_source_per_prefix_whatever_the_spelling() -> None:
    a = prefix.source(KEY, "203.0.113.7")
    assert a == prefix.source(KEY, "203.0.113.200")
    assert a == prefix.source(KEY, "::ffff:cb00:7107")  # the mapped form is the same source
    b = prefix.source(KEY, "203.0.114.7")
    assert a.prefix != b.prefix and a.parent == b.parent  # siblings share the parent
    assert prefix.source(KEY, "198.51.100.1").parent != a.parent


def test_the_hash_is_keyed_and_holds_no_address() -> None:
    src = prefix.source(KEY, "203.0.113.7")
    assert len(src.prefix) == 16 and int(src.prefix, 16) >= 0
    other = prefix.source(prefix.derive_key(b"n" * 32), "203.0.113.7")
    assert other.prefix != src.prefix  # another master key: unlinkable
    assert src.prefix != src.parent


@pytest.mark.parametrize(("v4", "v6"), [(15, 48), (33, 48), (24, 31), (24, 65)])
def test_prefix_lengths_out_of_bounds_are_refused(v4: int, v6: int) -> None:
    with pytest.raises(prefix.PrefixError, match="prefix length"):
        prefix.check_lengths(v4, v6)


def test_allowlist_entries_must_be_cidrs() -> None:
    assert prefix.check_allowlist(["198.51.100.0/24", " 2001:db8::/32", "192.0.2.7"]) == (
        "198.51.100.0/24",
        "2001:db8::/32",
        "192.0.2.7/32",
    )
    with pytest.raises(prefix.PrefixError, match="CIDR"):
        prefix.check_allowlist(["office"])
    listed = prefix.check_allowlist(["198.51.100.0/24"])
    assert prefix.allowed("198.51.100.9", listed)
    assert prefix.allowed("::ffff:198.51.100.9", listed)
    assert not prefix.allowed("198.51.101.9", listed)

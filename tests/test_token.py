"""Pass tokens: minting, encoding, tamper detection and key rotation."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate import token
from passgate.signing import KeyRing

RING = KeyRing({"a": b"a" * 32}, "a")


def test_roundtrip_binds_every_claim() -> None:
    tok = token.mint(
        "sk",
        "shop.example",
        1000.5,
        120,
        rqdata="order-7",
        bound_ip="198.51.100.2",
        source="key:ci",
        mode="invisible",
    )
    back = token.decode(token.encode(tok, RING), RING)
    assert back.sitekey == "sk" and back.hostname == "shop.example"
    assert back.issued_ms == 1_000_500 and back.expires_ms == 1_000_500 + 120_000
    assert back.rqdata_sha256 == token.rqdata_digest("order-7")
    assert back.bound_ip == "198.51.100.2" and back.source == "key:ci" and back.mode == "invisible"
    assert back.kid == "a"


def test_tokens_are_unique_and_prefixed() -> None:
    texts = {token.encode(token.mint("sk", "h", 0, 120), RING) for _ in range(200)}
    assert len(texts) == 200
    assert all(t.startswith("P1_") for t in texts)


def test_rotated_ring_still_verifies_old_tokens() -> None:
    old = token.encode(token.mint("sk", "h", 0, 120), RING)
    rotated = KeyRing({"a": b"a" * 32, "b": b"b" * 32}, "b")
    assert token.decode(old, rotated).kid == "a"
    new = token.encode(token.mint("sk", "h", 0, 120), rotated)
    assert token.key_id(new) == "b"
    with pytest.raises(token.UnknownKey) as unknown:  # a TokenError that names the key
        token.decode(new, RING)
    assert isinstance(unknown.value, token.TokenError) and unknown.value.kid == "b"


def test_a_known_key_with_a_wrong_signature_is_not_an_unknown_key() -> None:
    text = token.encode(token.mint("sk", "h", 0, 120), RING)
    forged = KeyRing({"a": b"z" * 32}, "a")
    with pytest.raises(token.TokenError) as bad:
        token.decode(text, forged)
    assert not isinstance(bad.value, token.UnknownKey)


def test_response_key_is_stable_per_token() -> None:
    tok = token.decode(token.encode(token.mint("sk", "h", 0, 120), RING), RING)
    assert token.response_key(tok, RING) == token.response_key(tok, RING)
    assert token.response_key(tok, RING).startswith("E0_")


@settings(max_examples=300)
@given(st.integers(min_value=3), st.sampled_from("ABCxyz019-_."))
def test_any_character_change_is_refused(pos: int, ch: str) -> None:
    text = token.encode(token.mint("sk", "shop.example", 0, 120, rqdata="r"), RING)
    i = 3 + pos % (len(text) - 3)
    changed = text[:i] + ch + text[i + 1 :]
    if changed == text:
        return
    with pytest.raises(token.TokenError):
        token.decode(changed, RING)


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=400), st.just("P1_"), st.just("P1_."), st.just("P1_e30.")))
def test_garbage_is_refused_cleanly(text: str) -> None:
    with pytest.raises(token.TokenError):
        token.decode(text, RING)


def test_oversized_token_is_refused() -> None:
    with pytest.raises(token.TokenError):
        token.decode("P1_" + "a" * 5000, RING)


def test_epoch_claim_is_bound_and_optional() -> None:
    """A token names the Redis epoch it was minted under; tokens without one (the previous
    release, or SQLite and PostgreSQL deployments) decode with none."""
    tok = token.mint("sk", "shop.example", 1000.5, 120, epoch=1_800_000_000_123)
    assert token.decode(token.encode(tok, RING), RING).epoch == 1_800_000_000_123
    plain = token.mint("sk", "shop.example", 1000.5, 120)
    assert token.decode(token.encode(plain, RING), RING).epoch is None

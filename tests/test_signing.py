"""base64url and HMAC helpers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passgate.signing import KeyRing, b64decode, b64encode, sign, verify


@given(st.binary(max_size=200))
def test_b64_roundtrip_has_no_padding(data: bytes) -> None:
    text = b64encode(data)
    assert "=" not in text
    assert b64decode(text) == data if data else True


@pytest.mark.parametrize("bad", ["", "a", "ab$c", "é", "abcde", "QQ=", "QR"])
def test_b64_refuses_bad_text(bad: str) -> None:
    with pytest.raises(ValueError):
        b64decode(bad)


def test_verify_detects_wrong_key_and_message() -> None:
    sig = sign(b"k", b"m")
    assert verify(b"k", b"m", sig)
    assert not verify(b"x", b"m", sig)
    assert not verify(b"k", b"n", sig)


def test_keyring_refuses_unknown_current() -> None:
    with pytest.raises(ValueError):
        KeyRing({"a": b"1"}, "b")

"""Signed compact envelopes: base64url encoding and HMAC-SHA256, with no I/O."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Decode canonical unpadded base64url; raises ValueError on anything else."""
    if not text or len(text) % 4 == 1 or not text.isascii():
        raise ValueError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None
    if b64encode(raw) != text:  # one spelling per value: no malleable tokens
        raise ValueError("not canonical base64url")
    return raw


@functools.lru_cache(maxsize=64)
def _keyed(key: bytes) -> hmac.HMAC:
    """An HMAC with the key already mixed in, copied for each message."""
    return hmac.new(key, digestmod=hashlib.sha256)


def sign(key: bytes, message: bytes) -> bytes:
    mac = _keyed(key).copy()
    mac.update(message)
    return mac.digest()


def verify(key: bytes, message: bytes, signature: bytes) -> bool:
    return hmac.compare_digest(sign(key, message), signature)


class KeyRing:
    """Signing keys by key id; `current` signs, every key still verifies."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError("current key id is not in the ring")
        self.keys = dict(keys)
        self.current = current

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current]

    def get(self, kid: str) -> bytes | None:
        return self.keys.get(kid)

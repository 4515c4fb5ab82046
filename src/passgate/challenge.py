"""Proof-of-work challenges: issue, encode and check solutions. Pure: no I/O, clock passed in.

A challenge has `parts` independent puzzles. Puzzle i is solved by a 32-bit nonce such that
SHA-256(ascii(salt_hex + "%04x" % i + "%08x" % nonce)) starts with a big-endian 32-bit word
below `threshold`. The message is 44 bytes, so each attempt is one SHA-256 block.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from passgate.signing import KeyRing, b64decode, b64encode, sign, verify

PREFIX = "C1."
MAX_ENCODED = 1024
MAX_PARTS = 64


class ChallengeError(ValueError):
    """A challenge or solution that cannot be accepted; `code` says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Challenge:
    sitekey: str
    host: str
    salt: str  # 32 hex chars
    difficulty: int  # expected hashes over all parts
    parts: int
    expires: int  # unix seconds
    kid: str = ""

    @property
    def threshold(self) -> int:
        return threshold_for(self.difficulty, self.parts)

    @property
    def spend_key(self) -> str:
        return "c:" + self.salt


def threshold_for(difficulty: int, parts: int) -> int:
    per_part = max(1, difficulty // parts)
    return min(0xFFFFFFFF, (1 << 32) // per_part)


def parts_for(difficulty: int) -> int:
    """More parts tighten the spread of solve times; tiny difficulties need few."""
    return max(1, min(16, difficulty // 20_000))


def issue(sitekey: str, host: str, difficulty: int, now: float, lifetime: int) -> Challenge:
    return Challenge(
        sitekey=sitekey,
        host=host,
        salt=secrets.token_hex(16),
        difficulty=difficulty,
        parts=parts_for(difficulty),
        expires=int(now) + lifetime,
    )


def encode(ch: Challenge, ring: KeyRing) -> str:
    body = json.dumps(
        [ch.sitekey, ch.host, ch.salt, ch.difficulty, ch.parts, ch.expires, ring.current],
        separators=(",", ":"),
    ).encode()
    payload = b64encode(body)
    return PREFIX + payload + "." + b64encode(sign(ring.current_key, (PREFIX + payload).encode()))


def decode(text: str, ring: KeyRing, now: float) -> Challenge:
    """Parse and authenticate a challenge; raises ChallengeError('invalid'|'expired')."""
    if not isinstance(text, str) or len(text) > MAX_ENCODED or not text.startswith(PREFIX):
        raise ChallengeError("invalid")
    try:
        payload, sig = text[len(PREFIX) :].split(".")
        fields = json.loads(b64decode(payload))
        sitekey, host, salt, difficulty, parts, expires, kid = fields
        signature = b64decode(sig)
    except (ValueError, TypeError):
        raise ChallengeError("invalid") from None
    key = ring.get(kid) if isinstance(kid, str) else None
    if key is None or not verify(key, (PREFIX + payload).encode(), signature):
        raise ChallengeError("invalid")
    ch = Challenge(sitekey, host, salt, difficulty, parts, expires, kid)
    if expires < now:
        raise ChallengeError("expired")
    return ch


def key_id(text: str) -> str | None:
    """The key id a challenge claims, unauthenticated, or None when unreadable."""
    try:
        fields = json.loads(b64decode(text[len(PREFIX) :].split(".")[0]))
        kid = fields[6]
    except (ValueError, TypeError, IndexError, KeyError):
        return None
    return kid if isinstance(kid, str) else None


def attempt(salt: str, part: int, nonce: int) -> int:
    """The leading 32-bit word of one attempt's hash."""
    digest = hashlib.sha256(f"{salt}{part:04x}{nonce:08x}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def check(ch: Challenge, nonces: object) -> bool:
    """True when `nonces` holds one valid 32-bit nonce per part."""
    if not isinstance(nonces, list) or len(nonces) != ch.parts or ch.parts > MAX_PARTS:
        return False
    limit = ch.threshold
    for i, n in enumerate(nonces):
        if type(n) is not int or not 0 <= n <= 0xFFFFFFFF:
            return False
        if attempt(ch.salt, i, n) >= limit:
            return False
    return True


def solve(ch: Challenge) -> list[int]:
    """Brute-force solver, for tests and benchmarks."""
    out = []
    limit = ch.threshold
    for i in range(ch.parts):
        prefix = f"{ch.salt}{i:04x}".encode()
        n = 0
        while int.from_bytes(hashlib.sha256(prefix + b"%08x" % n).digest()[:4], "big") >= limit:
            n += 1
        out.append(n)
    return out

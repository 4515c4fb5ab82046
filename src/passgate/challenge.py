"""Proof-of-work challenges: issue, encode and check solutions. Pure: no I/O, clock passed in.

A challenge has `parts` independent puzzles of the site's algorithm (passgate.algorithms).
Puzzle i is solved by a 32-bit nonce whose attempt, the algorithm's digest of
ascii(salt_hex + "%04x" % i + "%08x" % nonce), starts with a big-endian 32-bit word below
`threshold`. For SHA-256 the message is 44 bytes, so each attempt is one SHA-256 block.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from passgate import algorithms
from passgate.signing import KeyRing, b64decode, b64encode, sign, verify

PREFIX = "C2."
LEGACY_PREFIX = "C1."  # the previous release's challenges: no issue time, no prefix
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
    epoch: int | None = None  # the Redis epoch the issuing node last saw (store.redis)
    issued_ms: int | None = None  # unix ms; None on the previous release's challenges
    prefix: str = ""  # the keyed hash of the client prefix it was issued to (abuse.prefix)
    algorithm: str = algorithms.SHA256  # the previous release's challenges are all SHA-256

    @property
    def threshold(self) -> int:
        return threshold_for(self.difficulty, self.parts)

    @property
    def spend_key(self) -> str:
        return "c:" + self.salt


def threshold_for(difficulty: int, parts: int) -> int:
    per_part = max(1, difficulty // parts)
    return min(0xFFFFFFFF, (1 << 32) // per_part)


def parts_for(difficulty: int, algorithm: str = algorithms.SHA256) -> int:
    """More parts tighten the spread of solve times; tiny difficulties need few, and costly
    attempts few (the server checks one a part)."""
    return algorithms.get(algorithm).parts_for(difficulty)


def issue(
    sitekey: str,
    host: str,
    difficulty: int,
    now: float,
    lifetime: int,
    epoch: int | None = None,
    prefix: str = "",
    algorithm: str = algorithms.SHA256,
) -> Challenge:
    return Challenge(
        sitekey=sitekey,
        host=host,
        salt=secrets.token_hex(16),
        difficulty=difficulty,
        parts=parts_for(difficulty, algorithm),
        expires=int(now) + lifetime,
        epoch=epoch,
        issued_ms=int(now * 1000),
        prefix=prefix,
        algorithm=algorithm,
    )


def encode(ch: Challenge, ring: KeyRing) -> str:
    """`C2.` + the fields joined by `|` + `.` + base64url(HMAC-SHA256 of what precedes).

    Fields: sitekey, host, salt, difficulty, parts, issued (unix ms), expires (unix s),
    epoch (or empty), prefix hash (or empty), algorithm, key id. Every field is signed: a
    client can change neither its price, nor its algorithm, nor its issue time, nor the
    prefix it was issued to."""
    epoch = "" if ch.epoch is None else str(ch.epoch)
    issued = "" if ch.issued_ms is None else str(ch.issued_ms)
    signed = (
        f"{PREFIX}{ch.sitekey}|{ch.host}|{ch.salt}|{ch.difficulty}|{ch.parts}|{issued}"
        f"|{ch.expires}|{epoch}|{ch.prefix}|{ch.algorithm}|{ring.current}"
    )
    return signed + "." + b64encode(sign(ring.current_key, signed.encode()))


def decode(text: str, ring: KeyRing, now: float) -> Challenge:
    """Authenticate and parse a challenge, this release's (`C2.`) or the previous one's
    (`C1.`); raises ChallengeError('invalid'|'expired')."""
    if not isinstance(text, str) or len(text) > MAX_ENCODED:
        raise ChallengeError("invalid")
    if not (text.startswith(PREFIX) or text.startswith(LEGACY_PREFIX)):
        raise ChallengeError("invalid")
    signed, _, sig = text.rpartition(".")
    key = ring.get(signed.rpartition("|")[2])
    try:
        genuine = key is not None and verify(key, signed.encode(), b64decode(sig))
    except (ValueError, UnicodeEncodeError):
        genuine = False
    if not genuine:
        raise ChallengeError("invalid")
    fields = signed[len(PREFIX) :].split("|")
    try:
        if text.startswith(PREFIX):
            sitekey, host, salt, difficulty, parts, issued, expires, epoch, src, alg, kid = fields
            ch = Challenge(
                sitekey,
                host,
                salt,
                int(difficulty),
                int(parts),
                int(expires),
                kid,
                int(epoch) if epoch else None,
                int(issued) if issued else None,
                src,
                algorithms.get(alg).name,
            )
        else:
            legacy_epoch = int(fields.pop(6)) if len(fields) == 8 else None
            sitekey, host, salt, difficulty, parts, expires, kid = fields
            ch = Challenge(
                sitekey, host, salt, int(difficulty), int(parts), int(expires), kid, legacy_epoch
            )
    except (ValueError, IndexError):  # signed by us, so never expected; refused all the same
        raise ChallengeError("invalid") from None
    if ch.expires < now:
        raise ChallengeError("expired")
    return ch


def key_id(text: str) -> str | None:
    """The key id a challenge claims, unauthenticated, or None when unreadable."""
    signed = text.rpartition(".")[0]
    return signed.rpartition("|")[2] if "|" in signed else None


def attempt(salt: str, part: int, nonce: int, algorithm: str = algorithms.SHA256) -> int:
    """The leading 32-bit word of one attempt's digest."""
    return algorithms.get(algorithm).attempt(salt, part, nonce)


def check(ch: Challenge, nonces: object) -> bool:
    """True when `nonces` holds one valid 32-bit nonce per part. Every nonce's type and
    range is checked before any digest is computed, so a malformed solution costs nothing."""
    if not isinstance(nonces, list) or len(nonces) != ch.parts or ch.parts > MAX_PARTS:
        return False
    if not all(type(n) is int and 0 <= n <= 0xFFFFFFFF for n in nonces):
        return False
    limit = ch.threshold
    trial = algorithms.get(ch.algorithm).attempt
    return all(trial(ch.salt, i, n) < limit for i, n in enumerate(nonces))


def solve(ch: Challenge) -> list[int]:
    """Brute-force solver, for tests and benchmarks."""
    out = []
    limit = ch.threshold
    if ch.algorithm != algorithms.SHA256:
        trial = algorithms.get(ch.algorithm).attempt
        for i in range(ch.parts):
            n = 0
            while trial(ch.salt, i, n) >= limit:
                n += 1
            out.append(n)
        return out
    for i in range(ch.parts):
        prefix = f"{ch.salt}{i:04x}".encode()
        n = 0
        while int.from_bytes(hashlib.sha256(prefix + b"%08x" % n).digest()[:4], "big") >= limit:
            n += 1
        out.append(n)
    return out

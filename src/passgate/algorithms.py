"""The proof-of-work algorithms a site can ask for: what one attempt is, and each one's
defaults. Pure: no I/O.

An attempt maps (salt, part, nonce) to the leading big-endian 32-bit word of a digest; a
part is solved when that word is below the challenge's threshold. The message is
`ascii(salt_hex + "%04x" % part + "%08x" % nonce)` (44 bytes) for every algorithm.

- `sha256`: one SHA-256 of the message (one block). Cheap for the server, and for a GPU
  or a native solver too: ~20x a browser per core (BENCHMARKS.md).
- `argon2id`: Argon2id (RFC 9106, v0x13) of the message, salted with the 16 bytes of the
  salt, m = 1 MiB, t = 1, p = 1, 32-byte output. Memory-hard: a native solver is ~1.1x the
  widget's WebAssembly build per core, and a GPU is bound by its memory bandwidth
  (docs/abuse.md has the arithmetic). One check costs the server ~0.45 ms a part.

Difficulties count attempts of the site's own algorithm (expected attempts over all parts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from argon2.low_level import Type, hash_secret_raw

SHA256 = "sha256"
ARGON2ID = "argon2id"


def sha256_attempt(salt: str, part: int, nonce: int) -> int:
    digest = hashlib.sha256(f"{salt}{part:04x}{nonce:08x}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


ARGON2_PARAMS = {"m": 1024, "t": 1, "p": 1}  # KiB, passes, lanes


def argon2id_attempt(salt: str, part: int, nonce: int) -> int:
    digest = hash_secret_raw(
        f"{salt}{part:04x}{nonce:08x}".encode(),
        bytes.fromhex(salt),
        time_cost=ARGON2_PARAMS["t"],
        memory_cost=ARGON2_PARAMS["m"],
        parallelism=ARGON2_PARAMS["p"],
        hash_len=32,
        type=Type.ID,
    )
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class Algorithm:
    """One algorithm and the numbers chosen for it (BENCHMARKS.md has the measurements)."""

    name: str
    attempt: Callable[[str, int, int], int]
    default_difficulty: int  # expected attempts: a person's first solve
    default_cap: int  # the default --max-difficulty: ~10 s for a slow device
    max_parts: int  # the server checks one attempt a part
    attempts_per_part: int  # more parts tighten the spread of solve times
    fastest_browser_rate: float  # attempts/s: the fastest a browser could go (abuse.score)
    params: dict[str, int] = field(default_factory=dict)

    def parts_for(self, difficulty: int) -> int:
        return max(1, min(self.max_parts, difficulty // self.attempts_per_part))


ALGORITHMS: dict[str, Algorithm] = {
    SHA256: Algorithm(
        name=SHA256,
        attempt=sha256_attempt,
        # ~150 ms for two browser workers at 5 M/s each, including their cold start
        default_difficulty=120_000,
        # one worker at 5 M SHA-256/s slowed 6x: 0.8 M/s, for 10 s
        default_cap=8_000_000,
        max_parts=16,
        attempts_per_part=20_000,
        # four workers of a fast desktop, JS SHA-256
        fastest_browser_rate=60_000_000,
    ),
    ARGON2ID: Algorithm(
        name=ARGON2ID,
        attempt=argon2id_attempt,
        # 300 attempts at ~0.55 ms each (WebAssembly SIMD), over two workers: ~80 ms of
        # work, plus the worker's start and the WebAssembly's compile on a first solve
        default_difficulty=300,
        # one worker at ~2,000 attempts/s slowed 6x: ~340/s, for 10 s
        default_cap=3_400,
        max_parts=3,
        attempts_per_part=100,
        # four workers of a fast desktop at ~4,000 attempts/s each
        fastest_browser_rate=16_000,
        params=ARGON2_PARAMS,
    ),
}

NAMES = tuple(ALGORITHMS)


class UnknownAlgorithm(ValueError):
    """An algorithm name passgate does not offer; the message lists those it does."""


def get(name: str) -> Algorithm:
    """The algorithm called `name`; raises UnknownAlgorithm."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise UnknownAlgorithm(
            f"unknown algorithm {name!r}: choose one of {', '.join(NAMES)}"
        ) from None

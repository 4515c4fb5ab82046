# ruff: noqa: S603, S607, S105, S310 - fixed local commands and loopback URLs only
"""In-process primitives, one core: passgate's challenge create/verify against the `altcha`
library's, SHA-256 in Python's hashlib and in OpenSSL (`openssl speed`).

Run as `python -m bench.primitives SECONDS REPEATS`; prints one JSON object. Each figure is
the median ops/s over REPEATS timed windows of SECONDS.

Work factors, stated:
- passgate: the default difficulty, 150,000 expected hashes (7 parts), and 100,000 (5 parts),
  a real solution found by brute force; verify = decode + HMAC check + one SHA-256 a part.
- altcha 2.x (v2 API): SHA-256 key derivation, cost 400 iterations, key prefix "00"
  (1 in 256): 102,400 expected hashes; verify = the library's `verify_solution` on the
  base64 payload a client sends (signature check + re-derivation, the default path).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from passgate import challenge, token
from passgate.signing import KeyRing

ALTCHA_COST = 400
ALTCHA_PREFIX = "00"


def rate(fn: Callable[[], object], seconds: float, repeats: int) -> dict[str, Any]:
    """Median ops/s of `fn` over `repeats` windows of `seconds`."""
    runs = []
    for _ in range(repeats):
        n = 0
        start = time.perf_counter()
        end = start + seconds
        now = start
        while now < end:
            for _ in range(64):
                fn()
            n += 64
            now = time.perf_counter()
        runs.append(n / (now - start))
    return {"median": statistics.median(runs), "runs": runs}


def passgate_ops(seconds: float, repeats: int, difficulty: int) -> dict[str, Any]:
    ring = KeyRing({"k1": b"k" * 32}, "k1")
    now = time.time()
    sitekey = "8564c33e-e665-412e-ab43-278210c16cfa"

    def create() -> str:
        return challenge.encode(
            challenge.issue(sitekey, "localhost", difficulty, time.time(), 300), ring
        )

    solved = []
    t0 = time.perf_counter()
    for _ in range(3):
        ch = challenge.issue(sitekey, "localhost", difficulty, now, 3600)
        solved.append((challenge.encode(ch, ring), challenge.solve(ch)))
    solve_s = (time.perf_counter() - t0) / 3
    i = 0

    def verify() -> bool:
        nonlocal i
        text, nonces = solved[i % 3]
        i += 1
        ch = challenge.decode(text, ring, now)
        ok = challenge.check(ch, nonces)
        assert ok
        return ok

    def verify_mint() -> str:
        verify()
        tok = token.mint(sitekey, "localhost", now, 120)
        return token.encode(tok, ring)

    tokens = [token.encode(token.mint(sitekey, "localhost", now, 120), ring) for _ in range(100)]
    j = 0

    def token_decode() -> object:
        nonlocal j
        j += 1
        return token.decode(tokens[j % 100], ring)

    parts = challenge.parts_for(difficulty)
    return {
        "settings": f"difficulty {difficulty:,} expected hashes, {parts} parts, HMAC-SHA256",
        "expected_hashes": difficulty,
        "create": rate(create, seconds, repeats),
        "verify": rate(verify, seconds, repeats),
        "verify_mint": rate(verify_mint, seconds, repeats),
        "token_decode": rate(token_decode, seconds, repeats),
        "python_solve_seconds": solve_s,
    }


def altcha_ops(seconds: float, repeats: int) -> dict[str, Any]:
    try:
        from importlib.metadata import version

        import altcha
    except ImportError:
        return {"error": "altcha is not installed"}
    secret = "bench-hmac-secret-0123456789"

    def create() -> object:
        return altcha.create_challenge(
            "SHA-256",
            ALTCHA_COST,
            key_prefix=ALTCHA_PREFIX,
            hmac_secret=secret,
            expires_at=int(time.time()) + 300,
        )

    payloads = []
    t0 = time.perf_counter()
    for _ in range(3):
        ch = create()
        sol = altcha.solve_challenge(ch, timeout=120)  # type: ignore[arg-type]
        assert sol is not None
        payloads.append(altcha.Payload(ch, sol).to_base64())  # type: ignore[arg-type]
    solve_s = (time.perf_counter() - t0) / 3
    i = 0

    def verify() -> bool:
        nonlocal i
        i += 1
        res = altcha.verify_solution(payloads[i % 3], secret)
        assert res.verified, res.__dict__
        return True

    return {
        "version": version("altcha"),
        "settings": f"v2 SHA-256, cost {ALTCHA_COST}, key prefix '{ALTCHA_PREFIX}'",
        "expected_hashes": ALTCHA_COST * 16 ** len(ALTCHA_PREFIX),
        "create": rate(create, seconds, repeats),
        "verify": rate(verify, seconds, repeats),
        "python_solve_seconds": solve_s,
    }


def hashlib_rate(seconds: float, repeats: int) -> dict[str, Any]:
    msg = b"a" * 64
    sha = hashlib.sha256
    return rate(lambda: sha(msg).digest(), seconds, repeats)


def openssl_rate(seconds: float, size: int) -> float:
    """Hashes/s of `openssl speed -bytes SIZE sha256` on this (pinned) core."""
    out = subprocess.run(  # noqa: S603
        [
            "openssl",
            "speed",
            "-mr",
            "-bytes",
            str(size),
            "-seconds",
            str(max(1, round(seconds))),
            "sha256",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    for line in out.splitlines():
        if line.startswith("+F:"):
            bytes_per_s = float(line.split(":")[3])
            return bytes_per_s / size
    raise RuntimeError("openssl speed printed no +F line:\n" + out)


def openssl_version() -> str:
    return subprocess.run(
        ["openssl", "version"],
        capture_output=True,
        text=True,  # noqa: S607
        check=True,
    ).stdout.strip()


def main() -> None:
    seconds, repeats = float(sys.argv[1]), int(sys.argv[2])
    result = {
        "passgate_default": passgate_ops(seconds, repeats, 150_000),
        "passgate_100k": passgate_ops(seconds, repeats, 100_000),
        "altcha": altcha_ops(seconds, repeats),
        "hashlib_sha256_64B": hashlib_rate(seconds, repeats),
        "openssl_sha256_64B": statistics.median(
            [openssl_rate(seconds, 64) for _ in range(repeats)]
        ),
        "openssl_sha256_44B": openssl_rate(seconds, 44),
        "openssl_version": openssl_version(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

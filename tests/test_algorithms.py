"""passgate.algorithms and Argon2id challenges: the server's check of a correct solution, a
wrong one, a SHA-256 solution sent for an Argon2id challenge, and tampered parameters."""

from __future__ import annotations

import pytest
from argon2.low_level import Type, hash_secret_raw

from passgate import algorithms, challenge
from passgate.signing import KeyRing

RING = KeyRing({"k1": b"k" * 32}, "k1")
NOW = 1_800_000_000.0


def argon2_challenge(difficulty: int = 60) -> challenge.Challenge:
    return challenge.issue(
        "sk", "shop.example", difficulty, NOW, 300, algorithm=algorithms.ARGON2ID
    )


def test_the_argon2id_attempt_is_rfc9106_argon2id_of_the_message() -> None:
    salt = "00112233445566778899aabbccddeeff"
    digest = hash_secret_raw(
        f"{salt}0002{0x1234:08x}".encode(),
        bytes.fromhex(salt),
        time_cost=1,
        memory_cost=1024,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
    )
    assert algorithms.argon2id_attempt(salt, 2, 0x1234) == int.from_bytes(digest[:4], "big")
    assert algorithms.get("argon2id").params == {"m": 1024, "t": 1, "p": 1}


def test_a_correct_argon2id_solution_is_accepted_and_wrong_ones_are_not() -> None:
    ch = argon2_challenge()
    back = challenge.decode(challenge.encode(ch, RING), RING, NOW)
    assert back.algorithm == "argon2id" and back.parts == ch.parts
    nonces = challenge.solve(back)
    assert challenge.check(back, nonces)
    wrong = [n + 1 for n in nonces]
    while all(
        algorithms.argon2id_attempt(ch.salt, i, n) < ch.threshold for i, n in enumerate(wrong)
    ):
        wrong = [n + 1 for n in wrong]
    assert not challenge.check(back, wrong)
    assert not challenge.check(back, [*nonces, 0])
    assert not challenge.check(back, ["1"] * ch.parts)


def test_a_sha256_solution_does_not_solve_an_argon2id_challenge() -> None:
    ch = argon2_challenge(difficulty=400)
    as_sha = challenge.Challenge(ch.sitekey, ch.host, ch.salt, ch.difficulty, ch.parts, ch.expires)
    sha_nonces = challenge.solve(as_sha)
    hits = [
        algorithms.argon2id_attempt(ch.salt, i, n) < ch.threshold for i, n in enumerate(sha_nonces)
    ]
    assert not all(hits) and not challenge.check(ch, sha_nonces)


@pytest.mark.parametrize(("old", "new"), [("|argon2id|", "|sha256|"), ("|60|", "|6|")])
def test_tampered_parameters_are_refused(old: str, new: str) -> None:
    text = challenge.encode(argon2_challenge(), RING)
    assert old in text
    with pytest.raises(challenge.ChallengeError):
        challenge.decode(text.replace(old, new), RING, NOW)


def test_parts_stay_few_where_attempts_cost_the_server() -> None:
    argon = algorithms.get("argon2id")
    assert argon.parts_for(argon.default_difficulty) == 3
    assert argon.parts_for(10**6) == argon.max_parts == 3
    assert algorithms.get("sha256").parts_for(120_000) == 6


def test_unknown_algorithms_are_named_in_the_error() -> None:
    with pytest.raises(algorithms.UnknownAlgorithm, match="sha256, argon2id"):
        algorithms.get("scrypt")

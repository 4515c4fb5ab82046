"""The proof-of-work core: issuing, encoding, tampering and checking solutions."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate import challenge
from passgate.signing import KeyRing, b64encode, sign

RING = KeyRing({"k1": b"k" * 32}, "k1")
NOW = 1_800_000_000.0


def make(difficulty: int = 500) -> challenge.Challenge:
    return challenge.issue("sk", "shop.example", difficulty, NOW, 300)


def test_roundtrip_keeps_every_field() -> None:
    ch = make()
    back = challenge.decode(challenge.encode(ch, RING), RING, NOW)
    assert (back.sitekey, back.host, back.salt, back.difficulty, back.parts, back.expires) == (
        ch.sitekey,
        ch.host,
        ch.salt,
        ch.difficulty,
        ch.parts,
        ch.expires,
    )


def test_solution_is_accepted_and_wrong_ones_are_not() -> None:
    ch = make()
    nonces = challenge.solve(ch)
    assert challenge.check(ch, nonces)
    bad = list(nonces)
    # find a nonce that does not solve part 0
    bad[0] = next(n for n in range(10**6) if challenge.attempt(ch.salt, 0, n) >= ch.threshold)
    assert not challenge.check(ch, bad)


@pytest.mark.parametrize("nonces", [None, [], "1", [1.5], [-1], [2**32], [True], {"a": 1}])
def test_malformed_solutions_are_refused(nonces: object) -> None:
    assert not challenge.check(make(), nonces)


def test_solution_for_another_challenge_fails() -> None:
    a, b = make(100_000), make(100_000)
    assert a.salt != b.salt
    assert not challenge.check(b, challenge.solve(a))


def test_expired_challenge_is_refused() -> None:
    text = challenge.encode(make(), RING)
    with pytest.raises(challenge.ChallengeError) as err:
        challenge.decode(text, RING, NOW + 301)
    assert err.value.code == "expired"


def test_unknown_key_is_refused() -> None:
    text = challenge.encode(make(), RING)
    with pytest.raises(challenge.ChallengeError):
        challenge.decode(text, KeyRing({"k2": b"z" * 32}, "k2"), NOW)


def test_raising_the_difficulty_in_the_payload_breaks_the_signature() -> None:
    text = challenge.encode(make(), RING)
    signed, _, sig = text.rpartition(".")
    fields = signed.split("|")
    fields[3] = "1"  # difficulty
    with pytest.raises(challenge.ChallengeError):
        challenge.decode("|".join(fields) + "." + sig, RING, NOW)


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes_decode(text: str) -> None:
    with pytest.raises(challenge.ChallengeError):
        challenge.decode(text, RING, NOW)


@settings(max_examples=200)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_any_single_byte_change_is_detected(pos: int, flip: int) -> None:
    text = challenge.encode(make(), RING)
    i = pos % len(text)
    changed = text[:i] + chr((ord(text[i]) + 1 + flip) % 128) + text[i + 1 :]
    if changed != text:
        with pytest.raises(challenge.ChallengeError):
            challenge.decode(changed, RING, NOW)


def test_difficulty_sets_expected_work() -> None:
    # threshold/2^32 per attempt, parts attempts chains: expected hashes ~ difficulty
    ch = make(160_000)
    expected = ch.parts * (2**32 / ch.threshold)
    assert 0.95 * 160_000 <= expected <= 1.05 * 160_000


def test_epoch_is_signed_and_optional() -> None:
    """A challenge names the Redis epoch its node last saw; the previous release's (`C1.`,
    seven fields) still decode, with no epoch, issue time or prefix."""
    ring = RING
    bound = challenge.issue("sk", "shop.example", 2000, NOW, 60, epoch=1_800_000_000_123)
    text = challenge.encode(bound, ring)
    assert challenge.decode(text, ring, NOW).epoch == 1_800_000_000_123
    tampered = text.replace("|1800000000123|", "|1800000000124|")
    with pytest.raises(challenge.ChallengeError):
        challenge.decode(tampered, ring, NOW)
    legacy = challenge.issue("sk", "shop.example", 2000, NOW, 60)
    signed = f"C1.sk|shop.example|{legacy.salt}|2000|{legacy.parts}|{legacy.expires}|{ring.current}"
    old_text = signed + "." + b64encode(sign(ring.current_key, signed.encode()))
    old = challenge.decode(old_text, ring, NOW)
    assert old.epoch is None and old.issued_ms is None and old.prefix == ""
    assert old.salt == legacy.salt and old.difficulty == 2000


def test_issue_time_and_prefix_are_signed() -> None:
    ch = challenge.issue("sk", "shop.example", 2000, NOW + 0.25, 60, prefix="0123456789abcdef")
    text = challenge.encode(ch, RING)
    back = challenge.decode(text, RING, NOW)
    assert back.issued_ms == int((NOW + 0.25) * 1000) and back.prefix == "0123456789abcdef"
    for old, new in (
        ("|0123456789abcdef|", "|0123456789abcdee|"),
        (f"|{back.issued_ms}|", f"|{back.issued_ms - 60_000}|"),
        ("|2000|", "|200|"),
    ):
        with pytest.raises(challenge.ChallengeError):
            challenge.decode(text.replace(old, new), RING, NOW)


def test_a_challenge_without_an_issue_time_round_trips() -> None:
    ch = challenge.Challenge("sk", "shop.example", "ab" * 16, 500, 1, int(NOW) + 60)
    back = challenge.decode(challenge.encode(ch, RING), RING, NOW)
    assert back.issued_ms is None and back.salt == ch.salt

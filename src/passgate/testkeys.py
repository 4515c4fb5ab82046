"""The published hCaptcha test keys: sitekeys that pass at once, and their siteverify answers."""

from __future__ import annotations

from dataclasses import dataclass

TEST_SECRET = "0x0000000000000000000000000000000000000000"  # noqa: S105 - published
TEST_HOSTNAME = "dummy-key-pass"


@dataclass(frozen=True)
class TestKey:
    sitekey: str
    token: str
    extra: dict[str, object]


TEST_KEYS = (
    TestKey("10000000-ffff-ffff-ffff-000000000001", "10000000-aaaa-bbbb-cccc-000000000001", {}),
    TestKey(
        "20000000-ffff-ffff-ffff-000000000002",
        "20000000-aaaa-bbbb-cccc-000000000002",
        {"score": 0, "score_reason": ["safe"]},
    ),
    TestKey(
        "30000000-ffff-ffff-ffff-000000000003",
        "30000000-aaaa-bbbb-cccc-000000000003",
        {"score": 1, "score_reason": ["bot"]},
    ),
)

BY_SITEKEY = {k.sitekey: k for k in TEST_KEYS}
BY_TOKEN = {k.token: k for k in TEST_KEYS}

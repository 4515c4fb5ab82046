"""passgate.stats: the per-process counts, difficulty bands, and the report read back."""

import pytest

from passgate import stats
from passgate.stats import HOUR, MINUTE, Row, Stats


@pytest.mark.parametrize(
    ("difficulty", "band"),
    [
        (1000, "1x"),
        (900, "1x"),
        (2000, "2x"),
        (2001, "8x"),
        (8000, "8x"),
        (32000, "32x"),
        (32001, "above"),
        (64000, "cap"),
        (99999, "cap"),
    ],
)
def test_bands_are_relative_to_the_base(difficulty: int, band: str) -> None:
    assert stats.band(difficulty, 1000, 64000) == band


def test_a_site_whose_cap_is_its_base_is_never_at_the_cap() -> None:
    assert stats.band(1000, 1000, 1000) == "1x"


def test_counts_land_in_their_minute_and_add_up() -> None:
    s = Stats()
    s.issued("A", 1000, 1000, 8000, 120.5)
    s.issued("A", 1000, 1000, 8000, 179.9)
    s.issued("A", 3000, 1000, 8000, 180.0)
    s.solved("A", 120_000, 121.5)
    assert s.pending == {
        (120, "A", "issued", "1x"): 2,
        (180, "A", "issued", "8x"): 1,
        (120, "A", "solved", ""): 1,
        (120, "A", "solve_time", "2"): 1,
        (120, "A", "solve_ms", ""): 1500,
    }


def test_solve_time_runs_from_the_signed_issue_time() -> None:
    seen: list[float] = []
    s = Stats(on_solve=seen.append)
    s.solved("A", 1_000_000, 1_007.0)  # issued at 1000 s, solved 7 s later
    s.solved("A", None, 1_007.0)  # a previous release's challenge: counted, not timed
    assert s.pending[(960, "A", "solve_time", "8")] == 1
    assert s.pending[(960, "A", "solve_ms", "")] == 7000
    assert s.pending[(960, "A", "solved", "")] == 2
    assert seen == [7.0]


def test_drain_takes_everything_and_a_failed_flush_keeps_it() -> None:
    s = Stats()
    s.replay("hcaptcha", "A", 60)
    taken = s.drain()
    assert s.pending == {} and taken == {(60, "A", "replay", "hcaptcha"): 1}
    s.keep(s.to_store(taken))  # the flush failed
    s.replay("hcaptcha", "A", 60)
    assert s.to_store(s.drain()) == {(60, "A", "replay", "hcaptcha"): 2}
    assert s.to_store({}) == {}


def test_not_counting_keeps_nothing() -> None:
    s = Stats(counting=False)
    s.issued("A", 1, 1, 2, 60)
    s.solved("A", 0, 60)
    s.verified("hcaptcha", "A", "success", "widget", 60)
    s.replay("hcaptcha", "A", 60)
    s.tokenapi("ci", "A", "ok", 60)
    assert s.pending == {}


def test_a_call_by_no_known_key_is_reported_apart() -> None:
    s = Stats()
    s.tokenapi(None, "", "unknown_key", 60)
    assert s.pending == {(60, "", "tokenapi", ":unknown_key"): 1}
    report = stats.summarize([Row(60, MINUTE, "", "tokenapi", ":unknown_key", 1)], 1e6, 300, 0, 1e6)
    calls = report["total"]["tokenapi"][stats.UNKNOWN_KEY]
    assert calls == {"minted": 0, "calls": 1, "outcomes": {"unknown_key": 1}}


def rows(*spec: tuple) -> list[Row]:
    return [
        Row(start, span, site, metric, label, n) for start, span, site, metric, label, n in spec
    ]


def test_summary_derives_expired_pass_rate_and_per_key_figures() -> None:
    lifetime = 300
    now = 10_000.0
    data = rows(
        (6000, MINUTE, "A", "issued", "1x", 8),
        (6000, MINUTE, "A", "issued", "cap", 2),
        (6000, MINUTE, "A", "solved", "", 7),
        (9900, MINUTE, "A", "issued", "1x", 5),  # its challenges may still be solved
        (9900, MINUTE, "A", "solved", "", 1),
        (6000, MINUTE, "A", "verify", "hcaptcha:success", 6),
        (6000, MINUTE, "A", "verify", "hcaptcha:already-seen-response", 2),
        (6000, MINUTE, "A", "verify", "hcaptcha:expired-input-response", 1),
        (6000, MINUTE, "A", "verified", "widget", 4),
        (6000, MINUTE, "A", "verified", "key:ci", 2),
        (6000, MINUTE, "A", "replay", "hcaptcha", 2),
        (6000, MINUTE, "A", "tokenapi", "ci:ok", 3),
        (6000, MINUTE, "A", "tokenapi", "ci:rate-limited", 1),
        (0, HOUR, "B", "issued", "1x", 4),
        (0, HOUR, "", "verify", "hcaptcha:invalid-input-secret", 3),
    )
    report = stats.summarize(data, now, lifetime, 0, now)
    a = report["sites"]["A"]
    assert a["challenges"] == {"issued": 15, "solved": 8, "expired": 3}
    assert a["difficulty"]["1x"] == 13 and a["difficulty"]["cap"] == 2
    assert a["siteverify"]["success"] == 6 and a["siteverify"]["failed"] == 3
    assert a["siteverify"]["failures"] == {"already-seen-response": 2, "expired-input-response": 1}
    assert a["replays"] == 2
    assert a["pass_rate"] == round(4 / 15, 4)  # widget successes only
    assert a["verified"] == {"widget": 4, "keys": {"ci": 2}, "by_interface": {}}
    assert a["tokenapi"]["ci"]["minted"] == 3 and a["tokenapi"]["ci"]["calls"] == 4
    assert report["sites"]["B"]["challenges"]["expired"] == 4
    assert report["total"]["challenges"]["issued"] == 19
    assert report["total"]["siteverify"]["failures"]["invalid-input-secret"] == 3
    assert report["sites"][""]["pass_rate"] is None


def test_percentiles_come_from_the_histogram() -> None:
    data = rows(
        (0, MINUTE, "A", "solve_time", "1", 50),
        (0, MINUTE, "A", "solve_time", "2", 44),
        (0, MINUTE, "A", "solve_time", "30", 6),
        (0, MINUTE, "A", "solve_ms", "", 150_000),
    )
    times = stats.summarize(data, 1e6, 300, 0, 1e6)["sites"]["A"]["solve_seconds"]
    assert times["count"] == 100 and times["mean"] == 1.5
    assert times["p50"] == 1.0  # the 50th of 100 ends the 0.5-1 s bucket
    assert 20 < times["p95"] <= 30


def test_series_buckets_by_step() -> None:
    data = rows(
        (0, MINUTE, "A", "issued", "1x", 1),
        (60, MINUTE, "A", "issued", "2x", 2),
        (3600, MINUTE, "A", "verify", "hcaptcha:success", 3),
        (3600, MINUTE, "A", "verify", "hcaptcha:bad-request", 1),
        (3660, MINUTE, "A", "tokenapi", "ci:ok", 4),
    )
    out = stats.series(data, HOUR)
    assert [b["t"] for b in out] == [0, 3600]
    assert out[0]["issued"] == 3
    assert (out[1]["success"], out[1]["failed"], out[1]["minted"]) == (3, 1, 4)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800), ("2w", 1209600)]
)
def test_durations(text: str, seconds: int) -> None:
    assert stats.parse_since(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1", "-1h", "1y", "0h", "1.5h", "9" * 20 + "w"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        stats.parse_since(text)


def test_the_text_report_counts_siteverify_by_interface() -> None:
    rows = [
        Row(60, MINUTE, "s", "verify", "hcaptcha:success", 4),
        Row(60, MINUTE, "s", "verify", "turnstile:success", 2),
        Row(60, MINUTE, "s", "verify", "turnstile:already-seen-response", 1),
        Row(60, MINUTE, "s", "verify", "recaptcha:invalid-input-secret", 3),
    ]
    text = stats.render_text(stats.summarize(rows, 1e6, 300, 0, 1e6))
    line = "  interfaces   hcaptcha 4 (4 ok)  recaptcha 3 (0 ok)  turnstile 3 (2 ok)"
    assert text.splitlines().count(line) == 2  # all sites, then the site

"""abuse.score: each signal, the marker rules, and how they combine."""

from __future__ import annotations

from passgate.abuse.score import REASONS, Signals, fastest_ms, score


def test_a_person_at_person_pace_scores_nothing() -> None:
    value, reasons = score(
        Signals(prefix_load=1.6, parent_load=3, solve_ms=900, difficulty=250_000, parts=12)
    )
    assert value == 0.0 and reasons == ["proof_of_work"]


def test_velocity_reaches_point_seven_by_the_tenth_solve() -> None:
    assert score(Signals(prefix_load=3))[0] == 0.0
    value, reasons = score(Signals(prefix_load=10))
    assert value >= 0.7 and "prefix_velocity" in reasons
    assert score(Signals(prefix_load=1000))[0] <= 0.9  # velocity alone is never certainty


def test_a_hot_parent_scores_a_rotating_source() -> None:
    value, reasons = score(Signals(prefix_load=1, parent_load=200))
    assert value >= 0.7 and reasons == ["proof_of_work", "network_velocity"]


def test_webdriver_alone_is_at_least_half_and_below_point_seven() -> None:
    value, reasons = score(Signals(prefix_load=1, markers=frozenset({"webdriver"})))
    assert 0.5 <= value < 0.7 and reasons == ["proof_of_work", "automation_webdriver"]


def test_no_client_marker_or_set_of_markers_reaches_point_seven() -> None:
    every = frozenset({"webdriver", "selenium", "phantom", "nightmare", "cdc", "made-up"})
    value, reasons = score(Signals(markers=every))
    assert value < 0.7
    assert reasons == ["proof_of_work", "automation_webdriver", "automation_marker"]
    assert score(Signals(markers=frozenset({"made-up"})))[0] == 0.0  # unknown: ignored


def test_faster_than_any_browser() -> None:
    floor = fastest_ms(8_000_000, 16)
    assert 50 < floor < 133  # 8M hashes at 60 M/s is 133 ms; the 1% quantile is lower
    value, reasons = score(Signals(solve_ms=floor / 2, difficulty=8_000_000, parts=16))
    assert value >= 0.7 and reasons == ["proof_of_work", "fast_solve"]
    assert score(Signals(solve_ms=floor * 2, difficulty=8_000_000, parts=16))[0] == 0.0
    assert score(Signals(solve_ms=None, difficulty=8_000_000, parts=16))[0] == 0.0


def test_many_open_challenges() -> None:
    assert score(Signals(open_challenges=8))[0] == 0.0
    value, reasons = score(Signals(open_challenges=40))
    assert value >= 0.7 and reasons == ["proof_of_work", "open_challenges"]


def test_signals_combine_as_independent_evidence() -> None:
    both, reasons = score(Signals(prefix_load=10, markers=frozenset({"webdriver"})))
    assert both > score(Signals(prefix_load=10))[0] and both <= 1.0
    assert reasons == ["proof_of_work", "prefix_velocity", "automation_webdriver"]


def test_allowlisted_sources_score_nothing() -> None:
    value, reasons = score(
        Signals(prefix_load=500, markers=frozenset({"webdriver"}), allowlisted=True)
    )
    assert (value, reasons) == (0.0, ["proof_of_work", "allowlisted"])


def test_every_reason_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "abuse.md").read_text()
    for code in [*REASONS, "automation", "key_NAME"]:
        assert f"`{code}`" in doc, code

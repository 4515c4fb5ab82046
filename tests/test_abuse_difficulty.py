"""abuse.difficulty: the curve rises with a source's recent solves, stops at the cap, and
falls back when the source goes quiet."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passgate.abuse import difficulty as d

BASE = 256
CAP = 1000 * BASE


def after(n: int, seconds: float = 60.0, parent: float = 0.0) -> int:
    """The price issued after n solves spread evenly over `seconds` (the last one now)."""
    count = sum(d.decay(1.0, seconds * i / max(1, n), seconds) for i in range(1, n + 1))
    return d.price(BASE, CAP, count, parent)


def test_quiet_source_pays_the_base() -> None:
    assert d.price(BASE, CAP, 0, 0) == BASE
    assert d.price(250_000, 8_000_000, 0.04, 0.3) <= 1.2 * 250_000


def test_ten_solves_at_most_double_and_a_thousand_at_least_a_hundredfold() -> None:
    one = after(1)
    assert after(10, seconds=1) / one <= 2  # ten in a burst: the worst case
    assert after(10) / one <= 2
    assert after(1000) / one >= 100  # a thousand spread over the minute: the mildest case
    assert after(1000, seconds=1) / one >= 100


def test_the_cap_holds_however_hot() -> None:
    assert d.price(BASE, CAP, 10**9, 10**9) == CAP
    assert d.price(250_000, 100_000, 10**6, 0) == 250_000  # a cap below base is the base


def test_decay_brings_an_attacked_prefix_back_within_ten_minutes() -> None:
    for rate_per_min in (100, 1_000, 100_000):
        count = rate_per_min * d.TAU / 60  # the steady state of a sustained attack
        later = d.decay(count, 0.0, 600.0)
        assert d.price(BASE, CAP, later, later) <= 2 * BASE, rate_per_min


def test_parent_counts_with_its_weight() -> None:
    alone = d.price(BASE, CAP, 10, 0)
    with_parent = d.price(BASE, CAP, 10, 80)
    assert with_parent > alone
    assert with_parent == d.price(BASE, CAP, 10 + 80 * d.PARENT_WEIGHT, 0)


def test_where_the_default_curve_meets_the_cap() -> None:
    load = d.cap_load(250_000, d.DEFAULT_MAX_DIFFICULTY)
    assert d.price(250_000, d.DEFAULT_MAX_DIFFICULTY, load * 0.99, 0) < d.DEFAULT_MAX_DIFFICULTY
    assert d.price(250_000, d.DEFAULT_MAX_DIFFICULTY, load * 1.01, 0) == d.DEFAULT_MAX_DIFFICULTY
    assert 100 < load < 250  # about 170 solves a minute from one prefix


def test_underpriced_only_far_below_and_never_at_the_cap() -> None:
    assert not d.underpriced(BASE, BASE, CAP, 0, 0)
    due = d.price(BASE, CAP, 100, 0)
    assert not d.underpriced(due // 2 + 1, BASE, CAP, 100, 0)
    assert d.underpriced(due // 3, BASE, CAP, 100, 0)
    assert not d.underpriced(CAP, BASE, CAP, 10**9, 0)


@given(st.floats(0, 1e6), st.floats(0, 1e6), st.floats(0, 1e6))
def test_price_is_monotonic_and_bounded(a: float, b: float, parent: float) -> None:
    lo, hi = sorted((a, b))
    p_lo, p_hi = d.price(BASE, CAP, lo, parent), d.price(BASE, CAP, hi, parent)
    assert BASE <= p_lo <= p_hi <= CAP


@pytest.mark.parametrize("age", [0.0, 30.0, 60.0, 600.0])
def test_decay_halves_as_it_should(age: float) -> None:
    import math

    assert d.decay(8.0, 100.0, 100.0 + age) == pytest.approx(8.0 * math.exp(-age / d.TAU))
    assert d.decay(8.0, 100.0, 50.0) == 8.0  # a clock behind: no growth, no decay

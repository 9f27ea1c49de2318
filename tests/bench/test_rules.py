"""The judgements of bench/load.py and bench/soak.py (bench/rules.py): where the load limit
lies and when a sampled series grows without bound. Pure functions: the "unit" tier."""

from __future__ import annotations

import math

import pytest

from bench.rules import Limit, Step, find_limit, growth, next_step, percentile, steps_up


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1 … 100
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([0.2, 5.0], 0.99) == 5.0  # one slow request of two is the p99
    assert percentile([], 0.99) == 0.0


def test_the_limit_is_the_step_before_p99_passes_the_bound() -> None:
    steps = [Step(4, 0.05, 0.0), Step(8, 0.2, 0.0), Step(16, 0.9, 0.0), Step(32, 1.4, 0.0)]
    assert find_limit(steps, 1.0) == Limit(served=16, passed_at=32)


def test_errors_over_their_bound_end_the_limit_even_when_answers_are_fast() -> None:
    steps = [Step(4, 0.05, 0.0), Step(8, 0.05, 0.2)]
    assert find_limit(steps, 1.0, max_error_rate=0.01) == Limit(served=4, passed_at=8)


def test_a_faster_step_after_the_limit_does_not_move_it() -> None:
    steps = [Step(32, 0.3, 0.0), Step(8, 0.1, 0.0), Step(16, 1.2, 0.0)]
    assert find_limit(steps, 1.0) == Limit(served=8, passed_at=16)


def test_no_step_over_the_bound_leaves_the_limit_beyond_the_last() -> None:
    limit = find_limit([Step(4, 0.1, 0.0), Step(8, 0.2, 0.0)], 1.0)
    assert limit == Limit(served=8, passed_at=None)
    assert "beyond" in limit.describe(1.0)


def test_over_the_bound_at_the_first_step_serves_none() -> None:
    assert find_limit([Step(4, 2.0, 0.0)], 1.0) == Limit(served=0, passed_at=4)


def test_steps_grow_by_the_factor_and_always_by_one_at_least() -> None:
    assert next_step(4) == 8
    assert next_step(1, 1.2) == 2
    assert steps_up(4, 2.0, 128) == [4, 8, 16, 32, 64, 128]
    assert steps_up(4, 2.0, 100) == [4, 8, 16, 32, 64]
    assert steps_up(1, 1.5, 5) == [1, 2, 3, 4]


def test_a_first_step_beyond_the_last_is_refused() -> None:
    with pytest.raises(ValueError, match="first step"):
        steps_up(8, 2.0, 4)


TIMES = [5.0 * i for i in range(40)]  # a sample every 5 s for 200 s


def test_a_steady_climb_through_the_second_half_grows_without_bound() -> None:
    leak = [100.0 + 0.5 * t for t in TIMES]  # +0.5 MiB/s
    found = growth(TIMES, leak, absolute=16.0)
    assert found.unbounded
    assert found.slope == pytest.approx(0.5)
    assert found.rise == pytest.approx(0.5 * (TIMES[-1] - TIMES[20]))


def test_a_series_that_levels_off_after_warming_up_is_bounded() -> None:
    warming = [100.0 + 60.0 * (1 - math.exp(-t / 15)) for t in TIMES]  # a pool filling
    assert not growth(TIMES, warming, absolute=16.0).unbounded


def test_noise_around_a_level_is_bounded_however_wide() -> None:
    noisy = [50.0 + (30.0 if i % 2 else -30.0) for i in range(len(TIMES))]
    found = growth(TIMES, noisy, absolute=5.0)
    assert found.r2 < 0.5
    assert not found.unbounded


def test_a_climb_below_the_tolerance_is_bounded() -> None:
    slow = [200.0 + 0.01 * t for t in TIMES]  # 1 MiB over the second half
    found = growth(TIMES, slow, absolute=16.0)
    assert found.rise < found.allowed
    assert not found.unbounded


def test_the_tolerance_is_relative_to_the_level_when_that_is_larger() -> None:
    found = growth(TIMES, [1000.0] * len(TIMES), absolute=16.0, relative=0.1)
    assert found.allowed == pytest.approx(100.0)
    assert not found.unbounded  # flat


def test_too_few_samples_cannot_be_judged_and_pass() -> None:
    assert not growth([0.0, 5.0, 10.0], [1.0, 50.0, 100.0], absolute=1.0).unbounded


def test_times_and_values_must_match() -> None:
    with pytest.raises(ValueError, match="length"):
        growth([0.0, 1.0], [1.0], absolute=1.0)

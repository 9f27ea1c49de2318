"""The judgements of the load and soak benchmarks, kept free of I/O so that a unit test holds
them (tests/bench/test_rules.py): percentiles, where the load limit lies, and when a sampled
series grows without bound.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q ≤ 1) of ``values``; 0.0 when there are none.
    Nearest rank: a p99 of 100 latencies is the 99th, never an interpolated value below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# -- the load limit -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One step of the load: this many customers, the p99 of every request in it (seconds)
    and the share of requests that failed."""

    customers: int
    p99: float
    error_rate: float


@dataclass(frozen=True)
class Limit:
    """``served``: the most customers of a step still within the bounds (0 if none was);
    ``passed_at``: the first step's customers that broke them (None if none did, the limit
    then lies beyond the steps measured)."""

    served: int
    passed_at: int | None

    def describe(self, p99_bound: float) -> str:
        if self.passed_at is None:
            return (
                f"p99 stayed within {p99_bound:.1f} s up to {self.served} customers"
                " (the limit lies beyond; measure further with --max-customers)"
            )
        if self.served == 0:
            return f"p99 passed {p99_bound:.1f} s already at {self.passed_at} customers"
        return (
            f"p99 passes {p99_bound:.1f} s between {self.served} and {self.passed_at}"
            f" customers: the limit on this machine is {self.served} customers"
        )


def over(step: Step, p99_bound: float, max_error_rate: float) -> bool:
    """A step is over the limit when its p99 passes the bound or too many requests failed
    (a stack that answers errors quickly is not within its limit)."""
    return step.p99 > p99_bound or step.error_rate > max_error_rate


def find_limit(
    steps: Sequence[Step], p99_bound: float = 1.0, max_error_rate: float = 0.01
) -> Limit:
    """The limit from steps measured in increasing numbers of customers: the last step before
    the first one over the bounds. Later steps do not count once one was over — an overloaded
    stack that happens to answer one step faster has not recovered its limit."""
    served = 0
    for step in sorted(steps, key=lambda s: s.customers):
        if over(step, p99_bound, max_error_rate):
            return Limit(served, step.customers)
        served = step.customers
    return Limit(served, None)


def next_step(customers: int, factor: float = 2.0) -> int:
    """The next number of customers: ``factor`` times as many, at least one more."""
    return max(customers + 1, round(customers * factor))


def steps_up(start: int, factor: float, most: int) -> list[int]:
    """The customers of each step: ``start``, then ``factor`` times as many each step, up to
    ``most``."""
    if start < 1 or start > most:
        raise ValueError(f"the first step ({start}) must lie between 1 and the last ({most})")
    steps = [start]
    while (following := next_step(steps[-1], factor)) <= most:
        steps.append(following)
    return steps


# -- growth without bound ------------------------------------------------------------------------
@dataclass(frozen=True)
class Growth:
    """The linear fit over the second half of a series: ``slope`` per second, ``rise`` (the
    fit's rise over that half), ``r2`` (how much of the variation the line explains),
    ``allowed`` (the rise tolerated) and the verdict ``unbounded``."""

    slope: float
    rise: float
    r2: float
    allowed: float
    unbounded: bool


def growth(
    times: Sequence[float],
    values: Sequence[float],
    *,
    absolute: float,
    relative: float = 0.10,
    min_r2: float = 0.5,
) -> Growth:
    """Whether a sampled series grows without bound, judged on its second half (the first
    half is warm-up: pools fill, caches fill, the allocator takes its arenas).

    Over the second half a least-squares line is fitted. The series grows without bound when
    the line rises by more than ``allowed`` = max(``absolute``, ``relative`` × the series'
    median over that half) AND the line explains at least ``min_r2`` of the variation — a
    steady climb, not the noise of a series that moves up and down around a level. A series
    that levels off (a pool that filled, a cache at its size) has a flat second half and
    passes; a leak climbs steadily through both halves and fails, however slowly, once the
    run is long enough for its rise to pass the tolerance.
    """
    if len(times) != len(values):
        raise ValueError("times and values differ in length")
    half = len(times) // 2
    xs, ys = list(times[half:]), list(values[half:])
    level = statistics.median(ys) if ys else 0.0
    allowed = max(absolute, relative * abs(level))
    if len(xs) < 3 or xs[-1] == xs[0]:
        return Growth(0.0, 0.0, 0.0, allowed, False)
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    syy = sum((y - mean_y) ** 2 for y in ys)
    slope = sxy / sxx
    r2 = (sxy * sxy) / (sxx * syy) if syy else 0.0
    rise = slope * (xs[-1] - xs[0])
    return Growth(slope, rise, r2, allowed, rise > allowed and r2 >= min_r2)

"""Consumption per month derived from the readings: each interval between consecutive
registers of a meter is spread over its days (whole litres)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from ..common.values import THOUSANDTH
from .domain import Point


@dataclass(frozen=True, slots=True)
class Series:
    """One meter's accepted registers in order (initial reading first, final last)."""

    serial: str
    kind: str
    points: tuple[Point, ...]


@dataclass
class Month:
    month: str  # YYYY-MM
    litres: dict[str, int] = field(default_factory=lambda: {"main": 0, "garden": 0})
    days: int = 0  # days of the month some main meter measured (overlapping meters once)

    @property
    def water(self) -> Decimal:
        return Decimal(self.litres["main"]) / 1000

    @property
    def garden(self) -> Decimal:
        return Decimal(self.litres["garden"]) / 1000

    def average_per_day(self) -> Decimal | None:
        if not self.days:
            return None
        return (self.water / self.days).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)


def measured_days(spans: Iterable[tuple[dt.date, dt.date]]) -> int:
    """Days within the union of ``spans`` (first, last; inclusive)."""
    count, reached = 0, None
    for first, last in sorted(spans):
        if reached is not None and first <= reached:
            first = reached + dt.timedelta(days=1)
        if last >= first:
            count += (last - first).days + 1
            reached = last
    return count


def _litres(value: Decimal) -> int:
    return int((value * 1000).to_integral_value())


def _month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def spread(start: dt.date, end: dt.date, litres: int) -> list[tuple[dt.date, dt.date, int]]:
    """``litres`` used over the days after ``start`` up to ``end``, cut at month ends in
    proportion to the days (whole litres; the parts add up exactly). Same day: all on it."""
    total_days = (end - start).days
    if total_days <= 0:
        return [(end, end, litres)]
    parts = []
    allocated = covered = 0
    day = start + dt.timedelta(days=1)
    while day <= end:
        last = min(_month_end(day), end)
        covered += (last - day).days + 1
        upto = (2 * litres * covered + total_days) // (2 * total_days)  # half up
        parts.append((day, last, upto - allocated))
        allocated = upto
        day = last + dt.timedelta(days=1)
    return parts


def monthly_consumption(series: Iterable[Series]) -> dict[str, Month]:
    """Consumption per month derived from readings: each interval between consecutive
    registers of a meter is spread over its days. Water (main meters) and garden water are
    kept apart; a replaced meter's series ends at its final reading and the new one starts
    at its initial reading, so no water is counted across a replacement.

    The rule's statement: the service derives the same in PostgreSQL
    (``readings.repository.monthly_consumption``), which the tests hold to this."""
    months: dict[str, Month] = {}
    spans: dict[str, list[tuple[dt.date, dt.date]]] = {}  # main meters measured
    for s in series:
        for previous, current in zip(s.points, s.points[1:], strict=False):
            used = _litres(current.value) - _litres(previous.value)
            for first, last, litres in spread(previous.read_on, current.read_on, used):
                key = _month_key(first)
                month = months.setdefault(key, Month(key))
                month.litres[s.kind] += litres
                if s.kind == "main" and previous.read_on < current.read_on:
                    spans.setdefault(key, []).append((first, last))
    for key, month in months.items():
        month.days = measured_days(spans.get(key, ()))
    return dict(sorted(months.items()))


def measured_total(series: Iterable[Series], kind: str) -> Decimal:
    """Water a kind of meter measured: last minus first register of each meter."""
    total = Decimal("0.000")
    for s in series:
        if s.kind == kind and s.points:
            total += s.points[-1].value - s.points[0].value
    return total

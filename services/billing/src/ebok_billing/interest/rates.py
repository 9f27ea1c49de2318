"""The NBP reference rate table and the statutory late-payment rates derived from it.

The table is data, not code: one row per NBP decision (the date the new reference rate took
effect and the rate in percent). When NBP changes the rate an operator adds a row; the
service ships `data/nbp_reference_rates.csv` as its starting point (read by the use cases).

Two statutory rates follow the reference rate:

* households — "odsetki ustawowe za opóźnienie" (art. 481 § 2 of the Civil Code):
  reference rate + 5.5 points, changing on the very day the reference rate changes;
* businesses — "odsetki ustawowe za opóźnienie w transakcjach handlowych" (art. 4 pkt 3
  of the act of 8 March 2013): reference rate + 10 points, where the reference rate is the
  one in force on 1 January for the first half of the year and on 1 July for the second
  half. The commercial rate therefore changes only on 1 January and 1 July, not on the
  day NBP moves (this is the rate the minister announces twice a year).
"""

from __future__ import annotations

import bisect
import csv
import enum
import io
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

CSV_HEADER = ("effective_from", "reference_rate_percent")


class RateTableError(ValueError):
    """The rows do not form a valid rate table."""


class RateUnavailableError(ValueError):
    """The table has no rate for the requested day (it is before the table's first row)."""


class InterestKind(enum.StrEnum):
    """Which statutory late-payment interest applies to a receivable."""

    HOUSEHOLD = "household"
    COMMERCIAL = "commercial"

    @property
    def polish_name(self) -> str:
        """The statutory name, for display to customers."""
        return _POLISH_NAMES[self]

    @property
    def legal_basis(self) -> str:
        """The provision the rate comes from, in Polish, for interest notes."""
        return _LEGAL_BASES[self]

    @property
    def margin_points(self) -> Decimal:
        """Percentage points added to the NBP reference rate."""
        return _MARGINS[self]

    @property
    def fixed_per_half_year(self) -> bool:
        """Whether the reference rate is fixed on 1 January / 1 July for the half-year."""
        return self is InterestKind.COMMERCIAL


_POLISH_NAMES = {
    InterestKind.HOUSEHOLD: "odsetki ustawowe za opóźnienie",
    InterestKind.COMMERCIAL: "odsetki ustawowe za opóźnienie w transakcjach handlowych",
}
_LEGAL_BASES = {
    InterestKind.HOUSEHOLD: "art. 481 § 2 Kodeksu cywilnego",
    InterestKind.COMMERCIAL: (
        "art. 4 pkt 3 ustawy z dnia 8 marca 2013 r. o przeciwdziałaniu nadmiernym "
        "opóźnieniom w transakcjach handlowych"
    ),
}
_MARGINS = {
    InterestKind.HOUSEHOLD: Decimal("5.5"),
    InterestKind.COMMERCIAL: Decimal("10"),
}


def interest_kind(client_kind: str) -> InterestKind:
    """Households pay civil-law interest; businesses the commercial-transactions rate."""
    return InterestKind.COMMERCIAL if client_kind == "business" else InterestKind.HOUSEHOLD


@dataclass(frozen=True)
class RateRow:
    """One NBP decision: the reference rate in force from `effective_from` onwards."""

    effective_from: date
    reference_rate_percent: Decimal


@dataclass(frozen=True)
class RatePeriod:
    """A run of consecutive days (both ends inclusive) with one statutory annual rate."""

    start: date
    end: date
    annual_rate_percent: Decimal

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class RateTable:
    """NBP reference rates by the date they took effect, strictly increasing by date."""

    rows: tuple[RateRow, ...]

    def __post_init__(self) -> None:
        # Accept any sequence but keep a tuple, so the table stays immutable and hashable.
        object.__setattr__(self, "rows", tuple(self.rows))
        _validate_rows(self.rows)

    @classmethod
    def from_rows(cls, rows: Iterable[RateRow | tuple[date, Decimal]]) -> RateTable:
        """Build from rows, e.g. as kept in the database."""
        return cls(tuple(row if isinstance(row, RateRow) else RateRow(*row) for row in rows))

    @classmethod
    def from_csv(cls, text: str) -> RateTable:
        """Build from CSV text with the header ``effective_from,reference_rate_percent``."""
        return cls(tuple(_parse_csv(text)))

    def with_row(self, row: RateRow) -> RateTable:
        """A new table with an operator's row appended (it must be later than the last)."""
        return RateTable((*self.rows, row))

    @property
    def first_date(self) -> date:
        return self.rows[0].effective_from

    def first_day(self, kind: InterestKind) -> date:
        """The earliest day for which a statutory rate of `kind` can be computed."""
        if not kind.fixed_per_half_year:
            return self.first_date
        start = _half_year_start(self.first_date)
        return start if start == self.first_date else _next_half_year_start(self.first_date)

    def reference_rate_on(self, day: date) -> Decimal:
        """The NBP reference rate in force on `day`."""
        index = bisect.bisect_right(self._dates, day) - 1
        if index < 0:
            raise RateUnavailableError(
                f"no NBP reference rate known for {day.isoformat()}: "
                f"the rate table starts on {self.first_date.isoformat()}"
            )
        return self.rows[index].reference_rate_percent

    def statutory_rate_on(self, day: date, kind: InterestKind) -> Decimal:
        """The annual statutory late-payment rate of `kind` (percent) on `day`."""
        if not kind.fixed_per_half_year:
            return self.reference_rate_on(day) + kind.margin_points
        fixing_day = _half_year_start(day)
        try:
            reference = self.reference_rate_on(fixing_day)
        except RateUnavailableError as exc:
            raise RateUnavailableError(
                f"the commercial rate for {day.isoformat()} is fixed by the NBP reference "
                f"rate in force on {fixing_day.isoformat()}, but the rate table starts on "
                f"{self.first_date.isoformat()}"
            ) from exc
        return reference + kind.margin_points

    def rate_periods(self, start: date, end: date, kind: InterestKind) -> list[RatePeriod]:
        """Split the days `start`..`end` (inclusive) wherever the statutory rate changes."""
        if end < start:
            raise ValueError(f"period ends ({end}) before it starts ({start})")
        starts = [start, *self._change_days(start, end, kind)]
        ends = [*(_day_before(day) for day in starts[1:]), end]
        periods: list[RatePeriod] = []
        for period_start, period_end in zip(starts, ends, strict=True):
            rate = self.statutory_rate_on(period_start, kind)
            if periods and periods[-1].annual_rate_percent == rate:
                # An unchanged rate is no change a customer needs to see: extend the run.
                periods[-1] = RatePeriod(periods[-1].start, period_end, rate)
            else:
                periods.append(RatePeriod(period_start, period_end, rate))
        return periods

    @property
    def _dates(self) -> list[date]:
        return [row.effective_from for row in self.rows]

    def _change_days(self, start: date, end: date, kind: InterestKind) -> list[date]:
        """Days after `start`, up to `end`, on which the rate of `kind` may change."""
        if kind.fixed_per_half_year:
            days = []
            day = _next_half_year_start(start)
            while day <= end:
                days.append(day)
                day = _next_half_year_start(day)
            return days
        return [d for d in self._dates if start < d <= end]


def _validate_rows(rows: tuple[RateRow, ...]) -> None:
    if not rows:
        raise RateTableError("the rate table has no rows")
    for row in rows:
        _validate_row(row)
    for earlier, later in itertools.pairwise(rows):
        if later.effective_from <= earlier.effective_from:
            raise RateTableError(
                f"rows must be strictly increasing by date: {later.effective_from.isoformat()} "
                f"follows {earlier.effective_from.isoformat()}"
            )


def _validate_row(row: RateRow) -> None:
    # datetime is a date subclass, but comparing it with dates fails later: refuse it now.
    if isinstance(row.effective_from, datetime) or not isinstance(row.effective_from, date):
        raise RateTableError(f"effective_from must be a date, got {row.effective_from!r}")
    rate = row.reference_rate_percent
    if not isinstance(rate, Decimal) or not rate.is_finite():
        raise RateTableError(f"the rate must be a finite Decimal, got {rate!r}")
    if rate < 0:
        raise RateTableError(
            f"negative reference rate {rate} from {row.effective_from.isoformat()}"
        )


def _parse_csv(text: str) -> list[RateRow]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(cell.strip() for cell in header) != CSV_HEADER:
        raise RateTableError(f"the CSV must start with the header {','.join(CSV_HEADER)}")
    return [
        _parse_csv_row(cells, reader.line_num) for cells in reader if any(c.strip() for c in cells)
    ]


def _parse_csv_row(cells: list[str], line: int) -> RateRow:
    if len(cells) != len(CSV_HEADER):
        raise RateTableError(f"line {line}: expected 2 columns, got {len(cells)}")
    raw_date, raw_rate = (cell.strip() for cell in cells)
    try:
        effective_from = date.fromisoformat(raw_date)
        rate = Decimal(raw_rate)
    except (ValueError, InvalidOperation) as exc:
        raise RateTableError(f"line {line}: cannot read {raw_date!r}, {raw_rate!r}") from exc
    return RateRow(effective_from, rate)


def _half_year_start(day: date) -> date:
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def _next_half_year_start(day: date) -> date:
    return date(day.year, 7, 1) if day.month <= 6 else date(day.year + 1, 1, 1)


def _day_before(day: date) -> date:
    return date.fromordinal(day.toordinal() - 1)

"""readings domain rules: pure functions and values, no I/O.

Values are m³ as ``Decimal`` with three decimals (a litre is 0.001 m³); on the wire they are
strings ("123.456"). Dates are the utility's local dates (``clock.today()``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

CLIENT_NUMBER_RE = re.compile(r"^\d{6}$")
CONTRACT_NUMBER_RE = re.compile(r"^[A-Z0-9/-]{3,40}$")
METER_SERIAL_RE = re.compile(r"^[A-Z0-9-]{3,30}$")
SEAL_NUMBER_RE = re.compile(r"^[A-Za-z0-9/-]{1,30}$")
_M3_RE = re.compile(r"^\d+([.,]\d+)?$")

THOUSANDTH = Decimal("0.001")
MAX_M3 = Decimal("999999999.999")
MAX_DAYS_FOR_DATE_GAP = 36600

MeterKind = Literal["main", "garden"]
Source = Literal["customer", "inspector", "remote", "estimate"]
Status = Literal["accepted", "to_verify", "rejected"]
Role = Literal["initial", "regular", "final"]
ROLE_ORDER = {"initial": 0, "regular": 1, "final": 2}
FEED_SOURCES = ("inspector", "remote", "estimate")


class Refusal(Exception):
    """A request the rules refuse: a Polish ``detail`` for people, the ``field`` it concerns
    and its ``reason``; handlers turn it into a problem, the feed into a line error."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.reason = reason or detail
        self.extra = extra


def invalid(field: str, reason: str, code: str = "validation", **extra: Any) -> Refusal:
    return Refusal(422, code, f"{field}: {reason}", field=field, reason=reason, **extra)


# -- values ------------------------------------------------------------------------------


def parse_m3(raw: object, field: str = "value") -> Decimal:
    """A meter register in m³ from the wire ("123.456"; a comma is taken for the point)."""
    if isinstance(raw, bool) or not isinstance(raw, str):
        raise invalid(field, 'podaj stan jako tekst, np. "123.456"')
    text = raw.strip()
    if text.startswith("-"):
        raise invalid(field, "stan wodomierza nie może być ujemny")
    if not _M3_RE.match(text):
        raise invalid(field, "to nie jest liczba (podaj stan w m³, np. 123.456)")
    whole, _, fraction = text.replace(",", ".").partition(".")
    if len(fraction) > 3:
        raise invalid(field, "najwyżej 3 cyfry po przecinku (dokładność do 0,001 m³)")
    if len(whole.lstrip("0")) > 9:
        raise invalid(field, "wartość jest za duża (najwyżej 999999999,999 m³)")
    try:
        return Decimal(whole + "." + (fraction or "0")).quantize(THOUSANDTH)
    except InvalidOperation:  # pragma: no cover - the pattern keeps this out
        raise invalid(field, "to nie jest liczba") from None


def m3(value: Decimal) -> str:
    """m³ on the wire: a string with three decimals."""
    return f"{value.quantize(THOUSANDTH, rounding=ROUND_HALF_UP):f}"


def pl_m3(value: Decimal) -> str:
    """m³ for people: Polish decimal comma."""
    return m3(value).replace(".", ",") + " m³"


def pl_date(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def parse_date(raw: object, field: str) -> dt.date:
    if not isinstance(raw, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raise invalid(field, "nieprawidłowa data (oczekiwano RRRR-MM-DD)")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise invalid(field, "taka data nie istnieje") from None


def add_years(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# -- one reading against the meter and its neighbours -------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    """A meter register on a day; ``role`` orders the readings of one day."""

    read_on: dt.date
    value: Decimal
    role: str = "regular"

    @property
    def key(self) -> tuple[dt.date, int]:
        return (self.read_on, ROLE_ORDER[self.role])


@dataclass(frozen=True, slots=True)
class MeterFacts:
    serial: str
    kind: str
    installed_on: dt.date
    removed_on: dt.date | None
    contract_from: dt.date
    contract_to: dt.date | None


def check_date(facts: MeterFacts, read_on: dt.date, today: dt.date, field: str = "read_on") -> None:
    if read_on > today:
        raise invalid(field, "data odczytu nie może być z przyszłości")
    if read_on < facts.contract_from:
        raise invalid(
            field,
            f"data jest wcześniejsza niż data zawarcia umowy ({pl_date(facts.contract_from)})",
        )
    if read_on < facts.installed_on:
        raise invalid(
            field,
            f"data jest wcześniejsza niż montaż wodomierza ({pl_date(facts.installed_on)})",
        )
    if facts.contract_to is not None and read_on > facts.contract_to:
        raise invalid(
            field, f"data jest późniejsza niż rozwiązanie umowy ({pl_date(facts.contract_to)})"
        )
    if facts.removed_on is not None and read_on > facts.removed_on:
        raise invalid(
            field, f"data jest późniejsza niż demontaż wodomierza ({pl_date(facts.removed_on)})"
        )


def check_order(
    value: Decimal, previous: Point | None, following: Point | None, field: str = "value"
) -> None:
    """A register never runs backwards on one meter (a replaced meter is another meter)."""
    if previous is not None and value < previous.value:
        raise invalid(
            field,
            f"stan {pl_m3(value)} jest niższy niż poprzedni odczyt {pl_m3(previous.value)} "
            f"z dnia {pl_date(previous.read_on)}",
            code="reading-below-previous",
        )
    if following is not None and value > following.value:
        raise invalid(
            field,
            f"stan {pl_m3(value)} jest wyższy niż późniejszy odczyt {pl_m3(following.value)} "
            f"z dnia {pl_date(following.read_on)}",
            code="reading-above-next",
        )


def daily(previous: Point, value: Decimal, read_on: dt.date) -> Decimal:
    """m³ a day since ``previous`` (a same-day difference counts as one day)."""
    days = max((read_on - previous.read_on).days, 1)
    return ((value - previous.value) / days).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)


def baseline(
    points: Sequence[Point], upto: dt.date, window_days: int, min_days: int
) -> Decimal | None:
    """The meter's own average m³ a day over about ``window_days`` up to ``upto`` (from its
    sorted accepted points: the last one on or before ``upto`` against the last one a window
    earlier, or the first one); None with less than ``min_days`` of history."""
    upto_points = [p for p in points if p.read_on <= upto]
    if len(upto_points) < 2:
        return None
    start = upto - dt.timedelta(days=window_days)
    older = [p for p in upto_points if p.read_on <= start]
    first, last = (older[-1] if older else upto_points[0]), upto_points[-1]
    days = (last.read_on - first.read_on).days
    if days < min_days:
        return None
    return ((last.value - first.value) / days).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Thresholds:
    ceiling: Decimal
    factor: Decimal
    min_excess: Decimal
    leak_factor: Decimal
    leak_min_excess: Decimal


@dataclass(frozen=True, slots=True)
class Assessment:
    daily: Decimal | None
    baseline: Decimal | None
    unusual: bool
    leak: bool


def assess(
    kind: str, daily_m3: Decimal | None, baseline_m3: Decimal | None, t: Thresholds
) -> Assessment:
    """Is this daily consumption far above the meter's own history or a sane ceiling
    (unusual: needs confirmation), and does it look like a leak (main meters only)?"""
    if daily_m3 is None:
        return Assessment(None, baseline_m3, False, False)
    unusual = daily_m3 > t.ceiling
    leak = False
    if baseline_m3 is not None:
        unusual = unusual or (
            daily_m3 > baseline_m3 * t.factor and daily_m3 - baseline_m3 > t.min_excess
        )
        leak = (
            kind == "main"
            and daily_m3 > baseline_m3 * t.leak_factor
            and daily_m3 - baseline_m3 >= t.leak_min_excess
        )
    return Assessment(daily_m3, baseline_m3, unusual, leak)


# -- consumption per month ----------------------------------------------------------------


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
    spans: list[tuple[dt.date, dt.date]] = field(default_factory=list)  # main meters measured

    @property
    def days(self) -> int:
        """Days of the month some main meter measured (overlapping meters count once)."""
        count, reached = 0, None
        for first, last in sorted(self.spans):
            if reached is not None and first <= reached:
                first = reached + dt.timedelta(days=1)
            if last >= first:
                count += (last - first).days + 1
                reached = last
        return count

    @property
    def water(self) -> Decimal:
        return Decimal(self.litres["main"]) / 1000

    @property
    def garden(self) -> Decimal:
        return Decimal(self.litres["garden"]) / 1000

    def average_per_day(self) -> Decimal | None:
        days = self.days
        if not days:
            return None
        return (self.water / days).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)


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
    at its initial reading, so no water is counted across a replacement."""
    months: dict[str, Month] = {}
    for s in series:
        for previous, current in zip(s.points, s.points[1:], strict=False):
            used = _litres(current.value) - _litres(previous.value)
            for first, last, litres in spread(previous.read_on, current.read_on, used):
                key = _month_key(first)
                month = months.setdefault(key, Month(key))
                month.litres[s.kind] += litres
                if s.kind == "main" and previous.read_on < current.read_on:
                    month.spans.append((first, last))
    return dict(sorted(months.items()))


def measured_total(series: Iterable[Series], kind: str) -> Decimal:
    """Water a kind of meter measured: last minus first register of each meter."""
    total = Decimal("0.000")
    for s in series:
        if s.kind == kind and s.points:
            total += s.points[-1].value - s.points[0].value
    return total


# -- reading windows ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    opens_on: dt.date
    closes_on: dt.date


@dataclass(frozen=True, slots=True)
class WindowState:
    open: bool
    current: Window | None
    next: Window | None


def window_state(mode: str, windows: Sequence[Window], today: dt.date) -> WindowState:
    if mode == "always":
        return WindowState(True, None, None)
    current = next((w for w in windows if w.opens_on <= today <= w.closes_on), None)
    upcoming = sorted((w for w in windows if w.opens_on > today), key=lambda w: w.opens_on)
    return WindowState(current is not None, current, upcoming[0] if upcoming else None)


def window_closed(state: WindowState) -> Refusal:
    if state.next is not None:
        detail = (
            "Odczyty przyjmujemy tylko w wyznaczonych okresach. Najbliższy okres trwa od "
            f"{pl_date(state.next.opens_on)} do {pl_date(state.next.closes_on)}."
        )
    else:
        detail = (
            "Odczyty przyjmujemy tylko w wyznaczonych okresach; kolejny okres nie został "
            "jeszcze wyznaczony."
        )
    return Refusal(
        409,
        "reading-window-closed",
        detail,
        field="read_on",
        reason="okres przyjmowania odczytów jest zamknięty",
        next_window_opens_on=state.next.opens_on.isoformat() if state.next else None,
        next_window_closes_on=state.next.closes_on.isoformat() if state.next else None,
    )


def overlapping(windows: Sequence[Window]) -> tuple[int, int] | None:
    """Indexes of two windows that overlap, if any."""
    ordered = sorted(range(len(windows)), key=lambda i: windows[i].opens_on)
    for a, b in itertools.pairwise(ordered):
        if windows[b].opens_on <= windows[a].closes_on:
            return (a, b)
    return None


# -- garden-meter assistant ---------------------------------------------------------------


def month_days(values: Sequence[str]) -> list[tuple[int, int]]:
    return sorted((int(v[:2]), int(v[3:])) for v in values)


def next_reading_dates(today: dt.date, dates: Sequence[str], count: int = 2) -> list[dt.date]:
    """The next ``count`` mandatory garden-meter reading dates from ``today`` on."""
    found: list[dt.date] = []
    year = today.year
    while len(found) < count and dates:
        for month, day in month_days(dates):
            due = dt.date(year, month, day)
            if due >= today:
                found.append(due)
                if len(found) == count:
                    break
        year += 1
    return found


@dataclass(frozen=True, slots=True)
class Reminder:
    kind: Literal["reading", "legalisation"]
    due_on: dt.date


def reminders_due(
    today: dt.date,
    *,
    installed_on: dt.date,
    sealed_on: dt.date | None,
    last_read_on: dt.date | None,
    dates: Sequence[str],
    reading_lead_days: int,
    legalisation_years: int,
    legalisation_lead_days: int,
) -> list[Reminder]:
    """Reminders an installed garden meter is due today: before each mandatory reading date
    (unless a reading was already given in the lead time) and before its legalisation
    expires. A day the scheduler missed is caught up while the due date has not passed."""
    due: list[Reminder] = []
    for due_on in next_reading_dates(today, dates, count=len(dates) or 1):
        starts = due_on - dt.timedelta(days=reading_lead_days)
        if starts <= today <= due_on and installed_on < due_on:
            if last_read_on is None or last_read_on < starts:
                due.append(Reminder("reading", due_on))
    if sealed_on is not None:
        expires = add_years(sealed_on, legalisation_years)
        if expires - dt.timedelta(days=legalisation_lead_days) <= today <= expires:
            due.append(Reminder("legalisation", expires))
    return due

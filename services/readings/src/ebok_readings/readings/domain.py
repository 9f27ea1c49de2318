"""Rules of one reading: its date against the meter and the contract, the order of registers,
plausibility and leaks against the meter's own history, and the reading windows."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from ebok_shared.refusals import Refusal, invalid, invalid_fields

from ..common.values import THOUSANDTH, m3, pl_date, pl_m3

ROLE_ORDER = {"initial": 0, "regular": 1, "final": 2}


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
class Reading:
    """A recorded reading, as its events tell it."""

    id: uuid.UUID
    meter_serial: str
    contract_number: str
    client_number: str
    value: Decimal
    read_on: dt.date
    source: str
    daily_m3: Decimal | None
    baseline_m3: Decimal | None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Reading:
        return cls(
            row["id"],
            row["meter_serial"],
            row["contract_number"],
            row["client_number"],
            row["value"],
            row["read_on"],
            row["source"],
            row["daily_m3"],
            row["baseline_m3"],
        )


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


def _key(p: Point) -> tuple[dt.date, int]:
    return p.key


def _day(p: Point) -> dt.date:
    return p.read_on


# The functions below take a meter's registers in register order (as the repository gives
# them: by day, then role) and look up what they need by bisection: a reading is judged
# against a few registers, not all of them (a sequence may build each one when read).


def neighbours(
    points: Sequence[Point], read_on: dt.date, role: str
) -> tuple[Point | None, Point | None]:
    """The register just before (same day included for a later role) and just after."""
    at = bisect.bisect_right(points, (read_on, ROLE_ORDER[role]), key=_key)
    return (points[at - 1] if at else None, points[at] if at < len(points) else None)


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
    upto_count = bisect.bisect_right(points, upto, key=_day)
    if upto_count < 2:
        return None
    start = upto - dt.timedelta(days=window_days)
    older_count = bisect.bisect_right(points, start, key=_day, hi=upto_count)
    first = points[older_count - 1] if older_count else points[0]
    last = points[upto_count - 1]
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


class RuleSettings(Protocol):
    """The settings the rules read (``ReadingsSettings`` has them; read-only, as a frozen
    dataclass's fields are)."""

    @property
    def plausible_daily_ceiling_m3(self) -> float: ...
    @property
    def plausible_factor(self) -> float: ...
    @property
    def plausible_min_excess_m3(self) -> float: ...
    @property
    def leak_factor(self) -> float: ...
    @property
    def leak_min_excess_m3(self) -> float: ...
    @property
    def baseline_window_days(self) -> int: ...
    @property
    def baseline_min_days(self) -> int: ...
    @property
    def legalisation_years(self) -> int: ...


@dataclass(frozen=True)
class Rules:
    thresholds: Thresholds
    baseline_window_days: int
    baseline_min_days: int
    legalisation_years: int

    @classmethod
    def from_settings(cls, s: RuleSettings) -> Rules:
        def d(value: float) -> Decimal:
            return Decimal(str(value))

        return cls(
            Thresholds(
                ceiling=d(s.plausible_daily_ceiling_m3),
                factor=d(s.plausible_factor),
                min_excess=d(s.plausible_min_excess_m3),
                leak_factor=d(s.leak_factor),
                leak_min_excess=d(s.leak_min_excess_m3),
            ),
            s.baseline_window_days,
            s.baseline_min_days,
            s.legalisation_years,
        )


def judge(
    points: Sequence[Point], value: Decimal, read_on: dt.date, kind: str, rules: Rules
) -> Assessment:
    """A new regular reading against the meter's accepted registers: in order with its
    neighbours, then its daily consumption against the meter's own baseline."""
    previous, following = neighbours(points, read_on, "regular")
    check_order(value, previous, following)
    # The last register of an earlier day, else one of the same day with an earlier role.
    at = bisect.bisect_left(points, read_on, key=_day) or bisect.bisect_left(
        points, (read_on, ROLE_ORDER["regular"]), key=_key
    )
    if not at:
        return assess(kind, None, None, rules.thresholds)
    last = points[at - 1]
    base = baseline(points, last.read_on, rules.baseline_window_days, rules.baseline_min_days)
    return assess(kind, daily(last, value, read_on), base, rules.thresholds)


def status(verdict: Assessment, source: str, confirm_unusual: bool) -> str:
    """A customer's implausible reading needs ``confirm_unusual`` and then waits for an
    operator; every other reading is accepted."""
    if verdict.unusual and source == "customer":
        if not confirm_unusual:
            raise unusual_refusal(verdict)
        return "to_verify"
    return "accepted"


def unusual_refusal(verdict: Assessment) -> Refusal:
    assert verdict.daily is not None
    compared = (
        f"Twoje dotychczasowe średnie zużycie to {pl_m3(verdict.baseline)} na dobę. "
        if verdict.baseline is not None
        else ""
    )
    return Refusal(
        422,
        "unusual-consumption",
        f"Podany stan oznacza zużycie {pl_m3(verdict.daily)} na dobę, znacznie więcej niż "
        f"zwykle. {compared}Sprawdź stan wodomierza; jeśli jest prawidłowy, potwierdź go "
        "(confirm_unusual: true) — odczyt zostanie wtedy sprawdzony przez pracownika Spółki.",
        field="value",
        reason="nietypowo wysokie zużycie; wymaga potwierdzenia (confirm_unusual)",
        daily_consumption=m3(verdict.daily),
        baseline_daily=m3(verdict.baseline) if verdict.baseline is not None else None,
    )


def already_billed(read_on: dt.date) -> Refusal:
    return Refusal(
        409,
        "reading-already-billed",
        f"Odczyt z dnia {pl_date(read_on)} został już rozliczony na fakturze; "
        "nie można go zastąpić.",
        field="read_on",
        reason="odczyt z tego dnia jest już rozliczony",
    )


# -- an operator's decision on a reading waiting for verification ------------------------


def check_waiting(row: Mapping[str, Any] | None) -> None:
    if row is None:
        raise Refusal(404, "reading-not-found", "Nie znaleziono odczytu.")
    if row["status"] != "to_verify" or row["superseded_at"] is not None:
        raise Refusal(
            409,
            "reading-not-waiting",
            "Ten odczyt nie czeka na weryfikację (został już rozpatrzony lub zastąpiony).",
        )


def check_acceptable(value: Decimal, points: Sequence[Point], read_on: dt.date, role: str) -> None:
    """A waiting reading is accepted only while it is still in order with its neighbours."""
    previous, following = neighbours(points, read_on, role)
    try:
        check_order(value, previous, following)
    except Refusal as exc:
        raise Refusal(
            409,
            "reading-inconsistent",
            "Odczytu nie można przyjąć: " + exc.reason + ". Odrzuć go z podaniem powodu.",
            field="decision",
            reason=exc.reason,
        ) from None


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


def check_windows(mode: str, windows: Sequence[Window]) -> None:
    """Each window in order, none overlapping another, and at least one in ``windows`` mode."""
    errors = [
        {
            "field": f"windows.{i}.closes_on",
            "reason": "koniec okresu jest wcześniejszy niż jego początek",
        }
        for i, w in enumerate(windows)
        if w.closes_on < w.opens_on
    ]
    if not errors and (pair := overlapping(windows)):
        errors.append(
            {"field": f"windows.{pair[1]}", "reason": f"okres nachodzi na okres {pair[0]}"}
        )
    if mode == "windows" and not windows:
        errors.append({"field": "windows", "reason": "podaj co najmniej jeden okres"})
    if errors:
        raise invalid_fields(errors)

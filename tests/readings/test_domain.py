"""The pure rules: values in m³, the order of registers, plausibility and leaks, consumption
per month (with a property-based test), reading windows and the garden-meter assistant."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from ebok_readings.common import values
from ebok_readings.garden import domain as garden_rules
from ebok_readings.readings import consumption
from ebok_readings.readings import domain as reading_rules
from ebok_readings.readings.consumption import Series
from ebok_readings.readings.domain import Point, Window
from ebok_shared.refusals import Refusal
from hypothesis import given, settings
from hypothesis import strategies as st

D = Decimal
T = reading_rules.Thresholds(
    ceiling=D("5"),
    factor=D("3"),
    min_excess=D("0.5"),
    leak_factor=D("2"),
    leak_min_excess=D("0.3"),
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123.456", "123.456"),
        ("0", "0.000"),
        ("7,5", "7.500"),
        (" 12.3 ", "12.300"),
        ("000123.4", "123.400"),
        ("999999999.999", "999999999.999"),
    ],
)
def test_m3_values_are_read_to_the_litre(raw: str, expected: str) -> None:
    assert values.m3(values.parse_m3(raw)) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("12.34567", "najwyżej 3 cyfry po przecinku (dokładność do 0,001 m³)"),
        ("-5.000", "stan wodomierza nie może być ujemny"),
        ("sto", "to nie jest liczba (podaj stan w m³, np. 123.456)"),
        ("1e5", "to nie jest liczba (podaj stan w m³, np. 123.456)"),
        ("1234567890.0", "wartość jest za duża (najwyżej 999999999,999 m³)"),
        (12.5, 'podaj stan jako tekst, np. "123.456"'),
        (True, 'podaj stan jako tekst, np. "123.456"'),
    ],
)
def test_bad_values_are_refused_with_the_reason(raw: object, reason: str) -> None:
    with pytest.raises(Refusal) as caught:
        values.parse_m3(raw)
    assert (caught.value.field, caught.value.reason, caught.value.status) == ("value", reason, 422)


def test_dates_are_checked_against_today_contract_installation_and_removal() -> None:
    facts = reading_rules.MeterFacts(
        "WM-1", "main", dt.date(2024, 3, 1), dt.date(2026, 1, 31), dt.date(2024, 1, 15), None
    )
    today = dt.date(2026, 3, 10)
    reasons = {}
    for day in (dt.date(2999, 1, 1), dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2026, 2, 1)):
        with pytest.raises(Refusal) as caught:
            reading_rules.check_date(facts, day, today)
        reasons[day.isoformat()] = caught.value.reason
    assert reasons == {
        "2999-01-01": "data odczytu nie może być z przyszłości",
        "2024-01-01": "data jest wcześniejsza niż data zawarcia umowy (15.01.2024)",
        "2024-02-01": "data jest wcześniejsza niż montaż wodomierza (01.03.2024)",
        "2026-02-01": "data jest późniejsza niż demontaż wodomierza (31.01.2026)",
    }
    reading_rules.check_date(facts, dt.date(2025, 6, 1), today)  # within everything: no refusal


def test_a_register_never_runs_backwards() -> None:
    before = Point(dt.date(2026, 1, 1), D("100.000"))
    after = Point(dt.date(2026, 3, 1), D("130.000"))
    reading_rules.check_order(D("100.000"), before, after)
    reading_rules.check_order(D("130.000"), before, after)
    with pytest.raises(Refusal) as low:
        reading_rules.check_order(D("99.999"), before, after)
    assert low.value.code == "reading-below-previous"
    assert "99,999 m³ jest niższy niż poprzedni odczyt 100,000 m³ z dnia 01.01.2026" in (
        low.value.reason
    )
    with pytest.raises(Refusal) as high:
        reading_rules.check_order(D("130.001"), before, after)
    assert high.value.code == "reading-above-next"


def test_plausibility_and_leaks_compare_with_the_meters_own_baseline() -> None:
    history = [Point(dt.date(2024, 12, 31), D("0")), Point(dt.date(2025, 12, 31), D("109.500"))]
    base = reading_rules.baseline(history, dt.date(2025, 12, 31), 365, 30)
    assert base == D("0.300")
    assert reading_rules.baseline(history[:1], dt.date(2025, 12, 31), 365, 30) is None
    short = [Point(dt.date(2025, 12, 1), D("0")), Point(dt.date(2025, 12, 20), D("5"))]
    assert reading_rules.baseline(short, dt.date(2025, 12, 31), 365, 30) is None

    normal = reading_rules.assess("main", D("0.400"), base, T)
    leak = reading_rules.assess("main", D("0.750"), base, T)
    unusual = reading_rules.assess("main", D("1.000"), base, T)
    garden = reading_rules.assess("garden", D("0.750"), base, T)
    ceiling = reading_rules.assess("main", D("5.001"), None, T)
    assert (normal.unusual, normal.leak) == (False, False)
    assert (leak.unusual, leak.leak) == (False, True)
    assert (unusual.unusual, unusual.leak) == (True, True)
    assert (garden.unusual, garden.leak) == (False, False)  # garden water is seasonal
    assert (ceiling.unusual, ceiling.leak) == (True, False)
    assert reading_rules.daily(
        Point(dt.date(2026, 1, 1), D("10")), D("13"), dt.date(2026, 1, 11)
    ) == D("0.300")
    assert reading_rules.daily(
        Point(dt.date(2026, 1, 1), D("10")), D("11"), dt.date(2026, 1, 1)
    ) == D("1.000")


def test_consumption_is_spread_over_the_days_of_each_month() -> None:
    series = Series(
        "WM-1",
        "main",
        (
            Point(dt.date(2026, 1, 21), D("100.000")),
            Point(dt.date(2026, 3, 1), D("139.000")),  # 39 days: 10 in Jan, 28 in Feb, 1 in Mar
        ),
    )
    months = consumption.monthly_consumption([series])
    assert {k: (m.water, m.days) for k, m in months.items()} == {
        "2026-01": (D("10"), 10),
        "2026-02": (D("28"), 28),
        "2026-03": (D("1"), 1),
    }
    assert months["2026-02"].average_per_day() == D("1.000")


def test_windows_say_when_the_next_one_opens() -> None:
    windows = [
        Window(dt.date(2026, 3, 25), dt.date(2026, 3, 31)),
        Window(dt.date(2026, 6, 25), dt.date(2026, 6, 30)),
    ]
    closed = reading_rules.window_state("windows", windows, dt.date(2026, 3, 10))
    assert (closed.open, closed.next) == (False, windows[0])
    refusal = reading_rules.window_closed(closed)
    assert refusal.status == 409 and "od 25.03.2026 do 31.03.2026" in refusal.detail
    assert refusal.extra["next_window_opens_on"] == "2026-03-25"
    assert reading_rules.window_state("windows", windows, dt.date(2026, 3, 31)).open
    assert reading_rules.window_state("always", [], dt.date(2026, 3, 10)).open
    assert reading_rules.overlapping(
        [windows[0], Window(dt.date(2026, 3, 31), dt.date(2026, 4, 2))]
    ) == (
        0,
        1,
    )


def test_garden_assistant_dates_and_reminders() -> None:
    dates = ("04-15", "09-15")
    assert garden_rules.next_reading_dates(dt.date(2026, 4, 15), dates) == [
        dt.date(2026, 4, 15),
        dt.date(2026, 9, 15),
    ]
    assert garden_rules.next_reading_dates(dt.date(2026, 10, 1), dates) == [
        dt.date(2027, 4, 15),
        dt.date(2027, 9, 15),
    ]
    assert values.add_years(dt.date(2024, 2, 29), 5) == dt.date(2029, 2, 28)

    def due(today: dt.date, last: dt.date | None = None) -> list[garden_rules.Reminder]:
        return garden_rules.reminders_due(
            today,
            installed_on=dt.date(2021, 5, 20),
            sealed_on=dt.date(2021, 5, 20),
            last_read_on=last,
            dates=dates,
            reading_lead_days=7,
            legalisation_years=5,
            legalisation_lead_days=60,
        )

    assert due(dt.date(2026, 3, 1)) == []
    assert due(dt.date(2026, 4, 8)) == [
        garden_rules.Reminder("reading", dt.date(2026, 4, 15)),
        garden_rules.Reminder("legalisation", dt.date(2026, 5, 20)),
    ]
    # a reading given within the lead time: no reading reminder
    assert due(dt.date(2026, 4, 12), last=dt.date(2026, 4, 10)) == [
        garden_rules.Reminder("legalisation", dt.date(2026, 5, 20))
    ]
    assert due(dt.date(2026, 5, 21)) == []


# -- property: consumption per month sums to the water measured -----------------------------


@st.composite
def meters(draw: st.DrawFn) -> list[Series]:
    """Any valid history: one or two supply points, each a chain of meters (a replacement
    ends one meter with its final reading and starts the next with its initial reading on the
    same day), each meter read on non-decreasing values at increasing dates."""
    found = []
    for point in range(draw(st.integers(1, 2))):
        day = draw(st.dates(dt.date(2020, 1, 1), dt.date(2024, 12, 31)))
        for number in range(draw(st.integers(1, 3))):
            value = draw(st.decimals(0, 99_999, places=3))
            points = [Point(day, value, "initial")]
            for _ in range(draw(st.integers(0, 8))):
                day += dt.timedelta(days=draw(st.integers(0, 120)))
                value += draw(st.decimals(0, 500, places=3))
                points.append(Point(day, value))
            kind = draw(st.sampled_from(["main", "garden"]))
            found.append(Series(f"M{point}-{number}", kind, tuple(points)))
    return found


@settings(max_examples=200, deadline=None)
@given(meters())
def test_monthly_consumption_sums_to_the_water_measured(series: list[Series]) -> None:
    months = consumption.monthly_consumption(series)
    for kind, attribute in (("main", "water"), ("garden", "garden")):
        total = sum((getattr(m, attribute) for m in months.values()), D("0"))
        assert total == consumption.measured_total(series, kind)
    for month in months.values():
        assert month.litres["main"] >= 0 and month.litres["garden"] >= 0
        assert 0 <= month.days <= 31


@settings(max_examples=100, deadline=None)
@given(
    st.dates(dt.date(2020, 1, 1), dt.date(2030, 1, 1)),
    st.integers(0, 2000),
    st.integers(0, 10**9),
)
def test_spread_parts_add_up_exactly(start: dt.date, days: int, litres: int) -> None:
    parts = consumption.spread(start, start + dt.timedelta(days=days), litres)
    assert sum(p[2] for p in parts) == litres
    assert all(first <= last for first, last, _ in parts)
    assert all(first.strftime("%Y-%m") == last.strftime("%Y-%m") for first, last, _ in parts)


def test_days_measured_count_overlapping_spans_once() -> None:
    def span(first: int, last: int) -> tuple[dt.date, dt.date]:
        return (dt.date(2026, 1, first), dt.date(2026, 1, last))

    assert consumption.measured_days([span(10, 20), span(1, 5), span(4, 12), span(15, 16)]) == 20
    assert consumption.measured_days([span(3, 3), span(3, 3)]) == 1
    assert consumption.measured_days([]) == 0


# -- property: the rules bisect registers as the list scans they replace would find ---------


def _scanned_judge(
    points: list[Point], value: Decimal, read_on: dt.date, rules: reading_rules.Rules
) -> tuple[object, ...]:
    """The rules as they read before bisection (every register scanned): the reference."""
    key = (read_on, reading_rules.ROLE_ORDER["regular"])
    before = [p for p in points if p.key <= key]
    after = [p for p in points if p.key > key]
    previous, following = (before[-1] if before else None, after[0] if after else None)
    try:
        reading_rules.check_order(value, previous, following)
    except Refusal as exc:
        return ("refused", exc.code)
    earlier = [p for p in points if p.read_on < read_on] or [
        p for p in points if p.key < (read_on, 1)
    ]
    if not earlier:
        return ("judged", reading_rules.assess("main", None, None, rules.thresholds))
    upto = earlier[-1].read_on
    upto_points = [p for p in points if p.read_on <= upto]
    base = None
    if len(upto_points) >= 2:
        start = upto - dt.timedelta(days=rules.baseline_window_days)
        older = [p for p in upto_points if p.read_on <= start]
        first, last = (older[-1] if older else upto_points[0]), upto_points[-1]
        days = (last.read_on - first.read_on).days
        if days >= rules.baseline_min_days:
            base = ((last.value - first.value) / days).quantize(
                values.THOUSANDTH, rounding=ROUND_HALF_UP
            )
    daily = reading_rules.daily(earlier[-1], value, read_on)
    return ("judged", reading_rules.assess("main", daily, base, rules.thresholds))


@st.composite
def registers(draw: st.DrawFn) -> tuple[list[Point], Decimal, dt.date]:
    """A meter's registers in register order (an initial reading first, some days with two
    registers), and a new reading somewhere among them."""
    day = draw(st.dates(dt.date(2020, 1, 1), dt.date(2024, 12, 31)))
    value = draw(st.decimals(0, 1000, places=3))
    found = [Point(day, value, "initial")]
    for _ in range(draw(st.integers(0, 30))):
        day += dt.timedelta(days=draw(st.sampled_from([0, 1, 7, 30, 31, 90, 200, 400])))
        value += draw(st.decimals(0, 300, places=3))
        found.append(Point(day, value, draw(st.sampled_from(["regular", "regular", "final"]))))
    found.sort(key=lambda p: p.key)
    read_on = draw(st.sampled_from([p.read_on for p in found])) + dt.timedelta(
        days=draw(st.integers(-40, 400))
    )
    return found, draw(st.decimals(0, 10_000, places=3)), read_on


@settings(max_examples=300, deadline=None)
@given(registers())
def test_judging_by_bisection_finds_what_scanning_found(
    case: tuple[list[Point], Decimal, dt.date],
) -> None:
    points, value, read_on = case
    rules = reading_rules.Rules(T, 365, 30, 5)
    try:
        found: tuple[object, ...] = (
            "judged",
            reading_rules.judge(points, value, read_on, "main", rules),
        )
    except Refusal as exc:
        found = ("refused", exc.code)
    assert found == _scanned_judge(points, value, read_on, rules)
    for role in ("initial", "regular", "final"):
        key = (read_on, reading_rules.ROLE_ORDER[role])
        before = [p for p in points if p.key <= key]
        after = [p for p in points if p.key > key]
        assert reading_rules.neighbours(points, read_on, role) == (
            before[-1] if before else None,
            after[0] if after else None,
        )

"""Statutory late-payment interest, checked against hand-computed cases.

All cases use the packaged NBP table. Statutory household rates it implies (reference + 5.5):
11.25 % from 2023-10-05, 9.75 % from 2025-11-06, 9.50 % from 2025-12-04, 9.25 % from
2026-03-05. Commercial rates (reference on 1 Jan / 1 Jul + 10): 15.25 % in 2025 H2,
14.00 % in 2026 H1.
"""

import itertools
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from ebok_billing.interest.domain import (
    InterestCalculation,
    Invoice,
    Payment,
    compute_interest,
    compute_invoice_interest,
    recovery_compensation_eur,
    recovery_compensation_pln,
)
from ebok_billing.interest.rates import (
    InterestKind,
    RateRow,
    RateTable,
    RateTableError,
    RateUnavailableError,
)
from ebok_billing.interest.use_cases import load_default_rate_table
from hypothesis import given, settings
from hypothesis import strategies as st

TABLE = load_default_rate_table()
HOUSEHOLD = InterestKind.HOUSEHOLD
COMMERCIAL = InterestKind.COMMERCIAL
# shared/ sits beside the repository checkout.
REFERENCE_CSV = Path(__file__).resolve().parents[3] / "shared/reference/nbp-reference-rates.csv"


def D(text: str) -> Decimal:
    return Decimal(text)


def working(calc: InterestCalculation) -> list[tuple[date, date, int, Decimal, Decimal]]:
    return [(p.start, p.end, p.days, p.annual_rate_percent, p.amount_display) for p in calc.periods]


# --- the README's worked example -------------------------------------------------------


def test_readme_worked_example() -> None:
    calc = compute_interest(D("1000.00"), date(2025, 11, 20), date(2026, 3, 20), TABLE)

    # 1000 × 9.75 % × 13/365 = 3.4726…; 1000 × 9.50 % × 91/365 = 23.6849…;
    # 1000 × 9.25 % × 16/365 = 4.0547…; sum 31.2123… → 31.21.
    assert calc.days_late == 120
    assert [(p.start, p.end, p.days, p.annual_rate_percent) for p in calc.periods] == [
        (date(2025, 11, 21), date(2025, 12, 3), 13, D("9.75")),
        (date(2025, 12, 4), date(2026, 3, 4), 91, D("9.50")),
        (date(2026, 3, 5), date(2026, 3, 20), 16, D("9.25")),
    ]
    assert calc.total == D("31.21")
    assert calc.settled
    assert calc.kind is HOUSEHOLD


def test_readme_example_unrounded_amounts() -> None:
    calc = compute_interest(D("1000.00"), date(2025, 11, 20), date(2026, 3, 20), TABLE)
    exact = [Fraction(126750, 36500), Fraction(864500, 36500), Fraction(148000, 36500)]
    for period, expected in zip(calc.periods, exact, strict=True):
        assert abs(Fraction(period.amount_unrounded) - expected) < Fraction(1, 10**40)


def test_display_amounts_sum_exactly_to_total() -> None:
    # Rounding each line on its own gives 3.47 + 23.68 + 4.05 = 31.20, a grosz short of the
    # total. Largest remainder gives the missing grosz to the 23.6849… line (remainder .49).
    calc = compute_interest(D("1000.00"), date(2025, 11, 20), date(2026, 3, 20), TABLE)
    assert [p.amount_display for p in calc.periods] == [D("3.47"), D("23.69"), D("4.05")]
    assert sum(p.amount_display for p in calc.periods) == calc.total


# --- simple cases ----------------------------------------------------------------------


def test_within_one_rate_period() -> None:
    # Due 2025-12-10, paid 2026-01-19: 21 days of December + 19 of January = 40 days, all at
    # 9.50 %. 2,500.00 × 0.095 × 40 / 365 = 9,500 / 365 = 26.0273… → 26.03.
    calc = compute_interest(D("2500.00"), date(2025, 12, 10), date(2026, 1, 19), TABLE)
    assert working(calc) == [(date(2025, 12, 11), date(2026, 1, 19), 40, D("9.50"), D("26.03"))]
    assert calc.total == D("26.03")


@pytest.mark.parametrize("paid_on", [date(2025, 11, 20), date(2025, 11, 1)])
def test_paid_on_or_before_due_date_costs_nothing(paid_on: date) -> None:
    calc = compute_interest(D("1000.00"), date(2025, 11, 20), paid_on, TABLE)
    assert calc.days_late == 0
    assert calc.periods == ()
    assert calc.total == D("0.00")


def test_paid_the_day_after_due() -> None:
    # One day at 9.75 %: 1000 × 9.75 / 36,500 = 0.2671… → 0.27.
    calc = compute_interest(D("1000.00"), date(2025, 11, 20), date(2025, 11, 21), TABLE)
    assert calc.days_late == 1
    assert working(calc) == [(date(2025, 11, 21), date(2025, 11, 21), 1, D("9.75"), D("0.27"))]
    assert calc.total == D("0.27")


def test_rate_change_day_belongs_to_the_new_rate() -> None:
    # Paid on 2025-12-04, the day 9.50 % takes effect: that last day is at the new rate.
    calc = compute_interest(D("1000.00"), date(2025, 12, 2), date(2025, 12, 4), TABLE)
    assert [(p.start, p.days, p.annual_rate_percent) for p in calc.periods] == [
        (date(2025, 12, 3), 1, D("9.75")),
        (date(2025, 12, 4), 1, D("9.50")),
    ]


# --- leap years ------------------------------------------------------------------------


def test_leap_day_counts_as_a_day_of_a_365_day_year() -> None:
    # 2024-02-28, 02-29, 03-01, 03-02: 4 days at 11.25 %. 1000 × 11.25 × 4 / 36,500 = 1.2328…
    calc = compute_interest(D("1000.00"), date(2024, 2, 27), date(2024, 3, 2), TABLE)
    assert working(calc) == [(date(2024, 2, 28), date(2024, 3, 2), 4, D("11.25"), D("1.23"))]


def test_full_leap_year_costs_366_365ths_of_the_annual_rate() -> None:
    # The whole of 2024 at 11.25 %: 10,000 × 11.25 × 366 / 36,500 = 1,128.0821… → 1,128.08,
    # not 1,125.00: the divisor is 365 also in a leap year.
    calc = compute_interest(D("10000.00"), date(2023, 12, 31), date(2024, 12, 31), TABLE)
    assert calc.days_late == 366
    assert working(calc) == [
        (date(2024, 1, 1), date(2024, 12, 31), 366, D("11.25"), D("1128.08")),
    ]


# --- commercial transactions -----------------------------------------------------------


def test_commercial_rate_on_the_readme_dates() -> None:
    # The commercial rate is fixed per half-year: 5.25 + 10 = 15.25 % (reference rate on
    # 2025-07-01) to the end of 2025, then 4.00 + 10 = 14.00 % (on 2026-01-01).
    # 1000 × 15.25 × 41 / 36,500 = 17.1301…; 1000 × 14 × 79 / 36,500 = 30.3013…;
    # total 47.4315… → 47.43. (Following every NBP change instead would give 46.01.)
    calc = compute_interest(D("1000.00"), date(2025, 11, 20), date(2026, 3, 20), TABLE, COMMERCIAL)
    assert calc.days_late == 120
    assert working(calc) == [
        (date(2025, 11, 21), date(2025, 12, 31), 41, D("15.25"), D("17.13")),
        (date(2026, 1, 1), date(2026, 3, 20), 79, D("14.00"), D("30.30")),
    ]
    assert calc.total == D("47.43")
    assert calc.kind is COMMERCIAL


def test_commercial_rate_ignores_nbp_changes_within_the_half_year() -> None:
    # NBP cut the rate on 2025-12-04, but the commercial rate stays 15.25 % until 2025-12-31.
    # 30 days: 1000 × 15.25 × 30 / 36,500 = 12.5342… → 12.53.
    calc = compute_interest(D("1000.00"), date(2025, 11, 20), date(2025, 12, 20), TABLE, COMMERCIAL)
    assert working(calc) == [(date(2025, 11, 21), date(2025, 12, 20), 30, D("15.25"), D("12.53"))]


def test_commercial_rate_is_reference_plus_ten_points() -> None:
    assert TABLE.statutory_rate_on(date(2024, 3, 1), COMMERCIAL) == D("15.75")  # 5.75 + 10
    assert TABLE.statutory_rate_on(date(2025, 7, 10), COMMERCIAL) == D("15.25")  # 5.25 + 10
    assert TABLE.statutory_rate_on(date(2025, 7, 10), HOUSEHOLD) == D("10.50")  # 5.00 + 5.5


def test_equal_consecutive_rates_are_one_period() -> None:
    # 2024 H1 and H2 are both fixed at 5.75 + 10: no split on 2024-07-01.
    calc = compute_interest(D("100.00"), date(2024, 5, 31), date(2024, 8, 31), TABLE, COMMERCIAL)
    assert [(p.start, p.end, p.days) for p in calc.periods] == [
        (date(2024, 6, 1), date(2024, 8, 31), 92)
    ]


# --- dates outside the table -----------------------------------------------------------


def test_date_before_the_table_is_refused() -> None:
    with pytest.raises(RateUnavailableError, match="starts on 2022-09-08"):
        compute_interest(D("100.00"), date(2022, 9, 1), date(2022, 10, 1), TABLE)


def test_commercial_date_whose_half_year_starts_before_the_table_is_refused() -> None:
    # 2022-12-01 is after the first row, but its rate is fixed on 2022-07-01.
    with pytest.raises(RateUnavailableError, match="2022-07-01"):
        compute_interest(D("100.00"), date(2022, 11, 30), date(2023, 1, 15), TABLE, COMMERCIAL)
    assert TABLE.first_day(COMMERCIAL) == date(2023, 1, 1)
    assert TABLE.first_day(HOUSEHOLD) == date(2022, 9, 8)


def test_first_day_of_the_table_is_computable() -> None:
    calc = compute_interest(D("365.00"), date(2022, 9, 7), date(2022, 9, 8), TABLE)
    assert calc.total == D("0.12")  # 365 × 12.25 % / 365 = 0.1225 → 0.12


# --- partial payments ------------------------------------------------------------------


def test_partial_payment_interest_only_on_the_late_part() -> None:
    # 400 paid before the due date; 600 paid 30 days late (2025-11-21 … 2025-12-20):
    # 13 days at 9.75 % + 17 days at 9.50 % on 600:
    # 600 × (9.75 × 13 + 9.50 × 17) / 36,500 = 172,950 / 36,500 = 4.7383… → 4.74.
    invoice = Invoice(D("1000.00"), date(2025, 11, 20))
    result = compute_invoice_interest(
        invoice,
        [Payment(date(2025, 12, 20), D("600.00")), Payment(date(2025, 11, 15), D("400.00"))],
        as_of=date(2026, 1, 31),
        table=TABLE,
    )
    on_time, late = result.payments
    assert on_time.payment.paid_on == date(2025, 11, 15)  # applied oldest first
    assert on_time.covered == D("400.00")
    assert on_time.calculation is not None
    assert on_time.calculation.total == D("0.00")
    assert not on_time.is_late
    assert result.late_payments == (late,)
    assert late.calculation is not None
    assert late.calculation.principal == D("600.00")
    assert late.calculation.days_late == 30
    assert [(p.days, p.annual_rate_percent) for p in late.calculation.periods] == [
        (13, D("9.75")),
        (17, D("9.50")),
    ]
    assert late.calculation.total == D("4.74")
    assert result.outstanding == D("0.00")
    assert result.outstanding_interest is None
    assert result.overpaid == D("0.00")
    assert result.total == D("4.74")


def test_unpaid_remainder_accrues_to_the_as_of_date() -> None:
    # 300 paid 13 days late: 300 × 9.75 × 13 / 36,500 = 1.0417… → 1.04.
    # 700 still unpaid on 2025-12-20: 700 × (9.75 × 13 + 9.50 × 17) / 36,500 = 5.5280… → 5.53.
    invoice = Invoice(D("1000.00"), date(2025, 11, 20))
    result = compute_invoice_interest(
        invoice, [Payment(date(2025, 12, 3), D("300.00"))], as_of=date(2025, 12, 20), table=TABLE
    )
    (late,) = result.late_payments
    assert late.calculation is not None
    assert late.calculation.total == D("1.04")
    assert result.outstanding == D("700.00")
    accrued = result.outstanding_interest
    assert accrued is not None
    assert not accrued.settled
    assert accrued.paid_on == date(2025, 12, 20)
    assert accrued.days_late == 30
    assert accrued.total == D("5.53")
    assert result.total == D("6.57")


def test_overpayment_and_payment_after_settlement() -> None:
    invoice = Invoice(D("1000.00"), date(2025, 11, 20))
    result = compute_invoice_interest(
        invoice,
        [Payment(date(2025, 11, 10), D("900.00")), Payment(date(2025, 11, 30), D("300.00"))],
        as_of=date(2025, 12, 31),
        table=TABLE,
    )
    _, second = result.payments
    assert second.covered == D("100.00")  # only 100 was still owed
    assert second.calculation is not None
    assert second.calculation.principal == D("100.00")
    assert result.overpaid == D("200.00")
    assert result.outstanding == D("0.00")

    settled_already = compute_invoice_interest(
        invoice,
        [Payment(date(2025, 11, 10), D("1000.00")), Payment(date(2025, 12, 1), D("50.00"))],
        as_of=date(2025, 12, 31),
        table=TABLE,
    )
    assert settled_already.payments[1].calculation is None
    assert settled_already.payments[1].covered == D("0.00")
    assert settled_already.late_payments == ()
    assert settled_already.overpaid == D("50.00")


def test_nothing_paid_and_not_yet_due() -> None:
    invoice = Invoice(D("1000.00"), date(2025, 11, 20))
    result = compute_invoice_interest(invoice, [], as_of=date(2025, 11, 1), table=TABLE)
    assert result.outstanding == D("1000.00")
    assert result.outstanding_interest is not None
    assert result.outstanding_interest.total == D("0.00")
    assert result.total == D("0.00")


def test_payment_after_as_of_is_refused() -> None:
    invoice = Invoice(D("1000.00"), date(2025, 11, 20))
    with pytest.raises(ValueError, match="after the as-of date"):
        compute_invoice_interest(
            invoice, [Payment(date(2026, 1, 2), D("10.00"))], as_of=date(2026, 1, 1), table=TABLE
        )


@pytest.mark.parametrize("amount", [D("-1.00"), D("1.001")])
def test_bad_principal_is_refused(amount: Decimal) -> None:
    with pytest.raises(ValueError):
        compute_interest(amount, date(2025, 11, 20), date(2025, 12, 20), TABLE)


# --- recovery compensation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "eur"),
    [
        ("0.01", "40"),
        ("4999.99", "40"),
        ("5000.00", "40"),  # "does not exceed 5,000" → still 40
        ("5000.01", "70"),
        ("49999.99", "70"),
        ("50000.00", "100"),  # "equal to or higher than 50,000" → 100
        ("50000.01", "100"),
    ],
)
def test_recovery_compensation_tiers(amount: str, eur: str) -> None:
    assert recovery_compensation_eur(D(amount)) == D(eur)


def test_recovery_compensation_in_pln() -> None:
    assert recovery_compensation_pln(D("1000.00"), D("4.2623")) == D("170.49")  # 170.492
    assert recovery_compensation_pln(D("6000.00"), D("4.2615")) == D("298.31")  # 298.305 half up
    assert recovery_compensation_pln(D("60000.00"), D("4.2623")) == D("426.23")


def test_recovery_compensation_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError):
        recovery_compensation_pln(D("1000.00"), D("0"))


# --- the rate table --------------------------------------------------------------------


def test_packaged_table_matches_the_reference_csv() -> None:
    if not REFERENCE_CSV.exists():
        pytest.skip("shared reference data not present")
    assert load_default_rate_table() == RateTable.from_csv(REFERENCE_CSV.read_text())


def test_table_from_rows_and_from_csv_agree() -> None:
    text = "effective_from,reference_rate_percent\n2025-01-01,5.00\n\n2025-06-01,4.50\n"
    from_rows = RateTable.from_rows([(date(2025, 1, 1), D("5.00")), (date(2025, 6, 1), D("4.50"))])
    assert RateTable.from_csv(text) == from_rows
    assert from_rows.statutory_rate_on(date(2025, 6, 1), HOUSEHOLD) == D("10.00")


def test_operator_adds_a_row() -> None:
    extended = TABLE.with_row(RateRow(date(2026, 6, 4), D("3.50")))
    assert extended.reference_rate_on(date(2026, 6, 4)) == D("3.50")
    assert extended.reference_rate_on(date(2026, 6, 3)) == D("3.75")
    with pytest.raises(RateTableError, match="strictly increasing"):
        TABLE.with_row(RateRow(date(2026, 3, 5), D("3.50")))


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [(date(2025, 1, 1), D("5")), (date(2025, 1, 1), D("4"))],
        [(date(2025, 2, 1), D("5")), (date(2025, 1, 1), D("4"))],
        [(date(2025, 1, 1), D("-0.25"))],
        [(date(2025, 1, 1), D("NaN"))],
    ],
)
def test_invalid_rows_are_refused(rows: list[tuple[date, Decimal]]) -> None:
    with pytest.raises(RateTableError):
        RateTable.from_rows(rows)


@pytest.mark.parametrize(
    "text",
    [
        "date,rate\n2025-01-01,5\n",
        "effective_from,reference_rate_percent\n2025-13-01,5\n",
        "effective_from,reference_rate_percent\n2025-01-01,five\n",
        "effective_from,reference_rate_percent\n2025-01-01,5,x\n",
        "",
    ],
)
def test_invalid_csv_is_refused(text: str) -> None:
    with pytest.raises(RateTableError):
        RateTable.from_csv(text)


def test_interest_kind_polish_names() -> None:
    assert HOUSEHOLD.polish_name == "odsetki ustawowe za opóźnienie"
    assert COMMERCIAL.polish_name == "odsetki ustawowe za opóźnienie w transakcjach handlowych"
    assert HOUSEHOLD.margin_points == D("5.5")
    assert COMMERCIAL.margin_points == D("10")
    assert InterestKind("commercial") is COMMERCIAL


# --- property: the period split equals a naive day-by-day sum ---------------------------


def naive_rate(day: date, kind: InterestKind) -> Fraction:
    """The statutory rate on `day`, looked up the slow, obvious way."""
    fixing_day = day
    if kind is COMMERCIAL:
        fixing_day = date(day.year, 1 if day.month <= 6 else 7, 1)
    in_force = [row for row in TABLE.rows if row.effective_from <= fixing_day]
    return Fraction(in_force[-1].reference_rate_percent) + Fraction(kind.margin_points)


def naive_total(principal: Decimal, due: date, paid: date, kind: InterestKind) -> Decimal:
    exact = Fraction(0)
    day = due + timedelta(days=1)
    while day <= paid:
        exact += Fraction(principal) * naive_rate(day, kind) / 100 / 365
        day += timedelta(days=1)
    grosze = (exact * 100 + Fraction(1, 2)).__floor__()  # half up; amounts are non-negative
    return Decimal(grosze) / 100


@st.composite
def late_payments(draw: st.DrawFn) -> tuple[Decimal, date, date, InterestKind]:
    kind = draw(st.sampled_from(list(InterestKind)))
    due = draw(
        st.dates(min_value=TABLE.first_day(kind) - timedelta(days=1), max_value=date(2027, 6, 30))
    )
    paid = due + timedelta(days=draw(st.integers(min_value=-5, max_value=900)))
    principal = draw(
        st.decimals(min_value=D("0.01"), max_value=D("1000000"), places=2, allow_nan=False)
    )
    return principal, due, paid, kind


@settings(max_examples=150, deadline=None)
@given(late_payments())
def test_total_equals_naive_day_by_day_sum(case: tuple[Decimal, date, date, InterestKind]) -> None:
    principal, due, paid, kind = case
    calc = compute_interest(principal, due, paid, TABLE, kind)

    assert calc.total == naive_total(principal, due, paid, kind)
    assert calc.days_late == max(0, (paid - due).days)
    assert sum(p.days for p in calc.periods) == calc.days_late
    assert sum((p.amount_display for p in calc.periods), D("0")) == calc.total
    # Periods are contiguous, from the day after the due date to the payment day.
    if calc.periods:
        assert calc.periods[0].start == due + timedelta(days=1)
        assert calc.periods[-1].end == paid
        for earlier, later in itertools.pairwise(calc.periods):
            assert later.start == earlier.end + timedelta(days=1)
            assert later.annual_rate_percent != earlier.annual_rate_percent

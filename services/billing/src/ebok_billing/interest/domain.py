"""Statutory late-payment interest: pure domain logic, no I/O.

How interest is counted (Polish practice, applied everywhere in this module):

* it runs from the day after the due date up to and including the day of payment; paying on
  the due date or earlier costs nothing;
* each day bears the statutory annual rate in force on that day (see `rates`), so the span is
  split into periods wherever the rate changes;
* a day is 1/365 of a year, also in leap years: a full leap year of delay costs 366/365 of
  the annual rate. This actual/365 convention is the usual Polish practice for statutory
  interest, and we apply it consistently;
* amounts are rounded to grosze once per computation: the exact period amounts are summed and
  only the sum is rounded half up. The per-period display amounts are then apportioned from
  that total by the largest-remainder method, so the lines of the working always add up to
  the total a customer is charged.

Payments settle the principal only (each late payment then gets its own interest note);
payments are applied to the invoice oldest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal, localcontext

from ..common.money import GROSZ, is_whole_grosze, to_grosze
from .rates import InterestKind, RatePeriod, RateTable

__all__ = [
    "InterestCalculation",
    "InterestKind",
    "InterestPeriod",
    "Invoice",
    "InvoiceInterest",
    "Payment",
    "PaymentInterest",
    "compute_interest",
    "compute_invoice_interest",
    "recovery_compensation_eur",
    "recovery_compensation_pln",
]

_DAYS_IN_YEAR = 365
# Rates are in percent, so an amount is principal × rate × days / (365 × 100).
_PERCENT_YEAR = Decimal(_DAYS_IN_YEAR * 100)
# Enough digits that dividing by 36,500 can never move a value across a half-grosz.
_PRECISION = 60
_ZERO = Decimal("0.00")


@dataclass(frozen=True)
class InterestPeriod:
    """One line of the working: consecutive days (both inclusive) at one annual rate."""

    start: date
    end: date
    days: int
    annual_rate_percent: Decimal
    amount_unrounded: Decimal
    amount_display: Decimal


@dataclass(frozen=True)
class InterestCalculation:
    """Interest on `principal` due on `due_date` and paid on (or accrued to) `paid_on`.

    `settled` is False when `paid_on` is only the "as of" date of interest accrued on a debt
    that is still unpaid. `total` is the exact sum of the periods rounded once to grosze;
    the periods' `amount_display` values add up to it exactly.
    """

    kind: InterestKind
    principal: Decimal
    due_date: date
    paid_on: date
    days_late: int
    periods: tuple[InterestPeriod, ...]
    total: Decimal
    settled: bool = True


@dataclass(frozen=True)
class Invoice:
    gross_amount: Decimal
    due_date: date


@dataclass(frozen=True)
class Payment:
    """Money received for an invoice; `paid_on` is the day it reached the utility's account."""

    paid_on: date
    amount: Decimal


@dataclass(frozen=True)
class PaymentInterest:
    """A payment as applied to an invoice and the interest on the part it covered.

    `calculation` is None when the invoice was already settled and the payment covered
    nothing (it is an overpayment in full).
    """

    payment: Payment
    covered: Decimal
    calculation: InterestCalculation | None

    @property
    def is_late(self) -> bool:
        return self.calculation is not None and self.calculation.days_late > 0


@dataclass(frozen=True)
class InvoiceInterest:
    """Interest on an invoice paid in parts, as of a given day.

    Each late payment in `late_payments` is a candidate for its own interest note;
    `outstanding_interest` is the interest accrued on the unpaid remainder up to `as_of`
    (None when nothing remains unpaid).
    """

    invoice: Invoice
    kind: InterestKind
    as_of: date
    payments: tuple[PaymentInterest, ...]
    outstanding: Decimal
    outstanding_interest: InterestCalculation | None
    overpaid: Decimal

    @property
    def late_payments(self) -> tuple[PaymentInterest, ...]:
        return tuple(payment for payment in self.payments if payment.is_late)

    @property
    def total(self) -> Decimal:
        """Interest on late payments plus interest accrued on the remainder."""
        calculations = [p.calculation for p in self.payments if p.calculation is not None]
        if self.outstanding_interest is not None:
            calculations.append(self.outstanding_interest)
        return sum((c.total for c in calculations), _ZERO)


def compute_interest(
    principal: Decimal,
    due_date: date,
    paid_on: date,
    table: RateTable,
    kind: InterestKind = InterestKind.HOUSEHOLD,
    *,
    settled: bool = True,
) -> InterestCalculation:
    """Statutory interest on `principal` for paying on `paid_on` what was due on `due_date`.

    Pass `settled=False` to compute interest accrued to date `paid_on` on a debt still unpaid.
    Raises `RateUnavailableError` if a day of delay is before the rate table.
    """
    _require_amount(principal, "principal")
    if paid_on <= due_date:
        return InterestCalculation(kind, principal, due_date, paid_on, 0, (), _ZERO, settled)
    rate_periods = table.rate_periods(due_date + timedelta(days=1), paid_on, kind)
    with localcontext() as context:
        context.prec = _PRECISION
        periods, total = _price_periods(principal, rate_periods)
    days_late = (paid_on - due_date).days
    return InterestCalculation(
        kind, principal, due_date, paid_on, days_late, periods, total, settled
    )


def compute_invoice_interest(
    invoice: Invoice,
    payments: Iterable[Payment],
    as_of: date,
    table: RateTable,
    kind: InterestKind = InterestKind.HOUSEHOLD,
) -> InvoiceInterest:
    """Interest on each late-paid portion of an invoice and on what is unpaid on `as_of`.

    Payments are applied oldest first (same-day payments in the order given); a payment
    posted after the due date bears interest on the part of the principal it covers, from
    the day after the due date to the day it was paid. Payments after `as_of` are refused.
    """
    _require_amount(invoice.gross_amount, "invoice gross amount")
    ordered = sorted(payments, key=lambda payment: payment.paid_on)
    for payment in ordered:
        _require_payment(payment, as_of)
    remaining = invoice.gross_amount
    applied: list[PaymentInterest] = []
    for payment in ordered:
        covered = min(payment.amount, remaining)
        remaining -= covered
        applied.append(_apply_payment(payment, covered, invoice, table, kind))
    overpaid = sum((p.payment.amount - p.covered for p in applied), _ZERO)
    outstanding_interest = None
    if remaining > 0:
        outstanding_interest = compute_interest(
            remaining, invoice.due_date, as_of, table, kind, settled=False
        )
    return InvoiceInterest(
        invoice, kind, as_of, tuple(applied), remaining, outstanding_interest, overpaid
    )


# Art. 10 ust. 1 of the act of 8 March 2013: 40 EUR when the amount does not exceed
# 5,000 PLN, 70 EUR when it is above 5,000 and below 50,000 PLN, 100 EUR from 50,000 PLN.
_COMPENSATION_TIERS_EUR = (
    (Decimal("5000"), Decimal("40")),
    (Decimal("50000"), Decimal("70")),
)
_COMPENSATION_TOP_EUR = Decimal("100")


def recovery_compensation_eur(amount: Decimal) -> Decimal:
    """Flat recovery compensation (rekompensata za koszty odzyskiwania należności) in EUR.

    `amount` is the value of the overdue receivable in PLN (the invoice's gross amount).
    Tiers follow art. 10 ust. 1: up to and including 5,000.00 → 40 EUR; above 5,000.00 and
    below 50,000.00 → 70 EUR; 50,000.00 and above → 100 EUR. It is due in commercial
    transactions only, once per receivable, as soon as interest is due.
    """
    _require_amount(amount, "amount")
    if amount <= _COMPENSATION_TIERS_EUR[0][0]:
        return _COMPENSATION_TIERS_EUR[0][1]
    if amount < _COMPENSATION_TIERS_EUR[1][0]:
        return _COMPENSATION_TIERS_EUR[1][1]
    return _COMPENSATION_TOP_EUR


def recovery_compensation_pln(amount: Decimal, eur_pln_rate: Decimal) -> Decimal:
    """The recovery compensation converted to PLN and rounded to grosze.

    `eur_pln_rate` must be the NBP average EUR rate of the last working day of the month
    preceding the month in which the payment became due; the caller supplies it.
    """
    if not isinstance(eur_pln_rate, Decimal) or not eur_pln_rate.is_finite():
        raise TypeError(f"the EUR rate must be a finite Decimal, got {eur_pln_rate!r}")
    if eur_pln_rate <= 0:
        raise ValueError(f"the EUR rate must be positive, got {eur_pln_rate}")
    return to_grosze(recovery_compensation_eur(amount) * eur_pln_rate)


def _price_periods(
    principal: Decimal, rate_periods: Sequence[RatePeriod]
) -> tuple[tuple[InterestPeriod, ...], Decimal]:
    # Exact products; the only inexact step is one division of each by 36,500.
    numerators = [principal * period.annual_rate_percent * period.days for period in rate_periods]
    total = to_grosze(sum(numerators, Decimal(0)) / _PERCENT_YEAR)
    displays = _apportion(numerators, total)
    periods = tuple(
        InterestPeriod(
            start=period.start,
            end=period.end,
            days=period.days,
            annual_rate_percent=period.annual_rate_percent,
            amount_unrounded=numerator / _PERCENT_YEAR,
            amount_display=display,
        )
        for period, numerator, display in zip(rate_periods, numerators, displays, strict=True)
    )
    return periods, total


def _apportion(numerators: Sequence[Decimal], total: Decimal) -> list[Decimal]:
    """Split `total` into grosze across periods by the largest-remainder method.

    Each period gets its exact amount rounded down; the grosze still missing to reach the
    total go one each to the periods with the largest remainders (earlier period on a tie).
    """
    exact_grosze = [numerator / _DAYS_IN_YEAR for numerator in numerators]
    floors = [value.to_integral_value(rounding=ROUND_FLOOR) for value in exact_grosze]
    missing = int(total / GROSZ - sum(floors, Decimal(0)))
    by_remainder = sorted(
        range(len(floors)), key=lambda index: (-(exact_grosze[index] - floors[index]), index)
    )
    # Rounding the sum once can add at most one grosz per period that has a remainder.
    assert 0 <= missing <= len(floors), "largest-remainder apportionment out of range"
    for index in by_remainder[:missing]:
        floors[index] += 1
    return [(grosze * GROSZ).quantize(GROSZ) for grosze in floors]


def _apply_payment(
    payment: Payment,
    covered: Decimal,
    invoice: Invoice,
    table: RateTable,
    kind: InterestKind,
) -> PaymentInterest:
    if covered == 0:
        return PaymentInterest(payment, _ZERO, None)
    calculation = compute_interest(covered, invoice.due_date, payment.paid_on, table, kind)
    return PaymentInterest(payment, covered, calculation)


def _require_payment(payment: Payment, as_of: date) -> None:
    _require_amount(payment.amount, "payment amount")
    if payment.amount == 0:
        raise ValueError(f"a payment of zero on {payment.paid_on.isoformat()}")
    if payment.paid_on > as_of:
        raise ValueError(
            f"payment on {payment.paid_on.isoformat()} is after the as-of date {as_of.isoformat()}"
        )


def _require_amount(amount: Decimal, what: str) -> None:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise TypeError(f"{what} must be a finite Decimal, got {amount!r}")
    if amount < 0:
        raise ValueError(f"{what} must not be negative, got {amount}")
    if not is_whole_grosze(amount):
        raise ValueError(f"{what} must be in whole grosze, got {amount}")

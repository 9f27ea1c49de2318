"""The flat recovery compensation of commercial transactions, converted to PLN: pure rules.

Art. 10 ust. 1 of the act of 8 March 2013 (przeciwdziałanie nadmiernym opóźnieniom w
transakcjach handlowych): a creditor who is owed interest for delay in a commercial
transaction is also due, without any demand, 40, 70 or 100 EUR (see
`interest.recovery_compensation_eur`), converted at the NBP average EUR rate (table A) of
the last working day of the month preceding the month in which the payment became due.
It is due once per transaction (here: per invoice together with its corrections), never
from a household.

The EUR rates are data the operator keeps (like the NBP reference rate table); when the one
a compensation needs is missing, `compensation` refuses with `EurRateMissing` (its Polish
message names the day) rather than use a neighbouring rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ..common.money import format_pln
from .domain import recovery_compensation_eur, recovery_compensation_pln

LEGAL_BASIS = (
    "art. 10 ust. 1 ustawy z dnia 8 marca 2013 r. o przeciwdziałaniu nadmiernym "
    "opóźnieniom w transakcjach handlowych"
)


@dataclass(frozen=True)
class EurRate:
    rate_date: date
    eur_pln: Decimal
    table_number: str | None = None


@dataclass(frozen=True)
class Compensation:
    """The compensation for one invoice, with its working."""

    eur: Decimal
    rate: EurRate
    pln: Decimal

    @property
    def text(self) -> str:
        table = f", tabela {self.rate.table_number}" if self.rate.table_number else ""
        rate = f"{self.rate.eur_pln:.4f}".replace(".", ",")
        return (
            f"rekompensata za koszty odzyskiwania należności: {self.eur:.0f} EUR × {rate} zł "
            f"(średni kurs EUR NBP z {self.rate.rate_date:%d.%m.%Y}{table}) = "
            f"{format_pln(self.pln)}"
        )


class EurRateMissing(LookupError):
    """The NBP EUR rate of `rate_date` is not in the table; `detail` says so in Polish."""

    def __init__(self, rate_date: date, due_date: date) -> None:
        self.rate_date, self.due_date = rate_date, due_date
        self.detail = (
            f"Brak średniego kursu EUR NBP (tabela A) z dnia {rate_date.isoformat()} — "
            f"ostatniego dnia roboczego miesiąca poprzedzającego termin płatności "
            f"{due_date.isoformat()}; bez niego nie można przeliczyć rekompensaty za koszty "
            "odzyskiwania należności. Operator dodaje kurs w tabeli kursów EUR "
            "(POST /operator/eur-rates)."
        )
        super().__init__(self.detail)


def _easter(year: int) -> date:
    """Easter Sunday (Gregorian, the anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def polish_holidays(year: int) -> set[date]:
    """Statutory days off work in Poland (ustawa o dniach wolnych od pracy)."""
    fixed = [(1, 1), (1, 6), (5, 1), (5, 3), (8, 15), (11, 1), (11, 11), (12, 25), (12, 26)]
    if year >= 2025:
        fixed.append((12, 24))
    easter = _easter(year)
    movable = [easter, easter + timedelta(days=1), easter + timedelta(days=49)]
    movable.append(easter + timedelta(days=60))  # Corpus Christi
    return {date(year, m, d) for m, d in fixed} | set(movable)


def rate_date_for(due_date: date) -> date:
    """The last working day of the month before the month of `due_date`."""
    day = due_date.replace(day=1) - timedelta(days=1)
    holidays = polish_holidays(day.year)
    while day.weekday() >= 5 or day in holidays:
        day -= timedelta(days=1)
    return day


def compensation(amount: Decimal, due_date: date, rates: Mapping[date, EurRate]) -> Compensation:
    """The compensation for a receivable of `amount` PLN that was due on `due_date`.

    Raises `EurRateMissing` when `rates` lacks the rate of `rate_date_for(due_date)`.
    """
    rate_day = rate_date_for(due_date)
    rate = rates.get(rate_day)
    if rate is None:
        raise EurRateMissing(rate_day, due_date)
    return Compensation(
        recovery_compensation_eur(amount),
        rate,
        recovery_compensation_pln(amount, rate.eur_pln),
    )

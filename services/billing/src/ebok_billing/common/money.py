"""Money in PLN: rounding to grosze and Polish formatting for customers.

Amounts are always `Decimal`; a float reaching this module is a bug upstream, so it is
refused rather than silently converted.

Balance sign convention used by `describe_balance`: a positive balance is money the
customer owes the utility, a negative balance is an overpayment held for the customer.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

GROSZ = Decimal("0.01")
NBSP = "\u00a0"
CURRENCY = "zł"


def to_grosze(amount: Decimal) -> Decimal:
    """Round to whole grosze, half up (the commercial rounding a customer expects)."""
    _require_decimal(amount)
    rounded = amount.quantize(GROSZ, rounding=ROUND_HALF_UP)
    # -0.004 rounds to -0.00; never let a negative zero reach a customer.
    return rounded if rounded else abs(rounded)


def is_whole_grosze(amount: Decimal) -> bool:
    """True when the amount needs no rounding to be expressed in grosze."""
    _require_decimal(amount)
    return amount == amount.quantize(GROSZ)


def format_pln(amount: Decimal) -> str:
    """Format as Polish money, e.g. ``Decimal("1234.5")`` -> ``"1 234,50 zł"``.

    Thousands are grouped with a no-break space (U+00A0) and the same space separates the
    amount from "zł", so a line never breaks inside an amount.
    """
    # Decimal's own grouping ("-1,234.50"), its separators then made Polish.
    text = f"{to_grosze(amount):,f}".replace(",", NBSP).replace(".", ",")
    return f"{text}{NBSP}{CURRENCY}"


def describe_balance(balance: Decimal) -> str:
    """Describe an account balance in words a customer reads, never as a bare signed number.

    Positive balance: the customer owes ("do zapłaty"); negative: overpayment ("nadpłata").
    """
    rounded = to_grosze(balance)
    if rounded > 0:
        return f"do zapłaty {format_pln(rounded)}"
    if rounded < 0:
        return f"nadpłata {format_pln(-rounded)}"
    return f"saldo {format_pln(rounded)}"


def _require_decimal(amount: Decimal) -> None:
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(amount).__name__}")
    if not amount.is_finite():
        raise ValueError(f"money must be a finite amount, got {amount}")


def amount(value: Decimal) -> str:
    """PLN on the wire (events and answers): a string with two decimals."""
    return f"{value.quantize(GROSZ):f}"


def rate(value: Decimal) -> str:
    """A rate on the wire: two decimals, or three where the third one counts."""
    two = value.quantize(GROSZ)
    return f"{two:f}" if two == value else f"{value.quantize(Decimal('0.001')):f}"

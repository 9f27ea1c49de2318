"""Polish money formatting for customers."""

from decimal import Decimal

import pytest
from ebok_billing.common.money import describe_balance, format_pln, is_whole_grosze, to_grosze

NBSP = "\u00a0"


def pln(text: str) -> str:
    """Expected output written with plain spaces, turned into the no-break spaces we emit."""
    return text.replace(" ", NBSP)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0", "0,00 zł"),
        ("0.5", "0,50 zł"),
        ("999.99", "999,99 zł"),
        ("1234.56", "1 234,56 zł"),
        ("1234567.8", "1 234 567,80 zł"),
        ("999.995", "1 000,00 zł"),
        ("12.345", "12,35 zł"),  # half up, not half even
        ("-1234.5", "-1 234,50 zł"),
        ("-0.004", "0,00 zł"),  # no negative zero
        ("1E+3", "1 000,00 zł"),
        ("-1234567.891", "-1 234 567,89 zł"),
        ("123456789012.3", "123 456 789 012,30 zł"),
        ("-999.999", "-1 000,00 zł"),
    ],
)
def test_format_pln(amount: str, expected: str) -> None:
    assert format_pln(Decimal(amount)) == pln(expected)


def test_format_pln_uses_no_break_spaces() -> None:
    assert format_pln(Decimal("1234.56")) == "1\u00a0234,56\u00a0zł"


@pytest.mark.parametrize(
    ("balance", "words", "amount"),
    [
        ("123.45", "do zapłaty", "123,45 zł"),
        ("1500", "do zapłaty", "1 500,00 zł"),
        ("-10", "nadpłata", "10,00 zł"),
        ("-1234.5", "nadpłata", "1 234,50 zł"),
        ("0", "saldo", "0,00 zł"),
        ("0.004", "saldo", "0,00 zł"),
        ("-0.004", "saldo", "0,00 zł"),
    ],
)
def test_describe_balance(balance: str, words: str, amount: str) -> None:
    # A normal space after the words; no-break spaces only inside the amount.
    assert describe_balance(Decimal(balance)) == f"{words} {pln(amount)}"


def test_describe_balance_never_shows_a_sign() -> None:
    for balance in ("-10", "10", "-0.01"):
        assert "-" not in describe_balance(Decimal(balance))


def test_to_grosze_rounds_half_up() -> None:
    assert to_grosze(Decimal("0.005")) == Decimal("0.01")
    assert to_grosze(Decimal("0.015")) == Decimal("0.02")
    assert to_grosze(Decimal("-0.005")) == Decimal("-0.01")


def test_is_whole_grosze() -> None:
    assert is_whole_grosze(Decimal("10.10"))
    assert is_whole_grosze(Decimal("10"))
    assert not is_whole_grosze(Decimal("10.101"))


def test_float_is_refused() -> None:
    with pytest.raises(TypeError):
        # the wrong type on purpose: format_pln must refuse a float
        format_pln(1.5)  # type: ignore[arg-type]


def test_non_finite_is_refused() -> None:
    with pytest.raises(ValueError):
        format_pln(Decimal("NaN"))

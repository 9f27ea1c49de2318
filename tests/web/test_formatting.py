"""The portal's Polish numbers, money and dates say exactly what Babel's CLDR formatting
says: the filters apply the locale's symbols and month names read once per process instead
of asking Babel to parse its patterns on every value (see formatting.py)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from ebok_web import charts, formatting
from ebok_web.formatting import LOCALE, WARSAW


def _amounts() -> list[Decimal]:
    """Signs, zeros, halves (round half to even), long fractions, thousands and millions."""
    rng = random.Random(12)
    fixed = [
        "0",
        "-0",
        "-0.001",
        "0.005",
        "0.015",
        "0.025",
        "2.675",
        "0.0005",
        "0.0015",
        "999.995",
        "999.994",
        "1000",
        "-1234.5",
        "1234567.891",
        "12345678901234.56",
        "0.05",
        "0.049",
        "10",
        "100.10",
        "7E+3",
        "1.23E-7",
        "-999999.9995",
    ]
    drawn = [Decimal(rng.randint(-(10**9), 10**9)).scaleb(-rng.randint(0, 6)) for _ in range(3000)]
    return [Decimal(v) for v in fixed] + drawn


def test_money_is_what_babel_writes() -> None:
    for amount in _amounts():
        babel = format_currency(amount, "PLN", format="#,##0.00\u00a0¤", locale=LOCALE)
        assert formatting.money(amount) == babel, amount
        assert formatting.money(str(amount)) == babel, amount


def test_numbers_are_what_babel_writes_for_every_precision() -> None:
    for digits in range(5):
        pattern = "#,##0" + ("." + "#" * digits if digits else "")
        for amount in _amounts():
            babel = format_decimal(amount, format=pattern, locale=LOCALE)
            assert formatting.number(amount, digits) == babel, (amount, digits)
    assert formatting.volume("1234.5") == "1\u00a0234,5\u00a0m³"
    assert formatting.counted(5, "faktura", "faktury", "faktur") == "5\u00a0faktur"


def test_what_is_not_a_finite_number_still_goes_to_babel() -> None:
    assert formatting.number("NaN") == format_decimal(Decimal("NaN"), locale=LOCALE)
    assert formatting.money("") == "—" and formatting.number(None) == "—"


def test_dates_and_months_are_what_babel_writes() -> None:
    days = [dt.date(2026, m, d) for m in range(1, 13) for d in (1, 9, 28)] + [dt.date(999, 3, 4)]
    for day in days:
        assert formatting.date(day) == format_date(day, "d MMMM y", locale=LOCALE)
        assert formatting.date(day.isoformat(), "short") == format_date(
            day, "dd.MM.y", locale=LOCALE
        )
        assert formatting.month(day.isoformat()[:7]) == format_date(day, "LLLL y", locale=LOCALE)
        key = day.isoformat()[:7]
        assert charts._short_month(key) == format_date(day, "LLL", locale=LOCALE)
    moments = [dt.datetime(2026, m, 15, 22, 5, tzinfo=dt.UTC) for m in range(1, 13)]
    for moment in moments:
        babel = format_datetime(moment, "d MMMM y, HH:mm", tzinfo=WARSAW, locale=LOCALE)
        assert formatting.datetime(moment) == babel
        assert formatting.datetime(moment.isoformat().replace("+00:00", "Z")) == babel
    assert formatting.date("grudzień") == "—" and formatting.datetime("") == "—"

"""Polish for people: money, numbers, dates and plural forms, by Babel's CLDR data.

Used as Jinja2 filters (see rendering.py). Values come from the gateway as JSON: amounts as
decimal strings ("1234.56"), dates as ISO strings; each filter takes either form.

Why not Babel's ``format_currency``/``format_decimal``/``format_date`` on every call: they
parse their pattern and look the locale's symbols (and, for money, even the currency's
plural name) up each time — 40-150 µs a number, the largest part of rendering a page. The
symbols, month names and patterns are read from Babel's CLDR data once per process here and
applied the way Babel applies them (tests/web/test_formatting.py holds every filter to
Babel's own answer); values Babel treats specially (not finite) still go to Babel.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import format_currency, format_decimal

LOCALE = Locale.parse("pl_PL")
WARSAW = ZoneInfo("Europe/Warsaw")

# The locale's data, read once per process (the same for every customer).
_SYMBOLS = LOCALE.number_symbols["latn"]
_GROUP: str = _SYMBOLS["group"]  # a no-break space
_POINT: str = _SYMBOLS["decimal"]  # a comma
_ZLOTY: str = LOCALE.currency_symbols["PLN"]  # "zł"
_MONTHS_OF: dict[int, str] = dict(LOCALE.months["format"]["wide"])  # "grudnia" (15 grudnia)
_MONTHS: dict[int, str] = dict(LOCALE.months["stand-alone"]["wide"])  # "grudzień"
MONTHS_SHORT: dict[int, str] = dict(LOCALE.months["stand-alone"]["abbreviated"])  # "gru"


def _grouped(amount: Decimal, least: int, most: int) -> str:
    """``amount`` as Babel's pattern ``#,##0.`` with ``least`` to ``most`` fraction digits
    writes it: thousands grouped by the locale's separator, rounded half to even, trailing
    zeros beyond ``least`` dropped, "-" before a negative one."""
    if not amount.is_finite():
        pattern = "#,##0" + ("." + "0" * least + "#" * (most - least) if most else "")
        return format_decimal(amount, format=pattern, locale=LOCALE)
    # Decimal's own format rounds as quantize does (the context's half to even) and groups
    # by thousands in one C call: a few times faster than quantizing and grouping here.
    whole, _, fraction = f"{abs(amount):,.{most}f}".partition(".")
    fraction = fraction.rstrip("0").ljust(least, "0")
    text = whole.replace(",", _GROUP)
    if fraction:
        text += _POINT + fraction
    return "-" + text if amount.is_signed() else text


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):  # the chart's own values: no round trip through str
        return value
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: Any) -> str:
    """ "1 234,56 zł" (a no-break space groups thousands and keeps "zł" on the line)."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    if not amount.is_finite():
        return format_currency(amount, "PLN", format="#,##0.00\u00a0¤", locale=LOCALE)
    return f"{_grouped(amount, 2, 2)}\u00a0{_ZLOTY}"


def number(value: Any, digits: int = 0) -> str:
    """A number in Polish: "1 234", "12,5" (``digits`` after the comma at most)."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    return _grouped(amount, 0, digits)


def volume(value: Any) -> str:
    """Cubic metres: "12,345 m³"."""
    return f"{number(value, 3)}\u00a0m³" if _decimal(value) is not None else "—"


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(WARSAW).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            if len(value) > 10:
                # a string longer than a date parses to a datetime, never to None
                return _as_datetime(value).date()  # type: ignore[union-attr]
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(WARSAW)


def date(value: Any, form: str = "long") -> str:
    """ "15 grudnia 2026" (long), "15.12.2026" (short)."""
    day = _as_date(value)
    if day is None:
        return "—"
    if form == "long":  # CLDR "d MMMM y"
        return f"{day.day} {_MONTHS_OF[day.month]} {day.year}"
    return f"{day.day:02d}.{day.month:02d}.{day.year}"  # CLDR "dd.MM.y"


def datetime(value: Any) -> str:
    """ "15 grudnia 2026, 14:05" in Warsaw time."""
    moment = _as_datetime(value)  # in Warsaw time
    if moment is None:
        return "—"
    # CLDR "d MMMM y, HH:mm"
    return f"{moment.day} {_MONTHS_OF[moment.month]} {moment.year}, {moment:%H:%M}"


def month(value: Any) -> str:
    """ "grudzień 2026" from "2026-12" or a date."""
    if isinstance(value, str) and len(value) == 7:
        value = value + "-01"
    day = _as_date(value)
    if day is None:
        return "—"
    return f"{_MONTHS[day.month]} {day.year}"  # CLDR "LLLL y"


def plural(count: Any, one: str, few: str, many: str) -> str:
    """The Polish form for ``count``: 1 dzień, 2 dni, 5 dni; 1 faktura, 3 faktury, 5 faktur."""
    amount = _decimal(count)
    if amount is None:
        return many
    form = LOCALE.plural_form(amount)
    return {"one": one, "few": few, "many": many}.get(form, few)


def counted(count: Any, one: str, few: str, many: str) -> str:
    """ "3 faktury", "1 dzień", "12 dni"."""
    return f"{number(count)}\u00a0{plural(count, one, few, many)}"


FILTERS = {
    "money": money,
    "number": number,
    "volume": volume,
    "date": date,
    "datetime": datetime,
    "month": month,
    "plural": plural,
    "counted": counted,
}

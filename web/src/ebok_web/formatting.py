"""Polish for people: money, numbers, dates and plural forms, by Babel's CLDR data.

Used as Jinja2 filters (see rendering.py). Values come from the gateway as JSON: amounts as
decimal strings ("1234.56"), dates as ISO strings; each filter takes either form.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

LOCALE = Locale.parse("pl_PL")
WARSAW = ZoneInfo("Europe/Warsaw")


def _decimal(value: Any) -> Decimal | None:
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
    return format_currency(amount, "PLN", format="#,##0.00\u00a0¤", locale=LOCALE)


def number(value: Any, digits: int = 0) -> str:
    """A number in Polish: "1 234", "12,5" (``digits`` after the comma at most)."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(amount, format=pattern, locale=LOCALE)


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
    pattern = "d MMMM y" if form == "long" else "dd.MM.y"
    return format_date(day, pattern, locale=LOCALE)


def datetime(value: Any) -> str:
    """ "15 grudnia 2026, 14:05" in Warsaw time."""
    moment = _as_datetime(value)
    if moment is None:
        return "—"
    return format_datetime(moment, "d MMMM y, HH:mm", tzinfo=WARSAW, locale=LOCALE)


def month(value: Any) -> str:
    """ "grudzień 2026" from "2026-12" or a date."""
    if isinstance(value, str) and len(value) == 7:
        value = value + "-01"
    day = _as_date(value)
    if day is None:
        return "—"
    return format_date(day, "LLLL y", locale=LOCALE)


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

"""What customers type, read the way people write it in Poland: m³ with a decimal comma and
spaces between thousands, dates as 15.03.2026 (or the date field's 2026-03-15). Each reader
returns the API's form of the value, or the Polish message why it cannot be taken."""

from __future__ import annotations

import datetime as dt
import re

from .formatting import WARSAW

VALUE_RE = re.compile(r"^\d+([.,]\d+)?$")
POLISH_DATE_RE = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}$")


def today() -> dt.date:
    return dt.datetime.now(WARSAW).date()  # the services count days in Warsaw


def parse_value(raw: str) -> tuple[str | None, str | None]:
    """A meter register in m³ as the API takes it ("123.456")."""
    text = raw.replace(" ", "").replace("\u00a0", "")
    if not text:
        return None, "Podaj stan wodomierza."
    if text.startswith("-"):
        return None, "Stan wodomierza nie może być ujemny."
    if not VALUE_RE.match(text):
        return None, "Podaj stan wodomierza liczbą, np. 123,456."
    whole, _, fraction = text.replace(",", ".").partition(".")
    if len(fraction) > 3:
        return None, "Podaj stan z dokładnością do 0,001 m³ (najwyżej 3 cyfry po przecinku)."
    if len(whole.lstrip("0")) > 9:
        return None, "Stan wodomierza jest za duży."
    return whole + ("." + fraction if fraction else ""), None


def parse_day(raw: str, what: str) -> tuple[str | None, str | None]:
    """A past or today's date as RRRR-MM-DD; ``what``: whose date, in the genitive
    ("odczytu", "montażu")."""
    text = raw.strip()
    if not text:
        return None, f"Podaj datę {what}."
    try:
        if POLISH_DATE_RE.match(text):
            d, m, y = (int(p) for p in text.split("."))
            day = dt.date(y, m, d)
        else:
            day = dt.date.fromisoformat(text)
    except ValueError:
        return None, f"Podaj datę {what} w formacie DD.MM.RRRR, np. 15.03.2026."
    if day > today():
        return None, f"Data {what} nie może być z przyszłości."
    return day.isoformat(), None

"""Values every area of readings uses: m³ registers, dates, identifiers, photos.

Values are m³ as ``Decimal`` with three decimals (a litre is 0.001 m³); on the wire they are
strings ("123.456"). Dates are the utility's local dates (``clock.today()``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ebok_shared.refusals import invalid

CLIENT_NUMBER_RE = re.compile(r"^\d{6}$")
CONTRACT_NUMBER_RE = re.compile(r"^[A-Z0-9/-]{3,40}$")
METER_SERIAL_RE = re.compile(r"^[A-Z0-9-]{3,30}$")
SEAL_NUMBER_RE = re.compile(r"^[A-Za-z0-9/-]{1,30}$")
_M3_RE = re.compile(r"^\d+([.,]\d+)?$")

THOUSANDTH = Decimal("0.001")


def parse_m3(raw: object, field: str = "value") -> Decimal:
    """A meter register in m³ from the wire ("123.456"; a comma is taken for the point)."""
    if isinstance(raw, bool) or not isinstance(raw, str):
        raise invalid(field, 'podaj stan jako tekst, np. "123.456"')
    text = raw.strip()
    if text.startswith("-"):
        raise invalid(field, "stan wodomierza nie może być ujemny")
    if not _M3_RE.match(text):
        raise invalid(field, "to nie jest liczba (podaj stan w m³, np. 123.456)")
    whole, _, fraction = text.replace(",", ".").partition(".")
    if len(fraction) > 3:
        raise invalid(field, "najwyżej 3 cyfry po przecinku (dokładność do 0,001 m³)")
    if len(whole.lstrip("0")) > 9:
        raise invalid(field, "wartość jest za duża (najwyżej 999999999,999 m³)")
    try:
        return Decimal(whole + "." + (fraction or "0")).quantize(THOUSANDTH)
    except InvalidOperation:  # pragma: no cover - the pattern keeps this out
        raise invalid(field, "to nie jest liczba") from None


def m3(value: Decimal) -> str:
    """m³ on the wire: a string with three decimals."""
    return f"{value.quantize(THOUSANDTH, rounding=ROUND_HALF_UP):f}"


def pl_m3(value: Decimal) -> str:
    """m³ for people: Polish decimal comma."""
    return m3(value).replace(".", ",") + " m³"


def pl_date(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def parse_date(raw: object, field: str) -> dt.date:
    if not isinstance(raw, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raise invalid(field, "nieprawidłowa data (oczekiwano RRRR-MM-DD)")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise invalid(field, "taka data nie istnieje") from None


def add_years(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class Photo:
    """A photo of the meter sent with a reading or a request (type judged from its bytes)."""

    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

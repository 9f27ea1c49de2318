"""The transfer QR code Polish banking apps read: the payload of the Polish Bank Association's
(ZBP) "Rekomendacja dotycząca standardu 2D" (2013-12-03). Pure: text in, text out.

Nine fields separated by ``|``, in this order (lengths are maxima unless fixed):

====  ==================================  ==========================================
 #     field                               here
====  ==================================  ==========================================
 1     recipient's NIP (10 digits)         the utility's NIP
 2     country code (2, "PL")              PL
 3     account number (26 digits, NRB)     the client's individual account
 4     amount in grosze (6 digits, fixed)  zero-padded; 000000 = the payer types it
 5     recipient's name (≤ 20)             the utility's short name
 6     transfer title (≤ 32)               invoice / interest note numbers
 7     direct debit client id (≤ 20)       empty
 8     Invoobill id (≤ 12)                 empty
 9     reserved (≤ 24)                     empty
====  ==================================  ==========================================

The amount field has six digits, so 9 999,99 zł is the most a code can carry; a larger
amount is written as ``000000``, which the recommendation defines as "the payer enters the
amount" (the title and account still identify the debt).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

SEPARATOR = "|"
NAME_MAX = 20
TITLE_MAX = 32
AMOUNT_DIGITS = 6
MAX_GROSZE = 10**AMOUNT_DIGITS - 1
_FIELDS = 9


@dataclass(frozen=True)
class TransferQr:
    """One transfer as a banking app fills it from the code."""

    nip: str
    account: str  # 26 digits, spaces allowed (removed)
    amount: Decimal  # złote; 0 or above MAX_GROSZE grosze: the payer enters it
    recipient: str
    title: str
    country: str = "PL"

    @property
    def amount_fits(self) -> bool:
        return amount_field(self.amount) != "000000"

    def payload(self) -> str:
        account = re.sub(r"\s", "", self.account)
        if not re.fullmatch(r"\d{10}", self.nip):
            raise ValueError("NIP must be 10 digits")
        if not re.fullmatch(r"\d{26}", account):
            raise ValueError("account must be 26 digits (NRB)")
        if not re.fullmatch(r"[A-Z]{2}", self.country):
            raise ValueError("country must be a 2-letter code")
        return SEPARATOR.join(
            [
                self.nip,
                self.country,
                account,
                amount_field(self.amount),
                _text(self.recipient, NAME_MAX),
                _text(self.title, TITLE_MAX),
                "",
                "",
                "",
            ]
        )


def amount_field(amount: Decimal) -> str:
    """Grosze, six digits zero-padded; ``000000`` when the amount does not fit (or is none)."""
    grosze = int((amount * 100).quantize(Decimal("1")))
    if grosze < 0:
        raise ValueError("amount must not be negative")
    return f"{grosze if grosze <= MAX_GROSZE else 0:0{AMOUNT_DIGITS}d}"


def _text(value: str, limit: int) -> str:
    """A field's text: no separator (it would shift every later field), one line, cut to
    the field's length."""
    cleaned = " ".join(value.replace(SEPARATOR, " ").split())
    return cleaned[:limit].rstrip()


def title_for(numbers: Sequence[str], prefix: str = "") -> str:
    """A transfer title naming as many documents as fit in 32 characters; when some do not
    fit, it ends with "+N" (N documents left out), so the title never misleads."""
    title = prefix.strip()
    for i, number in enumerate(numbers):
        candidate = f"{title} {number}".strip()
        left = len(numbers) - i - 1
        # Each step keeps room for the "+N" marker of what may not fit after it.
        if len(candidate) + (len(f" +{left}") if left else 0) > TITLE_MAX:
            return f"{title} +{len(numbers) - i}".strip()
        title = candidate
    return title


def parse(payload: str) -> dict[str, str]:
    """The fields of a payload by name (what a test reads back from a decoded code)."""
    parts = payload.split(SEPARATOR)
    if len(parts) != _FIELDS:
        raise ValueError(f"expected {_FIELDS} fields, got {len(parts)}")
    names = (
        "nip",
        "country",
        "account",
        "amount",
        "recipient",
        "title",
        "direct_debit_id",
        "invoobill_id",
        "reserved",
    )
    return dict(zip(names, parts, strict=True))

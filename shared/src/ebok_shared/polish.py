"""Polish as e-BOK writes it where no template engine helps (e-mails, API notices)."""

from __future__ import annotations

import datetime as dt

# Month names in the genitive, as a date is said: "30 listopada 2026".
MONTHS_GENITIVE = (
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
)


def long_date(day: dt.date) -> str:
    """``2026-11-30`` → ``30 listopada 2026``."""
    return f"{day.day} {MONTHS_GENITIVE[day.month - 1]} {day.year}"

"""The one clock all code reads. Tests move it to check 7-day and 30-day rules without waiting.

Services running as separate processes can be started with ``EBOK_CLOCK_OFFSET_SECONDS``
(only honoured when ``EBOK_ALLOW_CLOCK_OFFSET=true``, never in production) so end-to-end
tests can move their time too.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

UTC = dt.UTC
LOCAL_TZ = ZoneInfo("Europe/Warsaw")


class Clock:
    def __init__(self) -> None:
        self._frozen: dt.datetime | None = None
        self._offset = dt.timedelta()
        if os.environ.get("EBOK_ALLOW_CLOCK_OFFSET") == "true":
            self._offset = dt.timedelta(
                seconds=float(os.environ.get("EBOK_CLOCK_OFFSET_SECONDS", "0"))
            )

    def now(self) -> dt.datetime:
        """Aware UTC datetime."""
        if self._frozen is not None:
            return self._frozen
        return dt.datetime.now(UTC) + self._offset

    def today(self) -> dt.date:
        """The calendar date in the utility's time zone (due dates are local dates)."""
        return self.now().astimezone(LOCAL_TZ).date()

    # -- test controls ------------------------------------------------------------
    def freeze(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("freeze() needs an aware datetime")
        self._frozen = at.astimezone(UTC)

    def advance(self, delta: dt.timedelta) -> None:
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta

    def reset(self) -> None:
        self._frozen = None
        self._offset = dt.timedelta()


clock = Clock()

"""Which services are failing, so that an aggregated view does not wait for them.

A part's timeout and the dashboard's budget bound how long a customer waits for a service
that is down or hangs; under load, though, every part waits in line for a connection too,
and a budget tight enough to cut a failing service short would cut parts that are only
queued. So a service that failed ``threshold`` times in a row (it timed out, could not be
reached or answered 5xx) is taken as down for ``cooldown`` seconds: its parts are
unavailable at once, without a call or a place in the line. After that calls go to it
again; the first answer closes the breaker, another failure opens it for the next
``cooldown``. A service that is only slow under load keeps answering, so it is never taken
as down, and the budget can be generous.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Breaker:
    threshold: int = 5
    cooldown: float = 1.0  # seconds
    _failures: int = 0
    _open_until: float = 0.0

    def is_open(self) -> bool:
        return self._failures >= self.threshold and time.monotonic() < self._open_until

    def answered(self) -> None:
        self._failures = 0

    def failed(self) -> None:
        self._failures += 1
        if self._failures >= self.threshold:
            self._open_until = time.monotonic() + self.cooldown
